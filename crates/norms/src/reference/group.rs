//! PyTorch's GroupNorm from primitives.

use autograd::Var;
use tensor::Result;

use super::{as_ncs, per_channel};
use crate::GroupNorm;

/// ```text
/// xg = x.view(N, G, -1)
/// m = xg.mean(2); v = xg.var(2, unbiased=False)   # with gradient
/// ((xg - m) / (v + eps).sqrt()).view(N, C, H, W) * weight[:, None, None] + bias[:, None, None]   # if affine
/// ```
pub fn group_norm(layer: &GroupNorm, x: &Var) -> Result<Var> {
    let (x3, shape) = as_ncs(x)?;
    let (n, c, s) = (shape[0], shape[1], x3.shape()[2]);
    let g = layer.groups();
    let xg = x3.reshape(&[n, g, c / g * s])?;
    let m = xg.mean(&[2], true)?;
    let v = xg.var(&[2], false, true)?;
    let xn = xg.sub(&m)?.div(&v.add_scalar(layer.eps())?.sqrt()?)?;
    let xn = xn.reshape(&[n, c, s])?;
    let y = match (layer.weight(), layer.bias()) {
        (Some(w), Some(b)) => xn.mul(&per_channel(w)?)?.add(&per_channel(b)?)?,
        _ => xn,
    };
    y.reshape(&shape)
}
