//! Reductions. With `g` the output gradient broadcast back over the reduced axes and `n`
//! the number of reduced elements: `d sum = g`, `d mean = g/n`,
//! `d var = g 2 (x - mean)/(n - 1)` (unbiased) or `/n` (biased),
//! `d max = g [x == max] / #ties` (likewise min).

use tensor::shape::{normalize_axes, reduced_shape};
use tensor::{ReduceOp, Result};

use crate::Var;

impl Var {
    /// Reduces over `axes` (negative from the end; empty means all).
    pub fn reduce(&self, op: ReduceOp, axes: &[isize], keepdim: bool) -> Result<Var> {
        let x = self.value();
        let out = x.reduce(op, axes, keepdim)?;
        let axes_u = normalize_axes("reduce", axes, x.rank())?;
        let kept_shape = reduced_shape(x.shape(), &axes_u, true);
        let n: usize = axes_u.iter().map(|&a| x.shape()[a]).product();
        let out_kept = out.reshape(&kept_shape)?;
        let axes_i: Vec<isize> = axes_u.iter().map(|&a| a as isize).collect();
        Ok(Var::from_fn(out, &[self], "reduce", move |g| {
            let g = g.reshape(&kept_shape)?;
            let gx = match op {
                ReduceOp::Sum => g.broadcast_to(x.shape())?,
                ReduceOp::Mean => g.mul_scalar(1.0 / n as f64)?.broadcast_to(x.shape())?,
                ReduceOp::Var { unbiased } => {
                    let denom = if unbiased { n as f64 - 1.0 } else { n as f64 };
                    let mean = x.mean(&axes_i, true)?;
                    x.sub(&mean)?.mul(&g)?.mul_scalar(2.0 / denom)?
                }
                ReduceOp::Max | ReduceOp::Min => {
                    let mask = x.eq(&out_kept)?;
                    let ties = mask.sum(&axes_i, true)?;
                    mask.mul(&g.div(&ties)?)?
                }
            };
            Ok(vec![Some(gx)])
        }))
    }

    /// Sum over `axes`.
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Var> {
        self.reduce(ReduceOp::Sum, axes, keepdim)
    }
    /// Sum of all elements.
    pub fn sum_all(&self) -> Result<Var> {
        self.sum(&[], false)
    }
    /// Mean over `axes`.
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Var> {
        self.reduce(ReduceOp::Mean, axes, keepdim)
    }
    /// Mean of all elements.
    pub fn mean_all(&self) -> Result<Var> {
        self.mean(&[], false)
    }
    /// Variance over `axes`, unbiased or biased.
    pub fn var(&self, axes: &[isize], unbiased: bool, keepdim: bool) -> Result<Var> {
        self.reduce(ReduceOp::Var { unbiased }, axes, keepdim)
    }
    /// Maximum over `axes`.
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Result<Var> {
        self.reduce(ReduceOp::Max, axes, keepdim)
    }
    /// Minimum over `axes`.
    pub fn min(&self, axes: &[isize], keepdim: bool) -> Result<Var> {
        self.reduce(ReduceOp::Min, axes, keepdim)
    }
}
