//! [`InstanceNorm`]: the lesson's instance normalisation.
//!
//! Per sample `n` and channel `c` over `(H, W)` (`m = H W` values), the same in training
//! and eval: `mu = mean x`, `v = sum (x - mu)^2 / (m - 1)` (unbiased, as `x.var((2,3))`),
//! `r = 1/sqrt(v + eps)`, `y = (x - mu) r mults_c + adds_c`. The lesson's eps is 1.0. On a
//! 1x1 map `v = 0/0 = NaN` and so is every output: one reason the lesson's run is all NaN.
//!
//! Backward, gradient through `mu` and `v`, with `xhat = (x - mu) r`, `g = dy mults_c`:
//! `dx = r (g - sum(g)/m - xhat sum(g xhat)/(m - 1))` per `(n, c)`,
//! `dmults_c = sum_{n,h,w} dy xhat`, `dadds_c = sum_{n,h,w} dy`.

use autograd::Var;
use layers::{Forward, Module, ModuleCore};
use tensor::{NormInput, NormLayout, Result, Variance};

use crate::config::{check_channels, check_eps, check_input, filled, lesson_param_shape};
use crate::fused::normalize_batch;
use crate::NormError;

/// The lesson's InstanceNorm: parameters `mults` (1) and `adds` (0), `[C, 1, 1]` (the seed's shapes);
/// `f32` on the CPU until moved.
#[derive(Debug, Module)]
pub struct InstanceNorm {
    channels: usize,
    eps: f64,
    #[param]
    mults: Var,
    #[param]
    adds: Var,
    core: ModuleCore,
}

impl InstanceNorm {
    /// The layer's name in errors and descriptions.
    pub const NAME: &'static str = "InstanceNorm";
    /// The lesson's default eps (`1e-0`; 1e-5 would be usual).
    pub const DEFAULT_EPS: f64 = 1.0;

    /// `InstanceNorm(nf)` with the lesson's `eps = 1.0`.
    pub fn new(channels: usize) -> std::result::Result<Self, NormError> {
        Self::with_eps(channels, Self::DEFAULT_EPS)
    }

    /// `InstanceNorm(nf, eps)`.
    pub fn with_eps(channels: usize, eps: f64) -> std::result::Result<Self, NormError> {
        check_channels(Self::NAME, channels)?;
        check_eps(Self::NAME, eps)?;
        Ok(InstanceNorm {
            channels,
            eps,
            mults: Var::parameter(filled(&lesson_param_shape(channels), 1.0)?),
            adds: Var::parameter(filled(&lesson_param_shape(channels), 0.0)?),
            core: ModuleCore::default(),
        })
    }

    /// `C`.
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// eps.
    pub fn eps(&self) -> f64 {
        self.eps
    }
    /// The scale parameter `[C, 1, 1]`.
    pub fn mults(&self) -> &Var {
        &self.mults
    }
    /// The shift parameter `[C, 1, 1]`.
    pub fn adds(&self) -> &Var {
        &self.adds
    }

    /// The forward pass with explicit scale and shift (the module's own in
    /// [`Module::forward`]).
    pub fn forward_with(&self, x: &Var, mults: &Var, adds: &Var) -> Result<Var> {
        self.forward_input((x, NormInput::Identity), mults, adds)
    }

    /// The forward pass of `x`, or of `relu(x)` with a ReLU input.
    fn forward_input(&self, (x, input): (&Var, NormInput), mults: &Var, adds: &Var) -> Result<Var> {
        check_input(Self::NAME, x, Some(self.channels))?;
        let plan = NormLayout::PerGroup {
            groups: self.channels,
        }
        .with_input(input);
        Ok(normalize_batch(x, mults, adds, plan, Variance::Unbiased, self.eps, true)?.0)
    }
}

impl Forward for InstanceNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.forward_with(x, &self.mults, &self.adds)
    }
    fn forward_after_relu(&self, z: &Var) -> Option<Result<Var>> {
        Some(self.forward_input((z, NormInput::Relu), &self.mults, &self.adds))
    }
    fn describe(&self) -> String {
        format!("InstanceNorm({}, eps={})", self.channels, self.eps)
    }
}
