//! The lesson's InstanceNorm from primitives.

use autograd::Var;
use tensor::Result;

use super::{as_ncs, per_channel};
use crate::InstanceNorm;

/// ```text
/// m = x.mean((2,3)); v = x.var((2,3))   # unbiased, with gradient
/// (x - m) / (v + eps).sqrt() * mults + adds
/// ```
pub fn instance_norm(layer: &InstanceNorm, x: &Var) -> Result<Var> {
    let (x3, shape) = as_ncs(x)?;
    let m = x3.mean(&[2], true)?;
    let v = x3.var(&[2], true, true)?;
    let xn = x3.sub(&m)?.div(&v.add_scalar(layer.eps())?.sqrt()?)?;
    xn.mul(&per_channel(layer.mults())?)?
        .add(&per_channel(layer.adds())?)?
        .reshape(&shape)
}
