//! fastai's RunningBatchNorm from primitives, version 1 (the lesson's, with `dbias` and
//! `step`) and version 2 (`factor`/`offset`, no debiasing).

use autograd::Var;
use layers::Module;
use tensor::Result;

use super::{as_ncs, per_channel};
use crate::running::stats::{CLAMP_BATCH, DEBIAS_STEPS, VAR_FLOOR};
use crate::{NormConfig, NormError, RunningBatchNorm};

/// `torch.lerp(start, end, w) = start + w (end - start)`.
fn lerp(start: &Var, end: &Var, w: f64) -> Result<Var> {
    start.add(&end.sub(start)?.mul_scalar(w)?)
}

/// `t = f(t)` for a one-element buffer.
fn set_scalar(v: &Var, f: impl FnOnce(f64) -> f64) -> Result<()> {
    let old = v.value().to_scalar()?;
    v.update_value(|t| t.fill_(f(old)))
}

/// The running sums as graph nodes: in training, the lerp of the (constant) old buffers
/// toward this batch's sums, written back to the buffers; in eval, the buffers.
/// Also updates `count` and `batch`; returns `mom1` in training.
fn running_sums(layer: &RunningBatchNorm, x3: &Var) -> Result<(Var, Var, Option<f64>)> {
    let old_sums = per_channel(&layer.sums().detach())?;
    let old_sqrs = per_channel(&layer.sqrs().detach())?;
    if !layer.is_training() {
        return Ok((old_sums, old_sqrs, None));
    }
    let (bs, nc) = (x3.shape()[0], x3.shape()[1]);
    if bs < 2 {
        return Err(NormError::BatchTooSmall {
            norm: RunningBatchNorm::NAME,
            batch: bs,
        }
        .into());
    }
    let s = x3.sum(&[0, 2], true)?;
    let ss = x3.mul(x3)?.sum(&[0, 2], true)?;
    let c = (x3.value_ref().numel() / nc) as f64;
    let mom1 = 1.0 - (1.0 - layer.config().momentum) / ((bs - 1) as f64).sqrt();
    let sums = lerp(&old_sums, &s, mom1)?;
    let sqrs = lerp(&old_sqrs, &ss, mom1)?;
    let buffer_shape = layer.sums().shape();
    layer.sums().set_value(sums.value().reshape(&buffer_shape)?);
    layer.sqrs().set_value(sqrs.value().reshape(&buffer_shape)?);
    set_scalar(layer.count(), |k| k + mom1 * (c - k))?;
    set_scalar(layer.batch(), |b| b + bs as f64)?;
    Ok((sums, sqrs, Some(mom1)))
}

/// `vars = sqrs/count - means^2`, clamped at 0.01 while fewer than 20 samples were seen.
fn variance(layer: &RunningBatchNorm, means: &Var, sqrs: &Var, count: &Var) -> Result<Var> {
    let vars = sqrs.div(count)?.sub(&means.mul(means)?)?;
    if layer.batch().value().to_scalar()? < CLAMP_BATCH {
        vars.clamp(Some(VAR_FLOOR), None)
    } else {
        Ok(vars)
    }
}

/// Version 1, the lesson's:
///
/// ```text
/// if training: s = x.sum((0,2,3)); ss = (x*x).sum((0,2,3)); c = x.numel()/C
///              mom1 = 1 - (1 - mom)/sqrt(bs - 1)
///              sums.lerp_(s, mom1); sqrs.lerp_(ss, mom1); count.lerp_(c, mom1)
///              dbias = dbias*(1 - mom1) + mom1; batch += bs; step += 1
/// sums, sqrs, c = sums, sqrs, count
/// if step < 100: sums, sqrs, c = sums/dbias, sqrs/dbias, c/dbias
/// means = sums/c; vars = sqrs/c - means*means
/// if batch < 20: vars.clamp_min_(0.01)
/// (x - means) / (vars + eps).sqrt() * mults + adds
/// ```
pub fn running_batch_norm(layer: &RunningBatchNorm, x: &Var) -> Result<Var> {
    let (x3, shape) = as_ncs(x)?;
    let NormConfig { eps, .. } = layer.config();
    let (mut sums, mut sqrs, mom1) = running_sums(layer, &x3)?;
    if let Some(mom1) = mom1 {
        set_scalar(layer.dbias(), |d| d * (1.0 - mom1) + mom1)?;
        set_scalar(layer.step(), |s| s + 1.0)?;
    }
    let mut count = layer.count().detach();
    if layer.step().value().to_scalar()? < DEBIAS_STEPS {
        let dbias = layer.dbias().detach();
        sums = sums.div(&dbias)?;
        sqrs = sqrs.div(&dbias)?;
        count = count.div(&dbias)?;
    }
    let means = sums.div(&count)?;
    let vars = variance(layer, &means, &sqrs, &count)?;
    x3.sub(&means)?
        .div(&vars.add_scalar(eps)?.sqrt()?)?
        .mul(&per_channel(layer.mults())?)?
        .add(&per_channel(layer.adds())?)?
        .reshape(&shape)
}

/// Version 2 (later in the course), which drops `dbias` and `step` (it leaves those
/// buffers alone):
///
/// ```text
/// if training: the same updates of sums, sqrs, count and batch
/// means = sums/count; vars = sqrs/count - means*means
/// if batch < 20: vars.clamp_min_(0.01)
/// factor = mults / (vars + eps).sqrt(); offset = adds - means*factor
/// x*factor + offset
/// ```
///
/// (fastai caches `factor` and `offset` at the last training step for eval; this
/// recomputes them from the buffers, which is the same while the parameters are unchanged.)
pub fn running_batch_norm_v2(layer: &RunningBatchNorm, x: &Var) -> Result<Var> {
    let (x3, shape) = as_ncs(x)?;
    let NormConfig { eps, .. } = layer.config();
    let (sums, sqrs, _) = running_sums(layer, &x3)?;
    let count = layer.count().detach();
    let means = sums.div(&count)?;
    let vars = variance(layer, &means, &sqrs, &count)?;
    let factor = per_channel(layer.mults())?.div(&vars.add_scalar(eps)?.sqrt()?)?;
    let offset = per_channel(layer.adds())?.sub(&means.mul(&factor)?)?;
    x3.mul(&factor)?.add(&offset)?.reshape(&shape)
}
