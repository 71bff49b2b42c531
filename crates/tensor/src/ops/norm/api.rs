//! The public `Tensor` methods of the normalisation family: validate, then dispatch once.

use super::{NormForward, NormGeometry, NormGrads, NormPlan, NormStats, StatGrad, Variance};
use crate::{Result, Tensor, TensorError};

fn check_eps(op: &'static str, eps: f64) -> Result<()> {
    if eps.is_finite() && eps >= 0.0 {
        Ok(())
    } else {
        Err(TensorError::InvalidArgument {
            op,
            reason: format!("eps must be finite and >= 0, got {eps}"),
        })
    }
}

/// A per-group tensor (statistics, masks) must match `x` and hold one value per group.
fn check_per_group(
    op: &'static str,
    g: &NormGeometry,
    x: &Tensor,
    t: &Tensor,
    what: &str,
) -> Result<()> {
    x.check_compatible(op, t)?;
    if t.numel() != g.stat_count() {
        return Err(TensorError::InvalidShape {
            op,
            reason: format!(
                "{what} needs {} values (one per statistic group, shape {:?}), got shape {:?}",
                g.stat_count(),
                g.stat_shape(),
                t.shape()
            ),
        });
    }
    Ok(())
}

/// `scale` and `shift` share one shape holding `C` values or one.
fn check_affine(
    op: &'static str,
    g: &NormGeometry,
    x: &Tensor,
    scale: &Tensor,
    shift: &Tensor,
) -> Result<()> {
    x.check_compatible(op, scale)?;
    scale.check_same_shape(op, shift)?;
    let n = scale.numel();
    if n != g.channels() && n != 1 {
        return Err(TensorError::InvalidShape {
            op,
            reason: format!(
                "scale/shift need {} values (one per channel) or 1, got shape {:?}",
                g.channels(),
                scale.shape()
            ),
        });
    }
    Ok(())
}

impl Tensor {
    /// Mean, variance and `1/sqrt(var + eps)` of every statistic group of `self`
    /// (`[N, C, ...]`), shaped `[C]` or `[N, G]`.
    pub fn norm_stats(
        &self,
        plan: impl Into<NormPlan>,
        variance: Variance,
        eps: f64,
    ) -> Result<NormStats> {
        let g = NormGeometry::new("norm_stats", self.shape(), plan)?;
        check_eps("norm_stats", eps)?;
        self.backend().norm_stats(&g, self, variance, eps)
    }

    /// `(sum x, sum x^2)` over every statistic group of `self`, shaped `[C]` or `[N, G]`.
    pub fn norm_power_sums(&self, plan: impl Into<NormPlan>) -> Result<(Tensor, Tensor)> {
        let g = NormGeometry::new("norm_power_sums", self.shape(), plan)?;
        self.backend().norm_power_sums(&g, self)
    }

    /// `y = (x - mean) * invstd * scale + shift` with given per-group statistics (any shape
    /// with one value per group) and a per-channel or one-element affine.
    pub fn norm_apply(
        &self,
        plan: impl Into<NormPlan>,
        mean: &Tensor,
        invstd: &Tensor,
        scale: &Tensor,
        shift: &Tensor,
    ) -> Result<Tensor> {
        const OP: &str = "norm_apply";
        let g = NormGeometry::new(OP, self.shape(), plan)?;
        check_per_group(OP, &g, self, mean, "mean")?;
        check_per_group(OP, &g, self, invstd, "invstd")?;
        check_affine(OP, &g, self, scale, shift)?;
        self.backend()
            .norm_apply(&g, self, mean, invstd, scale, shift)
    }

    /// Statistics of `self` then [`Tensor::norm_apply`] with them: the fused forward pass of
    /// a normalisation by the batch's own statistics.
    pub fn norm_forward(
        &self,
        plan: impl Into<NormPlan>,
        scale: &Tensor,
        shift: &Tensor,
        variance: Variance,
        eps: f64,
    ) -> Result<NormForward> {
        const OP: &str = "norm_forward";
        let g = NormGeometry::new(OP, self.shape(), plan)?;
        check_eps(OP, eps)?;
        check_affine(OP, &g, self, scale, shift)?;
        let backend = self.backend();
        let stats = backend.norm_stats(&g, self, variance, eps)?;
        let y = backend.norm_apply(&g, self, &stats.mean, &stats.invstd, scale, shift)?;
        Ok(NormForward { y, stats })
    }

    /// Gradients of [`Tensor::norm_apply`] (`self` is its input `x`) given the output
    /// gradient `dy`; `grad` says whether and how `dx` flows through the statistics.
    pub fn norm_backward(
        &self,
        dy: &Tensor,
        plan: impl Into<NormPlan>,
        mean: &Tensor,
        invstd: &Tensor,
        scale: &Tensor,
        grad: StatGrad<'_>,
    ) -> Result<NormGrads> {
        const OP: &str = "norm_backward";
        let g = NormGeometry::new(OP, self.shape(), plan)?;
        self.check_same_shape(OP, dy)?;
        check_per_group(OP, &g, self, mean, "mean")?;
        check_per_group(OP, &g, self, invstd, "invstd")?;
        check_affine(OP, &g, self, scale, scale)?;
        if let StatGrad::Running { share, var_live } = grad {
            if !share.is_finite() {
                return Err(TensorError::InvalidArgument {
                    op: OP,
                    reason: format!("the running share must be finite, got {share}"),
                });
            }
            if let Some(live) = var_live {
                check_per_group(OP, &g, self, live, "var_live")?;
            }
        }
        self.backend()
            .norm_backward(&g, self, dy, mean, invstd, scale, grad)
    }
}
