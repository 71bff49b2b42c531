//! PyTorch's BatchNorm2d from primitives: biased batch variance with gradient, running
//! variance from the unbiased one, every option of [`crate::BatchNormOptions`].

use autograd::{no_grad, Var};
use layers::Module;
use tensor::Result;

use super::{as_ncs, per_channel};
use crate::{BatchNorm2d, NormError};

/// ```text
/// if training or not tracking: m = x.mean((0,2,3)); v = x.var((0,2,3), unbiased=False)
///     if training and tracking, with no_grad:
///         num_batches_tracked += 1
///         f = momentum if momentum is not None else 1 / num_batches_tracked
///         running_mean.lerp_(m, f); running_var.lerp_(x.var((0,2,3), unbiased=True), f)
/// else: m, v = running_mean, running_var
/// y = (x - m) / (v + eps).sqrt();  if affine: y = y * weight + bias
/// ```
pub fn batch_norm_2d(layer: &BatchNorm2d, x: &Var) -> Result<Var> {
    let (x3, shape) = as_ncs(x)?;
    let opts = layer.options();
    let running = match (
        layer.running_mean(),
        layer.running_var(),
        layer.num_batches_tracked(),
    ) {
        (Some(m), Some(v), Some(n)) => Some((m, v, n)),
        _ => None,
    };
    let (m, v) = match running {
        Some((rm, rv, _)) if !layer.is_training() => {
            (per_channel(&rm.detach())?, per_channel(&rv.detach())?)
        }
        _ => {
            if shape[0] * x3.shape()[2] < 2 {
                return Err(NormError::TooFewValues {
                    norm: BatchNorm2d::NAME,
                    shape,
                }
                .into());
            }
            let m = x3.mean(&[0, 2], true)?;
            let v = x3.var(&[0, 2], false, true)?;
            if let (Some((rm, rv, n)), true) = (running, layer.is_training()) {
                no_grad(|| -> Result<()> {
                    let c = [layer.channels()];
                    let count = n.value().to_scalar()? + 1.0;
                    n.update_value(|t| t.fill_(count))?;
                    let f = opts.factor(count);
                    let unbiased = x3.value().var(&[0, 2], true, true)?.reshape(&c)?;
                    rm.update_value(|t| t.lerp_(&m.value().reshape(&c)?, f))?;
                    rv.update_value(|t| t.lerp_(&unbiased, f))
                })?;
            }
            (m, v)
        }
    };
    let xn = x3.sub(&m)?.div(&v.add_scalar(opts.eps)?.sqrt()?)?;
    let y = match (layer.weight(), layer.bias()) {
        (Some(w), Some(b)) => xn.mul(&per_channel(w)?)?.add(&per_channel(b)?)?,
        _ => xn,
    };
    y.reshape(&shape)
}
