//! The lesson's LayerNorm from primitives (with `+ eps`, not the seed's `- eps`).

use autograd::Var;
use tensor::Result;

use super::as_ncs;
use crate::LayerNorm;

/// ```text
/// m = x.mean((1,2,3)); v = x.var((1,2,3))   # unbiased, with gradient
/// (x - m) / (v + eps).sqrt() * mult + add
/// ```
pub fn layer_norm(layer: &LayerNorm, x: &Var) -> Result<Var> {
    let (x3, shape) = as_ncs(x)?;
    let m = x3.mean(&[1, 2], true)?;
    let v = x3.var(&[1, 2], true, true)?;
    let xn = x3.sub(&m)?.div(&v.add_scalar(layer.eps())?.sqrt()?)?;
    xn.mul(layer.mult())?.add(layer.add())?.reshape(&shape)
}
