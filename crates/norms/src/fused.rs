//! The fused normalisation as one autograd node: the forward pass is a `tensor` norm
//! kernel, the backward pass its hand-derived adjoint ([`tensor::Tensor::norm_backward`],
//! whose module documentation gives the maths), with inputs `[x, scale, shift]`.
//!
//! `y = (x - mean) invstd scale + shift` per statistic group (see [`NormLayout`](tensor::NormLayout)); the
//! gradient reaching `x` through the statistics is chosen by [`StatFlow`]. A [`NormPlan`]
//! with a ReLU input ([`NormLayout::after_relu`](tensor::NormLayout::after_relu)) normalises `relu(x)` instead and returns
//! the gradient of `x` through the ReLU too, from the same passes (the layers' fused
//! `forward_after_relu`).

use autograd::Var;
use tensor::{NormInput, NormPlan, NormStats, Result, StatGrad, Tensor, Variance};

/// How the input gradient flows through the statistics of a fused normalisation.
#[derive(Clone, Debug)]
pub enum StatFlow {
    /// The statistics are constants (the lesson's BatchNorm in training, every eval pass):
    /// `dx = dy scale invstd`.
    Detached,
    /// The statistics are the batch's own mean and variance of this kind (gradient through
    /// both, as autograd would give for `(x - x.mean()) / sqrt(x.var() + eps)`).
    Batch(Variance),
    /// RunningBatchNorm's statistics: `share = d mean / d sum(x) = d var / d sum(x^2)` for
    /// this batch, `var_live` 1 where the variance was not clamped (one value per channel).
    Running {
        share: f64,
        var_live: Option<Tensor>,
    },
}

impl StatFlow {
    fn as_stat_grad(&self) -> StatGrad<'_> {
        match self {
            StatFlow::Detached => StatGrad::Detached,
            StatFlow::Batch(v) => StatGrad::Batch(*v),
            StatFlow::Running { share, var_live } => StatGrad::Running {
                share: *share,
                var_live: var_live.as_ref(),
            },
        }
    }
}

/// Records `y` (computed from `x` with `mean` and `invstd`) as one node with inputs
/// `[x, scale, shift]`, named `names.0` (`names.1` with a ReLU input).
fn record(
    names: (&'static str, &'static str),
    y: Tensor,
    (x, scale, shift): (&Var, &Var, &Var),
    plan: NormPlan,
    (mean, invstd): (Tensor, Tensor),
    flow: StatFlow,
) -> Var {
    let xv = x.value();
    let sv = scale.value();
    let need = [
        x.requires_grad(),
        scale.requires_grad(),
        shift.requires_grad(),
    ];
    let name = match plan.input {
        NormInput::Identity => names.0,
        NormInput::Relu => names.1,
    };
    Var::from_fn(y, &[x, scale, shift], name, move |dy| {
        let g = xv.norm_backward(dy, plan, &mean, &invstd, &sv, flow.as_stat_grad())?;
        Ok(vec![
            need[0].then_some(g.dx),
            need[1].then_some(g.dscale),
            need[2].then_some(g.dshift),
        ])
    })
}

/// Normalises `x` by its own statistics (`variance` kind, `eps` inside the root) and
/// applies `scale`/`shift` (one value per channel, or one in all); the input gradient flows
/// through the statistics when `through_stats`. Returns the output and the statistics.
/// `plan` is a [`NormLayout`](tensor::NormLayout), or one [`after_relu`](tensor::NormLayout::after_relu).
pub fn normalize_batch(
    x: &Var,
    scale: &Var,
    shift: &Var,
    plan: impl Into<NormPlan>,
    variance: Variance,
    eps: f64,
    through_stats: bool,
) -> Result<(Var, NormStats)> {
    let plan = plan.into();
    let out = x
        .value()
        .norm_forward(plan, &scale.value(), &shift.value(), variance, eps)?;
    let flow = if through_stats {
        StatFlow::Batch(variance)
    } else {
        StatFlow::Detached
    };
    let stats = (out.stats.mean.clone(), out.stats.invstd.clone());
    let names = ("norm_batch", "relu_norm_batch");
    let y = record(names, out.y, (x, scale, shift), plan, stats, flow);
    Ok((y, out.stats))
}

/// Normalises `x` with given statistics (one value per statistic group each), gradient
/// through them as `flow` says; `plan` as for [`normalize_batch`].
pub fn normalize_with(
    x: &Var,
    scale: &Var,
    shift: &Var,
    plan: impl Into<NormPlan>,
    mean: &Tensor,
    invstd: &Tensor,
    flow: StatFlow,
) -> Result<Var> {
    let plan = plan.into();
    let y = x
        .value()
        .norm_apply(plan, mean, invstd, &scale.value(), &shift.value())?;
    let stats = (mean.clone(), invstd.clone());
    let names = ("norm_with_stats", "relu_norm_with_stats");
    Ok(record(names, y, (x, scale, shift), plan, stats, flow))
}
