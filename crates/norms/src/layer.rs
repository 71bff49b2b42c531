//! [`LayerNorm`]: the lesson's layer normalisation, one scalar scale and shift.
//!
//! Per sample `n` over `(C, H, W)` (`m = C H W` values), the same in training and eval:
//! `mu_n = mean x`, `v_n = sum (x - mu_n)^2 / (m - 1)` (unbiased, as `x.var((1,2,3))`),
//! `r = 1/sqrt(v_n + eps)`, `y = (x - mu_n) r mult + add`. (The seed's `sqrt(v - eps)` is a
//! sign bug; eps goes inside with a `+`.)
//!
//! Backward, gradient through `mu` and `v` (the lesson lets autograd differentiate them),
//! with `xhat = (x - mu) r` and `g = dy mult`:
//! `dx = r (g - sum_n(g)/m - xhat sum_n(g xhat)/(m - 1))`, `dmult = sum dy xhat`,
//! `dadd = sum dy` (sums over everything for the scalar parameters).

use autograd::Var;
use layers::{Forward, Module, ModuleCore};
use tensor::{NormInput, NormLayout, Result, Variance};

use crate::config::{check_eps, check_input, filled};
use crate::fused::normalize_batch;
use crate::NormError;

/// The lesson's LayerNorm: parameters `mult` (1) and `add` (0), 0-d (shape `[]`, the seed's `tensor(1.)`), for inputs of
/// any channel count; `f32` on the CPU until moved.
#[derive(Debug, Module)]
pub struct LayerNorm {
    eps: f64,
    #[param]
    mult: Var,
    #[param]
    add: Var,
    core: ModuleCore,
}

impl LayerNorm {
    /// The layer's name in errors and descriptions.
    pub const NAME: &'static str = "LayerNorm";
    /// The lesson's default eps.
    pub const DEFAULT_EPS: f64 = 1e-5;

    /// `LayerNorm()` with `eps = 1e-5`.
    pub fn new() -> std::result::Result<Self, NormError> {
        Self::with_eps(Self::DEFAULT_EPS)
    }

    /// `LayerNorm(eps)`.
    pub fn with_eps(eps: f64) -> std::result::Result<Self, NormError> {
        check_eps(Self::NAME, eps)?;
        Ok(LayerNorm {
            eps,
            mult: Var::parameter(filled(&[], 1.0)?),
            add: Var::parameter(filled(&[], 0.0)?),
            core: ModuleCore::default(),
        })
    }

    /// eps.
    pub fn eps(&self) -> f64 {
        self.eps
    }
    /// The scale parameter `[1]`.
    pub fn mult(&self) -> &Var {
        &self.mult
    }
    /// The shift parameter `[1]`.
    pub fn add(&self) -> &Var {
        &self.add
    }

    /// The forward pass with explicit scale and shift (the module's own in
    /// [`Module::forward`]).
    pub fn forward_with(&self, x: &Var, mult: &Var, add: &Var) -> Result<Var> {
        self.forward_input((x, NormInput::Identity), mult, add)
    }

    /// The forward pass of `x`, or of `relu(x)` with a ReLU input.
    fn forward_input(&self, (x, input): (&Var, NormInput), mult: &Var, add: &Var) -> Result<Var> {
        check_input(Self::NAME, x, None)?;
        let plan = NormLayout::PerGroup { groups: 1 }.with_input(input);
        Ok(normalize_batch(x, mult, add, plan, Variance::Unbiased, self.eps, true)?.0)
    }
}

impl Forward for LayerNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.forward_with(x, &self.mult, &self.add)
    }
    fn forward_after_relu(&self, z: &Var) -> Option<Result<Var>> {
        Some(self.forward_input((z, NormInput::Relu), &self.mult, &self.add))
    }
    fn describe(&self) -> String {
        format!("LayerNorm(eps={})", self.eps)
    }
}
