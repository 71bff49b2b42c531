//! [`BatchNorm`]: the lesson's own batch normalisation.
//!
//! Training, per channel `c` over `(N, H, W)` (`m = N H W` values):
//! `mu_c = mean x`, `v_c = sum (x - mu_c)^2 / (m - 1)` (*unbiased*, `torch.var`'s default),
//! both computed without gradient; `y = (x - mu_c) / sqrt(v_c + eps) * mults_c + adds_c`;
//! then `means = lerp(means, mu, mom)`, `vars = lerp(vars, v, mom)`.
//! Eval: the same with `means`, `vars` in place of `mu`, `v`.
//!
//! Backward: the statistics are constants, so with `r = 1/sqrt(v + eps)`
//! `dx = dy mults r` (no terms through `mu`, `v`), `dmults_c = sum dy (x - mu) r`,
//! `dadds_c = sum dy`.

use autograd::Var;
use layers::{Forward, Module, ModuleCore};
use tensor::{NormInput, NormLayout, Result, Variance};

use crate::config::{channel_shape, check_channels, check_input, filled, lesson_param_shape};
use crate::fused::{normalize_batch, normalize_with, StatFlow};
use crate::{NormConfig, NormError};

/// The lesson's BatchNorm. Parameters `mults` (1) and `adds` (0), buffers `vars` (1) and
/// `means` (0): the seed's shapes, `[C, 1, 1]` for the parameters, `[1, C, 1, 1]` for the buffers; `f32` on the CPU until moved.
#[derive(Debug, Module)]
pub struct BatchNorm {
    channels: usize,
    config: NormConfig,
    #[param]
    mults: Var,
    #[param]
    adds: Var,
    #[buffer]
    vars: Var,
    #[buffer]
    means: Var,
    core: ModuleCore,
}

impl BatchNorm {
    /// The layer's name in errors and descriptions.
    pub const NAME: &'static str = "BatchNorm";

    /// `BatchNorm(nf)` with `mom = 0.1`, `eps = 1e-5`.
    pub fn new(channels: usize) -> std::result::Result<Self, NormError> {
        Self::with_config(channels, NormConfig::default())
    }

    /// `BatchNorm(nf, mom, eps)`.
    pub fn with_config(
        channels: usize,
        config: NormConfig,
    ) -> std::result::Result<Self, NormError> {
        check_channels(Self::NAME, channels)?;
        config.validate(Self::NAME)?;
        let shape = channel_shape(channels);
        Ok(BatchNorm {
            channels,
            config,
            mults: Var::parameter(filled(&lesson_param_shape(channels), 1.0)?),
            adds: Var::parameter(filled(&lesson_param_shape(channels), 0.0)?),
            vars: Var::constant(filled(&shape, 1.0)?),
            means: Var::constant(filled(&shape, 0.0)?),
            core: ModuleCore::default(),
        })
    }

    /// `C`.
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// eps and momentum.
    pub fn config(&self) -> NormConfig {
        self.config
    }
    /// The scale parameter `[C, 1, 1]`.
    pub fn mults(&self) -> &Var {
        &self.mults
    }
    /// The shift parameter `[C, 1, 1]`.
    pub fn adds(&self) -> &Var {
        &self.adds
    }
    /// The running means `[1, C, 1, 1]`.
    pub fn means(&self) -> &Var {
        &self.means
    }
    /// The running (unbiased) variances `[1, C, 1, 1]`.
    pub fn vars(&self) -> &Var {
        &self.vars
    }

    /// The forward pass with explicit scale and shift (the module's own in
    /// [`Module::forward`]); updates the running buffers in training mode.
    pub fn forward_with(&self, x: &Var, mults: &Var, adds: &Var) -> Result<Var> {
        self.forward_input((x, NormInput::Identity), mults, adds)
    }

    /// The forward pass of `x`, or of `relu(x)` with a ReLU input.
    fn forward_input(&self, (x, input): (&Var, NormInput), mults: &Var, adds: &Var) -> Result<Var> {
        check_input(Self::NAME, x, Some(self.channels))?;
        let plan = NormLayout::PerChannel.with_input(input);
        let NormConfig { eps, momentum } = self.config;
        if self.is_training() {
            let (y, stats) = normalize_batch(x, mults, adds, plan, Variance::Unbiased, eps, false)?;
            let shape = channel_shape(self.channels);
            self.means
                .update_value(|t| t.lerp_(&stats.mean.reshape(&shape)?, momentum))?;
            self.vars
                .update_value(|t| t.lerp_(&stats.var.reshape(&shape)?, momentum))?;
            Ok(y)
        } else {
            let invstd = self.vars.value().add_scalar(eps)?.rsqrt()?;
            let flow = StatFlow::Detached;
            normalize_with(x, mults, adds, plan, &self.means.value(), &invstd, flow)
        }
    }
}

impl Forward for BatchNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.forward_with(x, &self.mults, &self.adds)
    }
    fn forward_after_relu(&self, z: &Var) -> Option<Result<Var>> {
        Some(self.forward_input((z, NormInput::Relu), &self.mults, &self.adds))
    }
    fn describe(&self) -> String {
        format!(
            "BatchNorm({}, mom={}, eps={})",
            self.channels, self.config.momentum, self.config.eps
        )
    }
}
