//! The forward passes shared by the PyTorch-style layers with [`BatchNormOptions`]
//! ([`crate::BatchNorm1d`], [`crate::BatchNorm2d`], [`crate::InstanceNorm2d`]): optional
//! affine, optional running statistics, PyTorch's momentum rule. Everything dispatches
//! through `tensor`'s fused norm kernels (see [`crate::fused`]), so every device that has
//! those kernels runs these layers.

use autograd::Var;
use tensor::{NormInput, NormLayout, Result, Tensor, Variance};

use crate::fused::{normalize_batch, normalize_with, StatFlow};
use crate::{BatchNormOptions, NormError};

/// The running-statistics buffers of a layer that tracks them.
#[derive(Clone, Copy)]
pub(crate) struct Running<'a> {
    pub mean: &'a Var,
    pub var: &'a Var,
    pub count: &'a Var,
}

impl<'a> Running<'a> {
    /// The three buffers when all are present.
    pub fn of(mean: &'a Option<Var>, var: &'a Option<Var>, count: &'a Option<Var>) -> Option<Self> {
        Some(Running {
            mean: mean.as_ref()?,
            var: var.as_ref()?,
            count: count.as_ref()?,
        })
    }

    /// `num_batches_tracked += 1`, then `running = lerp(running, batch, f)` with PyTorch's
    /// factor `f` ([`BatchNormOptions::factor`] of the new count).
    fn update(&self, opts: &BatchNormOptions, mean: &Tensor, var_unbiased: &Tensor) -> Result<()> {
        let count = self.count.update_value(|t| -> Result<f64> {
            *t = t.add_scalar(1.0)?;
            t.to_scalar()
        })?;
        let f = opts.factor(count);
        self.mean.update_value(|t| t.lerp_(mean, f))?;
        self.var.update_value(|t| t.lerp_(var_unbiased, f))
    }
}

/// The scale and shift of a fused normalisation: the parameters where the layer has them,
/// else constants (1 and 0) of the other's shape, or of one element.
pub(crate) fn scale_shift(x: &Var, weight: Option<&Var>, bias: Option<&Var>) -> Result<(Var, Var)> {
    let like = |v: &Var, value: f64| -> Result<Var> {
        let t = v.value();
        Ok(Var::constant(Tensor::full(
            t.shape(),
            value,
            t.dtype(),
            t.device(),
        )?))
    };
    Ok(match (weight, bias) {
        (Some(w), Some(b)) => (w.clone(), b.clone()),
        (Some(w), None) => (w.clone(), like(w, 0.0)?),
        (None, Some(b)) => (like(b, 1.0)?, b.clone()),
        (None, None) => {
            let t = x.value();
            let one = |v| Tensor::full(&[1], v, t.dtype(), t.device()).map(Var::constant);
            (one(1.0)?, one(0.0)?)
        }
    })
}

/// `1 / sqrt(running_var + eps)`.
fn running_invstd(var: &Var, eps: f64) -> Result<Tensor> {
    var.value().add_scalar(eps)?.rsqrt()
}

/// PyTorch's `F.batch_norm` for an `[N, C, ...]` input whose shape the caller has checked:
/// batch statistics (biased variance, gradient through them) in training or when the layer
/// has no buffers, which training then updates with the unbiased variance; the running
/// statistics (constants) otherwise. Batch statistics need more than one value per channel.
/// With a ReLU `input`, `x` is the pre-activation and `relu(x)` is normalised.
pub(crate) fn batch_norm(
    name: &'static str,
    (x, input): (&Var, NormInput),
    (weight, bias): (Option<&Var>, Option<&Var>),
    running: Option<Running<'_>>,
    opts: &BatchNormOptions,
    training: bool,
) -> Result<Var> {
    let shape = x.dims();
    let (scale, shift) = scale_shift(x, weight, bias)?;
    let plan = NormLayout::PerChannel.with_input(input);
    match running {
        Some(r) if !training => {
            let invstd = running_invstd(r.var, opts.eps)?;
            let mean = r.mean.value();
            normalize_with(x, &scale, &shift, plan, &mean, &invstd, StatFlow::Detached)
        }
        _ => {
            let m = shape[0] * shape[2..].iter().product::<usize>();
            if m < 2 {
                let shape = shape.to_vec();
                return Err(NormError::TooFewValues { norm: name, shape }.into());
            }
            let (y, stats) =
                normalize_batch(x, &scale, &shift, plan, Variance::Biased, opts.eps, true)?;
            if let (Some(r), true) = (running, training) {
                let unbiased = stats.var.mul_scalar(m as f64 / (m as f64 - 1.0))?;
                r.update(opts, &stats.mean, &unbiased)?;
            }
            Ok(y)
        }
    }
}

/// PyTorch's `F.instance_norm` for an `[N, C, H, W]` input whose shape the caller has
/// checked: statistics per sample and channel (biased variance, gradient through them) in
/// training or without buffers; training then updates the running statistics with the
/// batch means of the per-instance mean and unbiased variance (with `momentum=None`
/// PyTorch passes momentum 0: the buffers never change, the count stays). Eval with
/// buffers normalises every sample with the running statistics. `input` as for
/// [`batch_norm`].
pub(crate) fn instance_norm(
    name: &'static str,
    (x, input): (&Var, NormInput),
    (weight, bias): (Option<&Var>, Option<&Var>),
    running: Option<Running<'_>>,
    opts: &BatchNormOptions,
    training: bool,
) -> Result<Var> {
    let shape = x.shape();
    let (scale, shift) = scale_shift(x, weight, bias)?;
    match running {
        Some(r) if !training => {
            let invstd = running_invstd(r.var, opts.eps)?;
            let mean = r.mean.value();
            let plan = NormLayout::PerChannel.with_input(input);
            normalize_with(x, &scale, &shift, plan, &mean, &invstd, StatFlow::Detached)
        }
        _ => {
            let s: usize = shape[2..].iter().product();
            if s < 2 {
                return Err(NormError::TooFewValues { norm: name, shape }.into());
            }
            let plan = NormLayout::PerGroup { groups: shape[1] }.with_input(input);
            let (y, stats) =
                normalize_batch(x, &scale, &shift, plan, Variance::Biased, opts.eps, true)?;
            if let (Some(r), true, Some(m)) = (running, training, opts.momentum) {
                let mean = stats.mean.mean(&[0], false)?;
                let var = stats
                    .var
                    .mul_scalar(s as f64 / (s as f64 - 1.0))?
                    .mean(&[0], false)?;
                r.mean.update_value(|t| t.lerp_(&mean, m))?;
                r.var.update_value(|t| t.lerp_(&var, m))?;
            }
            Ok(y)
        }
    }
}
