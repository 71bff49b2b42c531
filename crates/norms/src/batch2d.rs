//! [`BatchNorm2d`]: batch normalisation with PyTorch's `nn.BatchNorm2d` semantics.
//!
//! Training, per channel `c` over `(N, H, W)` (`m = N H W > 1` values):
//! `mu_c = mean x`, `s2_c = sum (x - mu_c)^2 / m` (*biased*), `r = 1/sqrt(s2_c + eps)`,
//! `y = (x - mu_c) r weight_c + bias_c`; then
//! `running_mean = lerp(running_mean, mu, momentum)`,
//! `running_var = lerp(running_var, s2 m/(m - 1), momentum)` (the *unbiased* variance) and
//! `num_batches_tracked += 1`. Eval: `running_mean`, `running_var` in place of `mu`, `s2`.
//!
//! Backward in training (gradient through `mu` and `s2`), with `xhat = (x - mu) r` and
//! `g = dy weight`: `dx = r (g - mean_c(g) - xhat mean_c(g xhat))`,
//! `dweight_c = sum dy xhat`, `dbias_c = sum dy`. In eval `dx = dy weight r`.

use autograd::Var;
use layers::{Forward, Module, ModuleCore};
use tensor::{NormLayout, Result, Variance};

use crate::config::{check_channels, check_input, filled};
use crate::fused::{normalize_batch, normalize_with, StatFlow};
use crate::{NormConfig, NormError};

/// PyTorch's BatchNorm2d. Parameters `weight` (1) and `bias` (0), buffers `running_mean`
/// (0) and `running_var` (1), all `[C]`, and `num_batches_tracked` (scalar `[]`, counting
/// training forward passes); `f32` on the CPU until moved.
#[derive(Debug, Module)]
pub struct BatchNorm2d {
    channels: usize,
    config: NormConfig,
    #[param]
    weight: Var,
    #[param]
    bias: Var,
    #[buffer]
    running_mean: Var,
    #[buffer]
    running_var: Var,
    #[buffer(int64)]
    num_batches_tracked: Var,
    core: ModuleCore,
}

impl BatchNorm2d {
    /// The layer's name in errors and descriptions.
    pub const NAME: &'static str = "BatchNorm2d";

    /// `nn.BatchNorm2d(nf)`: `eps = 1e-5`, `momentum = 0.1`.
    pub fn new(channels: usize) -> std::result::Result<Self, NormError> {
        Self::with_config(channels, NormConfig::default())
    }

    /// `nn.BatchNorm2d(nf, eps, momentum)`.
    pub fn with_config(
        channels: usize,
        config: NormConfig,
    ) -> std::result::Result<Self, NormError> {
        check_channels(Self::NAME, channels)?;
        config.validate(Self::NAME)?;
        Ok(BatchNorm2d {
            channels,
            config,
            weight: Var::parameter(filled(&[channels], 1.0)?),
            bias: Var::parameter(filled(&[channels], 0.0)?),
            running_mean: Var::constant(filled(&[channels], 0.0)?),
            running_var: Var::constant(filled(&[channels], 1.0)?),
            num_batches_tracked: Var::constant(filled(&[], 0.0)?),
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
    /// The scale parameter `[C]`.
    pub fn weight(&self) -> &Var {
        &self.weight
    }
    /// The shift parameter `[C]`.
    pub fn bias(&self) -> &Var {
        &self.bias
    }
    /// The running mean `[C]`.
    pub fn running_mean(&self) -> &Var {
        &self.running_mean
    }
    /// The running unbiased variance `[C]`.
    pub fn running_var(&self) -> &Var {
        &self.running_var
    }
    /// The number of training forward passes `[]`.
    pub fn num_batches_tracked(&self) -> &Var {
        &self.num_batches_tracked
    }

    /// The forward pass with explicit scale and shift (the module's own in
    /// [`Module::forward`]); updates the running buffers in training mode.
    pub fn forward_with(&self, x: &Var, weight: &Var, bias: &Var) -> Result<Var> {
        let shape = check_input(Self::NAME, x, Some(self.channels))?;
        let NormConfig { eps, momentum } = self.config;
        let layout = NormLayout::PerChannel;
        if !self.is_training() {
            let invstd = self.running_var.value().add_scalar(eps)?.rsqrt()?;
            let mean = self.running_mean.value();
            return normalize_with(x, weight, bias, layout, &mean, &invstd, StatFlow::Detached);
        }
        let m = shape[0] * shape[2..].iter().product::<usize>();
        if m < 2 {
            return Err(NormError::TooFewValues {
                norm: Self::NAME,
                shape,
            }
            .into());
        }
        let (y, stats) = normalize_batch(x, weight, bias, layout, Variance::Biased, eps, true)?;
        let unbiased = stats.var.mul_scalar(m as f64 / (m as f64 - 1.0))?;
        self.running_mean
            .update_value(|t| t.lerp_(&stats.mean, momentum))?;
        self.running_var
            .update_value(|t| t.lerp_(&unbiased, momentum))?;
        self.num_batches_tracked.update_value(|t| -> Result<()> {
            *t = t.add_scalar(1.0)?;
            Ok(())
        })?;
        Ok(y)
    }
}

impl Forward for BatchNorm2d {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.forward_with(x, &self.weight, &self.bias)
    }
    fn describe(&self) -> String {
        format!(
            "BatchNorm2d({}, eps={}, momentum={})",
            self.channels, self.config.eps, self.config.momentum
        )
    }
}
