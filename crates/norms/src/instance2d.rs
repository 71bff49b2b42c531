//! [`InstanceNorm2d`]: PyTorch's `nn.InstanceNorm2d(C, eps, momentum, affine = false,
//! track_running_stats = false)`, beside the lesson's [`crate::InstanceNorm`].
//!
//! Training (and eval without running statistics), per sample `n` and channel `c` over
//! the `S = H W` positions: `mu = mean x`, `s2 = sum (x - mu)^2 / S` (biased),
//! `y = (x - mu) / sqrt(s2 + eps) weight_c + bias_c`, gradient through `mu` and `s2`
//! (`dx = (g - mean g - xhat mean(g xhat)) / sqrt(s2 + eps)` per instance, `g = dy weight`).
//! With `track_running_stats`, training updates
//! `running_mean = (1 - m) running_mean + m mean_n(mu_nc)` and
//! `running_var = (1 - m) running_var + m mean_n(s2_nc S / (S - 1))` (as PyTorch, which
//! averages the per-instance statistics over the batch; `num_batches_tracked` stays 0 and
//! `momentum = None` leaves the running statistics unchanged), and eval normalises every
//! instance with them: `y = (x - running_mean_c) / sqrt(running_var_c + eps) weight_c +
//! bias_c`. `S = 1` is refused, as in PyTorch.

use autograd::Var;
use layers::{Forward, Module, ModuleCore};

use tensor::{NormInput, Result};

use crate::batch1d::{slots, torch_norm_accessors};
use crate::config::{check_channels, check_input};
use crate::torch_core::{instance_norm, Running};
use crate::{BatchNormOptions, NormError};

/// PyTorch's InstanceNorm2d. With `affine`: `weight` (1), `bias` (0), `[C]`; with
/// `track_running_stats`: `running_mean`, `running_var` `[C]` and `num_batches_tracked`
/// (0-d). `f32` on the CPU until moved.
#[derive(Debug, Module)]
pub struct InstanceNorm2d {
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

impl InstanceNorm2d {
    /// The layer's name in errors and descriptions.
    pub const NAME: &'static str = "InstanceNorm2d";

    /// `nn.InstanceNorm2d(C)`: [`BatchNormOptions::instance`] (no affine, no tracking).
    pub fn new(channels: usize) -> std::result::Result<Self, NormError> {
        Self::with_options(channels, BatchNormOptions::instance())
    }

    /// `nn.InstanceNorm2d(C, eps, momentum, affine, track_running_stats)`.
    pub fn with_options(
        channels: usize,
        options: BatchNormOptions,
    ) -> std::result::Result<Self, NormError> {
        check_channels(Self::NAME, channels)?;
        options.validate(Self::NAME)?;
        let (weight, bias, running_mean, running_var, num_batches_tracked) =
            slots(channels, &options)?;
        Ok(InstanceNorm2d {
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
}

torch_norm_accessors!(InstanceNorm2d);

impl InstanceNorm2d {
    /// The forward pass of `x`, or of `relu(x)` with a ReLU `input`.
    fn forward_input(&self, x: &Var, input: NormInput) -> Result<Var> {
        let shape = check_input(Self::NAME, x, Some(self.channels))?;
        if shape.len() != 4 {
            return Err(NormError::UnsupportedRank {
                norm: Self::NAME,
                expected: "[N, C, H, W]",
                shape: shape.to_vec(),
            }
            .into());
        }
        let running = Running::of(
            &self.running_mean,
            &self.running_var,
            &self.num_batches_tracked,
        );
        let affine = (self.weight.as_ref(), self.bias.as_ref());
        instance_norm(
            Self::NAME,
            (x, input),
            affine,
            running,
            &self.options,
            self.is_training(),
        )
    }
}

impl Forward for InstanceNorm2d {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.forward_input(x, NormInput::Identity)
    }

    fn forward_after_relu(&self, z: &Var) -> Option<Result<Var>> {
        Some(self.forward_input(z, NormInput::Relu))
    }

    fn describe(&self) -> String {
        let o = &self.options;
        format!(
            "InstanceNorm2d({}, eps={}, momentum={}, affine={}, track_running_stats={})",
            self.channels,
            o.eps,
            o.momentum_text(),
            o.affine,
            o.track_running_stats
        )
    }
}
