//! PyTorch's BatchNorm2d from primitives: biased batch variance with gradient, running
//! variance from the unbiased one.

use autograd::{no_grad, Var};
use layers::Module;
use tensor::Result;

use super::{as_ncs, per_channel};
use crate::{BatchNorm2d, NormConfig, NormError};

/// ```text
/// if training: m = x.mean((0,2,3)); v = x.var((0,2,3), unbiased=False)
///              with no_grad: running_mean.lerp_(m, momentum)
///                            running_var.lerp_(x.var((0,2,3), unbiased=True), momentum)
///                            num_batches_tracked += 1
/// else:        m, v = running_mean, running_var
/// (x - m) / (v + eps).sqrt() * weight + bias
/// ```
pub fn batch_norm_2d(layer: &BatchNorm2d, x: &Var) -> Result<Var> {
    let (x3, shape) = as_ncs(x)?;
    let NormConfig { eps, momentum } = layer.config();
    let (m, v) = if layer.is_training() {
        if shape[0] * x3.shape()[2] < 2 {
            return Err(NormError::TooFewValues {
                norm: BatchNorm2d::NAME,
                shape,
            }
            .into());
        }
        let m = x3.mean(&[0, 2], true)?;
        let v = x3.var(&[0, 2], false, true)?;
        no_grad(|| -> Result<()> {
            let c = [layer.channels()];
            let unbiased = x3.value().var(&[0, 2], true, true)?.reshape(&c)?;
            layer
                .running_mean()
                .update_value(|t| t.lerp_(&m.value().reshape(&c)?, momentum))?;
            layer
                .running_var()
                .update_value(|t| t.lerp_(&unbiased, momentum))?;
            layer.num_batches_tracked().update_value(|t| {
                let n = t.to_scalar()?;
                t.fill_(n + 1.0)
            })
        })?;
        (m, v)
    } else {
        (
            per_channel(&layer.running_mean().detach())?,
            per_channel(&layer.running_var().detach())?,
        )
    };
    let xn = x3.sub(&m)?.div(&v.add_scalar(eps)?.sqrt()?)?;
    xn.mul(&per_channel(layer.weight())?)?
        .add(&per_channel(layer.bias())?)?
        .reshape(&shape)
}
