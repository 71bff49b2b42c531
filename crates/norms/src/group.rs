//! [`GroupNorm`]: group normalisation with PyTorch's `nn.GroupNorm` semantics.
//!
//! The `C` channels are split into `G` blocks of `C/G` consecutive channels. Per sample `n`
//! and block `b` over `(C/G, H, W)` (`m = (C/G) H W` values), the same in training and
//! eval: `mu = mean x`, `s2 = sum (x - mu)^2 / m` (biased), `r = 1/sqrt(s2 + eps)`,
//! `y = (x - mu) r weight_c + bias_c` (per-channel affine; without `affine`, `y = xhat`
//! and no parameters). `G = C` is InstanceNorm (with a
//! biased variance), `G = 1` LayerNorm with a per-channel affine.
//!
//! Backward, gradient through `mu` and `s2`, with `xhat = (x - mu) r`, `g = dy weight_c`:
//! `dx = r (g - sum(g)/m - xhat sum(g xhat)/m)` per `(n, b)`, `dweight_c = sum dy xhat`,
//! `dbias_c = sum dy`.

use autograd::Var;
use layers::{Forward, Module, ModuleCore};
use tensor::{NormInput, NormLayout, Result, Variance};

use crate::config::{check_channels, check_eps, check_input, filled};
use crate::fused::normalize_batch;
use crate::torch_core::scale_shift;
use crate::NormError;

/// PyTorch's GroupNorm: with `affine` (default), parameters `weight` (1) and `bias` (0),
/// `[C]`; `f32` on the CPU until moved.
#[derive(Debug, Module)]
pub struct GroupNorm {
    groups: usize,
    channels: usize,
    eps: f64,
    #[param]
    weight: Option<Var>,
    #[param]
    bias: Option<Var>,
    core: ModuleCore,
}

impl GroupNorm {
    /// The layer's name in errors and descriptions.
    pub const NAME: &'static str = "GroupNorm";
    /// PyTorch's default eps.
    pub const DEFAULT_EPS: f64 = 1e-5;

    /// `nn.GroupNorm(groups, channels)` with `eps = 1e-5`; `groups` must divide `channels`.
    pub fn new(groups: usize, channels: usize) -> std::result::Result<Self, NormError> {
        Self::with_eps(groups, channels, Self::DEFAULT_EPS)
    }

    /// `nn.GroupNorm(groups, channels, eps)`.
    pub fn with_eps(
        groups: usize,
        channels: usize,
        eps: f64,
    ) -> std::result::Result<Self, NormError> {
        Self::with_options(groups, channels, eps, true)
    }

    /// `nn.GroupNorm(groups, channels, eps, affine)`.
    pub fn with_options(
        groups: usize,
        channels: usize,
        eps: f64,
        affine: bool,
    ) -> std::result::Result<Self, NormError> {
        check_channels(Self::NAME, channels)?;
        if groups == 0 || !channels.is_multiple_of(groups) {
            return Err(NormError::GroupsMustDivideChannels {
                norm: Self::NAME,
                groups,
                channels,
            });
        }
        check_eps(Self::NAME, eps)?;
        Ok(GroupNorm {
            groups,
            channels,
            eps,
            weight: affine
                .then(|| filled(&[channels], 1.0).map(Var::parameter))
                .transpose()?,
            bias: affine
                .then(|| filled(&[channels], 0.0).map(Var::parameter))
                .transpose()?,
            core: ModuleCore::default(),
        })
    }

    /// `G`.
    pub fn groups(&self) -> usize {
        self.groups
    }
    /// `C`.
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// eps.
    pub fn eps(&self) -> f64 {
        self.eps
    }
    /// The scale parameter `[C]` (with `affine`).
    pub fn weight(&self) -> Option<&Var> {
        self.weight.as_ref()
    }
    /// The shift parameter `[C]` (with `affine`).
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }

    /// The forward pass with explicit scale and shift (the module's own in
    /// [`Module::forward`]).
    pub fn forward_with(&self, x: &Var, weight: &Var, bias: &Var) -> Result<Var> {
        self.forward_input((x, NormInput::Identity), weight, bias)
    }

    /// The forward pass of `x`, or of `relu(x)` with a ReLU input.
    fn forward_input(
        &self,
        (x, input): (&Var, NormInput),
        weight: &Var,
        bias: &Var,
    ) -> Result<Var> {
        check_input(Self::NAME, x, Some(self.channels))?;
        let plan = NormLayout::PerGroup {
            groups: self.groups,
        }
        .with_input(input);
        Ok(normalize_batch(x, weight, bias, plan, Variance::Biased, self.eps, true)?.0)
    }
}

impl Forward for GroupNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        let (w, b) = scale_shift(x, self.weight.as_ref(), self.bias.as_ref())?;
        self.forward_with(x, &w, &b)
    }
    fn forward_after_relu(&self, z: &Var) -> Option<Result<Var>> {
        let affine = scale_shift(z, self.weight.as_ref(), self.bias.as_ref());
        Some(affine.and_then(|(w, b)| self.forward_input((z, NormInput::Relu), &w, &b)))
    }
    fn describe(&self) -> String {
        let affine = if self.weight.is_some() {
            ""
        } else {
            ", affine=false"
        };
        format!(
            "GroupNorm({}, {}, eps={}{affine})",
            self.groups, self.channels, self.eps
        )
    }
}
