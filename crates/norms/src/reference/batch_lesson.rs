//! The lesson's BatchNorm from primitives: statistics under `no_grad`.

use autograd::{no_grad, Var};
use layers::Module;
use tensor::Result;

use super::{as_ncs, per_channel};
use crate::{BatchNorm, NormConfig};

/// ```text
/// if training: with no_grad: m = x.mean((0,2,3)); v = x.var((0,2,3))   # unbiased
///              means.lerp_(m, mom); vars.lerp_(v, mom)
/// else:        m, v = means, vars
/// (x - m) / (v + eps).sqrt() * mults + adds
/// ```
pub fn batch_norm(layer: &BatchNorm, x: &Var) -> Result<Var> {
    let (x3, shape) = as_ncs(x)?;
    let NormConfig { eps, momentum } = layer.config();
    let (m, v) = if layer.is_training() {
        let (m, v) = no_grad(|| -> Result<(Var, Var)> {
            Ok((x3.mean(&[0, 2], true)?, x3.var(&[0, 2], true, true)?))
        })?;
        let buffer_shape = layer.means().shape();
        layer
            .means()
            .update_value(|t| t.lerp_(&m.value().reshape(&buffer_shape)?, momentum))?;
        layer
            .vars()
            .update_value(|t| t.lerp_(&v.value().reshape(&buffer_shape)?, momentum))?;
        (m, v)
    } else {
        (
            per_channel(&layer.means().detach())?,
            per_channel(&layer.vars().detach())?,
        )
    };
    let xn = x3.sub(&m)?.div(&v.add_scalar(eps)?.sqrt()?)?;
    xn.mul(&per_channel(layer.mults())?)?
        .add(&per_channel(layer.adds())?)?
        .reshape(&shape)
}
