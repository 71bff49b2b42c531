//! [`BatchNorm2d`]: batch normalisation with PyTorch's `nn.BatchNorm2d` semantics and
//! options ([`BatchNormOptions`]: `eps`, `momentum` or `None`, `affine`,
//! `track_running_stats`).
//!
//! Training, per channel `c` over `(N, H, W)` (`m = N H W > 1` values):
//! `mu_c = mean x`, `s2_c = sum (x - mu_c)^2 / m` (*biased*), `r = 1/sqrt(s2_c + eps)`,
//! `y = (x - mu_c) r weight_c + bias_c` (`weight = 1`, `bias = 0` without `affine`); with
//! running statistics then `running_mean = lerp(running_mean, mu, f)`,
//! `running_var = lerp(running_var, s2 m/(m - 1), f)` (the *unbiased* variance) and
//! `num_batches_tracked += 1`, where `f` is the momentum, or `1 / num_batches_tracked` for
//! `momentum = None` (cumulative average). Eval: `running_mean`, `running_var` in place of
//! `mu`, `s2`; without running statistics eval is training's formula.
//!
//! Backward in training (gradient through `mu` and `s2`), with `xhat = (x - mu) r` and
//! `g = dy weight`: `dx = r (g - mean_c(g) - xhat mean_c(g xhat))`,
//! `dweight_c = sum dy xhat`, `dbias_c = sum dy`. In eval `dx = dy weight r`.
//! A batch of one is fine when `H W > 1`; `m = 1` is refused, as PyTorch refuses it.

use autograd::Var;
use layers::{Forward, Module, ModuleCore};
use tensor::{NormInput, Result};

use crate::batch1d::{slots, torch_norm_accessors};
use crate::config::{check_channels, check_input};
use crate::torch_core::{batch_norm, Running};
use crate::{BatchNormOptions, NormConfig, NormError};

/// PyTorch's BatchNorm2d. With `affine` (default): parameters `weight` (1) and `bias` (0),
/// `[C]`; with `track_running_stats` (default): buffers `running_mean` (0) and
/// `running_var` (1), `[C]`, and `num_batches_tracked` (0-d, counting training passes,
/// `int64` in checkpoints). `f32` on the CPU until moved.
#[derive(Debug, Module)]
pub struct BatchNorm2d {
    channels: usize,
    options: BatchNormOptions,
    #[param]
    weight: Option<Var>,
    #[param]
    bias: Option<Var>,
    #[buffer]
    running_mean: Option<Var>,
    #[buffer]
    running_var: Option<Var>,
    #[buffer(int64)]
    num_batches_tracked: Option<Var>,
    core: ModuleCore,
}

impl BatchNorm2d {
    /// The layer's name in errors and descriptions.
    pub const NAME: &'static str = "BatchNorm2d";

    /// `nn.BatchNorm2d(nf)`: `eps = 1e-5`, `momentum = 0.1`, affine, tracking.
    pub fn new(channels: usize) -> std::result::Result<Self, NormError> {
        Self::with_options(channels, BatchNormOptions::default())
    }

    /// `nn.BatchNorm2d(nf, eps, momentum)`.
    pub fn with_config(
        channels: usize,
        config: NormConfig,
    ) -> std::result::Result<Self, NormError> {
        let options = BatchNormOptions::default()
            .with_eps(config.eps)
            .with_momentum(Some(config.momentum));
        Self::with_options(channels, options)
    }

    /// `nn.BatchNorm2d(nf, eps, momentum, affine, track_running_stats)`.
    pub fn with_options(
        channels: usize,
        options: BatchNormOptions,
    ) -> std::result::Result<Self, NormError> {
        check_channels(Self::NAME, channels)?;
        options.validate(Self::NAME)?;
        let (weight, bias, running_mean, running_var, num_batches_tracked) =
            slots(channels, &options)?;
        Ok(BatchNorm2d {
            channels,
            options,
            weight,
            bias,
            running_mean,
            running_var,
            num_batches_tracked,
            core: ModuleCore::default(),
        })
    }

    /// The forward pass with explicit scale and shift (the module's own in
    /// [`Module::forward`]); updates the running buffers in training mode.
    pub fn forward_with(&self, x: &Var, weight: &Var, bias: &Var) -> Result<Var> {
        self.forward_affine((x, NormInput::Identity), (Some(weight), Some(bias)))
    }

    /// The forward pass of `x`, or of `relu(x)` with a ReLU input.
    fn forward_affine(
        &self,
        (x, input): (&Var, NormInput),
        affine: (Option<&Var>, Option<&Var>),
    ) -> Result<Var> {
        check_input(Self::NAME, x, Some(self.channels))?;
        let running = Running::of(
            &self.running_mean,
            &self.running_var,
            &self.num_batches_tracked,
        );
        batch_norm(
            Self::NAME,
            (x, input),
            affine,
            running,
            &self.options,
            self.is_training(),
        )
    }
}

torch_norm_accessors!(BatchNorm2d);

impl Forward for BatchNorm2d {
    fn forward(&self, x: &Var) -> Result<Var> {
        let affine = (self.weight.as_ref(), self.bias.as_ref());
        self.forward_affine((x, NormInput::Identity), affine)
    }

    fn forward_after_relu(&self, z: &Var) -> Option<Result<Var>> {
        let affine = (self.weight.as_ref(), self.bias.as_ref());
        Some(self.forward_affine((z, NormInput::Relu), affine))
    }

    fn describe(&self) -> String {
        let o = &self.options;
        if o.affine && o.track_running_stats {
            return format!(
                "BatchNorm2d({}, eps={}, momentum={})",
                self.channels,
                o.eps,
                o.momentum_text()
            );
        }
        format!(
            "BatchNorm2d({}, eps={}, momentum={}, affine={}, track_running_stats={})",
            self.channels,
            o.eps,
            o.momentum_text(),
            o.affine,
            o.track_running_stats
        )
    }
}
