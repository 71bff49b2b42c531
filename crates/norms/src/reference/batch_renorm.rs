//! Batch Renormalization from primitives (Ioffe 2017, Algorithm 1), as the paper writes it.

use autograd::{no_grad, Var};
use layers::Module;
use tensor::Result;

use super::{as_ncs, per_channel};
use crate::{BatchRenorm, NormError};

/// ```text
/// if training:
///     mu = x.mean((0,2,3)); sigma = sqrt(x.var((0,2,3), unbiased=False) + eps)  # with gradient
///     r = clip(sigma.detach() / running_std, 1/rmax, rmax)                      # constants
///     d = clip((mu.detach() - running_mean) / running_std, -dmax, dmax)
///     y = ((x - mu) / sigma * r + d) * weight + bias
///     with no_grad: running_mean += alpha (mu - running_mean)
///                   running_std += alpha (sigma - running_std); num_batches_tracked += 1
/// else:
///     y = (x - running_mean) / running_std * weight + bias
/// ```
pub fn batch_renorm(layer: &BatchRenorm, x: &Var) -> Result<Var> {
    let (x3, shape) = as_ncs(x)?;
    let c = [layer.channels()];
    let (w, b) = (per_channel(layer.weight())?, per_channel(layer.bias())?);
    let rm = layer.running_mean().detach();
    let rs = layer.running_std().detach();
    if !layer.is_training() {
        let xn = x3.sub(&per_channel(&rm)?)?.div(&per_channel(&rs)?)?;
        return xn.mul(&w)?.add(&b)?.reshape(&shape);
    }
    if shape[0] * x3.shape()[2] < 2 {
        return Err(NormError::TooFewValues {
            norm: BatchRenorm::NAME,
            shape,
        }
        .into());
    }
    let (rmax, dmax) = layer.clip();
    let mu = x3.mean(&[0, 2], true)?;
    let sigma = x3
        .var(&[0, 2], false, true)?
        .add_scalar(layer.eps())?
        .sqrt()?;
    let (mu_c, sigma_c) = (mu.value().reshape(&c)?, sigma.value().reshape(&c)?);
    let (rm_t, rs_t) = (rm.value(), rs.value());
    let r = sigma_c.div(&rs_t)?.clamp(Some(1.0 / rmax), Some(rmax))?;
    let d = mu_c
        .sub(&rm_t)?
        .div(&rs_t)?
        .clamp(Some(-dmax), Some(dmax))?;
    let (r, d) = (
        per_channel(&Var::constant(r))?,
        per_channel(&Var::constant(d))?,
    );
    let xhat = x3.sub(&mu)?.div(&sigma)?.mul(&r)?.add(&d)?;
    let alpha = layer.momentum();
    no_grad(|| -> Result<()> {
        layer
            .running_mean()
            .update_value(|t| t.lerp_(&mu_c, alpha))?;
        layer
            .running_std()
            .update_value(|t| t.lerp_(&sigma_c, alpha))?;
        layer.num_batches_tracked().update_value(|t| {
            let n = t.to_scalar()?;
            t.fill_(n + 1.0)
        })
    })?;
    xhat.mul(&w)?.add(&b)?.reshape(&shape)
}
