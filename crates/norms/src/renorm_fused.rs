//! Batch Renormalization's training step as one fused autograd node, built on the batch
//! norm kernels (Ioffe 2017, "Batch Renormalization: Towards Reducing Minibatch Dependence
//! in Batch-Normalized Models", Algorithm 1).
//!
//! # Forward
//!
//! Per channel `c` over every axis but 1 (`m` values), with the running mean `mu_r` and
//! running standard deviation `sigma_r` from *before* the step:
//!
//! ```text
//! mu      = mean x                      sigma = sqrt(mean (x - mu)^2 + eps)   (biased)
//! r       = clip(sigma / sigma_r, 1/rmax, rmax)
//! d       = clip((mu - mu_r) / sigma_r, -dmax, dmax)
//! xhat    = (x - mu) / sigma
//! y       = weight (xhat r + d) + bias
//! ```
//!
//! `r` and `d` are treated as constants in the backward pass (the paper's `stop_gradient`),
//! so `y = (weight r) xhat + (bias + weight d)`: a batch normalisation (biased variance,
//! gradient through `mu` and `sigma`) with the *effective* scale `a = weight r` and shift
//! `b = bias + weight d`, which is what the forward computes with
//! [`tensor::Tensor::norm_apply`].
//!
//! # Backward
//!
//! For the input, `r`, `d` constant, `y` depends on `x` only through `a xhat + b`, so `dx`
//! is batch norm's with scale `a` (see [`tensor::Tensor::norm_backward`],
//! `StatGrad::Batch(Biased)`): with `g = dy a`,
//! `dx = (1/sigma) (g - mean_c g - xhat mean_c (g xhat))`.
//!
//! For the parameters, `dy/dweight_c = r_c xhat + d_c` and `dy/dbias_c = 1`, so
//! `dweight_c = sum dy (r_c xhat + d_c) = r_c sum(dy xhat) + d_c sum(dy)` and
//! `dbias_c = sum dy`. The batch-norm backward returns exactly `sum(dy xhat)` (its
//! `dscale`) and `sum(dy)` (its `dshift`), so both follow from it with two `[C]`-sized
//! products.
//!
//! With `rmax = 1`, `dmax = 0`: `r = 1`, `d = 0`, `a = weight`, `b = bias`, and the step is
//! exactly batch normalisation in training (`tests/batch_renorm.rs` checks both against
//! PyTorch's `BatchNorm2d`).

use autograd::Var;
use tensor::{NormLayout, Result, StatGrad, Tensor, Variance};

/// What one training step of Batch Renormalization computed.
#[derive(Debug)]
pub struct RenormStep {
    /// The output (an autograd node with inputs `[x, weight, bias]`).
    pub y: Var,
    /// The batch mean `mu`, `[C]`.
    pub mean: Tensor,
    /// The batch standard deviation `sigma = sqrt(var_biased + eps)`, `[C]`.
    pub std: Tensor,
    /// The clipped correction `r`, `[C]`.
    pub r: Tensor,
    /// The clipped correction `d`, `[C]`.
    pub d: Tensor,
}

/// One training step (see the module documentation) of an `[N, C, ...]` input with
/// per-channel `weight`, `bias`, `running_mean`, `running_std` (`[C]` each); the caller has
/// checked the shapes and `rmax >= 1`, `dmax >= 0`. Buffers are not updated here.
pub fn batch_renorm_train(
    x: &Var,
    (weight, bias): (&Var, &Var),
    (running_mean, running_std): (&Tensor, &Tensor),
    (rmax, dmax): (f64, f64),
    eps: f64,
) -> Result<RenormStep> {
    let xv = x.value();
    let layout = NormLayout::PerChannel;
    let stats = xv.norm_stats(layout, Variance::Biased, eps)?;
    let std = stats.invstd.recip()?;
    let r = std.div(running_std)?.clamp(Some(1.0 / rmax), Some(rmax))?;
    let d = stats
        .mean
        .sub(running_mean)?
        .div(running_std)?
        .clamp(Some(-dmax), Some(dmax))?;
    let w = weight.value();
    let scale = w.mul(&r)?;
    let shift = bias.value().add(&w.mul(&d)?)?;
    let y = xv.norm_apply(layout, &stats.mean, &stats.invstd, &scale, &shift)?;
    let need = [
        x.requires_grad(),
        weight.requires_grad(),
        bias.requires_grad(),
    ];
    let (mean, invstd) = (stats.mean.clone(), stats.invstd.clone());
    let (rc, dc) = (r.clone(), d.clone());
    let y = Var::from_fn(y, &[x, weight, bias], "batch_renorm", move |dy| {
        let g = xv.norm_backward(
            dy,
            layout,
            &mean,
            &invstd,
            &scale,
            StatGrad::Batch(Variance::Biased),
        )?;
        let dweight = if need[1] {
            Some(g.dscale.mul(&rc)?.add(&g.dshift.mul(&dc)?)?)
        } else {
            None
        };
        Ok(vec![
            need[0].then_some(g.dx),
            dweight,
            need[2].then_some(g.dshift),
        ])
    });
    Ok(RenormStep {
        y,
        mean: stats.mean,
        std,
        r,
        d,
    })
}
