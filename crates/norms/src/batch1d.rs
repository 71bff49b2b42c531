//! [`BatchNorm1d`]: batch normalisation with PyTorch's `nn.BatchNorm1d` semantics, for
//! inputs `[N, C]` (statistics over `N`) and `[N, C, L]` (over `N, L`).
//!
//! Training, per channel over the `m = N L` values (`L = 1` for `[N, C]`): `mu = mean x`,
//! `s2 = sum (x - mu)^2 / m` (biased), `y = (x - mu) / sqrt(s2 + eps) weight + bias`,
//! gradient through `mu` and `s2`; with running statistics,
//! `running_mean = (1 - f) running_mean + f mu`,
//! `running_var = (1 - f) running_var + f s2 m / (m - 1)` (unbiased) and
//! `num_batches_tracked += 1`, `f` the momentum or, for `momentum = None`,
//! `1 / num_batches_tracked`. Eval with running statistics:
//! `y = (x - running_mean) / sqrt(running_var + eps) weight + bias`, `dx = dy weight /
//! sqrt(running_var + eps)`; without them eval is training's formula (and updates nothing).
//! `m = 1` (a `[1, C]` or `[1, C, 1]` batch) is refused as PyTorch refuses it; a batch of
//! one with `L > 1` is fine. The backward pass is [`crate::BatchNorm2d`]'s.

use autograd::Var;
use layers::{Forward, Module, ModuleCore};
use tensor::{NormInput, Result};

use crate::config::{check_channels, check_input, filled};
use crate::torch_core::{batch_norm, Running};
use crate::{BatchNormOptions, NormError};

/// PyTorch's BatchNorm1d. With `affine`: parameters `weight` (1), `bias` (0), `[C]`; with
/// `track_running_stats`: buffers `running_mean` (0), `running_var` (1), `[C]`, and
/// `num_batches_tracked` (0-d, `int64` in checkpoints). `f32` on the CPU until moved.
#[derive(Debug, Module)]
pub struct BatchNorm1d {
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

/// The parameters and buffers of a PyTorch batch norm with these options.
pub(crate) type Slots = (
    Option<Var>,
    Option<Var>,
    Option<Var>,
    Option<Var>,
    Option<Var>,
);

/// The accessors every PyTorch-style batch/instance norm has over its [`Slots`] fields
/// (`channels`, `options`, `weight`, `bias`, `running_mean`, `running_var`,
/// `num_batches_tracked`): one definition for BatchNorm1d, BatchNorm2d and InstanceNorm2d.
macro_rules! torch_norm_accessors {
    ($norm:ty) => {
        impl $norm {
            /// `C`.
            pub fn channels(&self) -> usize {
                self.channels
            }
            /// The options.
            pub fn options(&self) -> $crate::BatchNormOptions {
                self.options
            }
            /// The scale parameter `[C]` (with `affine`).
            pub fn weight(&self) -> Option<&autograd::Var> {
                self.weight.as_ref()
            }
            /// The shift parameter `[C]` (with `affine`).
            pub fn bias(&self) -> Option<&autograd::Var> {
                self.bias.as_ref()
            }
            /// The running mean `[C]` (with `track_running_stats`).
            pub fn running_mean(&self) -> Option<&autograd::Var> {
                self.running_mean.as_ref()
            }
            /// The running unbiased variance `[C]` (with `track_running_stats`).
            pub fn running_var(&self) -> Option<&autograd::Var> {
                self.running_var.as_ref()
            }
            /// The number of training passes, 0-d (with `track_running_stats`).
            pub fn num_batches_tracked(&self) -> Option<&autograd::Var> {
                self.num_batches_tracked.as_ref()
            }
        }
    };
}
pub(crate) use torch_norm_accessors;

/// Builds the parameter and buffer slots PyTorch's `_NormBase` has for these options.
pub(crate) fn slots(
    channels: usize,
    options: &BatchNormOptions,
) -> std::result::Result<Slots, NormError> {
    let (w, b) = if options.affine {
        (
            Some(Var::parameter(filled(&[channels], 1.0)?)),
            Some(Var::parameter(filled(&[channels], 0.0)?)),
        )
    } else {
        (None, None)
    };
    let (m, v, n) = if options.track_running_stats {
        (
            Some(Var::constant(filled(&[channels], 0.0)?)),
            Some(Var::constant(filled(&[channels], 1.0)?)),
            Some(Var::constant(filled(&[], 0.0)?)),
        )
    } else {
        (None, None, None)
    };
    Ok((w, b, m, v, n))
}

impl BatchNorm1d {
    /// The layer's name in errors and descriptions.
    pub const NAME: &'static str = "BatchNorm1d";

    /// `nn.BatchNorm1d(C)`: PyTorch's defaults ([`BatchNormOptions::default`]).
    pub fn new(channels: usize) -> std::result::Result<Self, NormError> {
        Self::with_options(channels, BatchNormOptions::default())
    }

    /// `nn.BatchNorm1d(C, eps, momentum, affine, track_running_stats)`.
    pub fn with_options(
        channels: usize,
        options: BatchNormOptions,
    ) -> std::result::Result<Self, NormError> {
        check_channels(Self::NAME, channels)?;
        options.validate(Self::NAME)?;
        let (weight, bias, running_mean, running_var, num_batches_tracked) =
            slots(channels, &options)?;
        Ok(BatchNorm1d {
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

torch_norm_accessors!(BatchNorm1d);

impl BatchNorm1d {
    /// The forward pass of `x`, or of `relu(x)` with a ReLU `input`.
    fn forward_input(&self, x: &Var, input: NormInput) -> Result<Var> {
        let shape = check_input(Self::NAME, x, Some(self.channels))?;
        if shape.len() > 3 {
            return Err(NormError::UnsupportedRank {
                norm: Self::NAME,
                expected: "[N, C] or [N, C, L]",
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

impl Forward for BatchNorm1d {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.forward_input(x, NormInput::Identity)
    }

    fn forward_after_relu(&self, z: &Var) -> Option<Result<Var>> {
        Some(self.forward_input(z, NormInput::Relu))
    }

    fn describe(&self) -> String {
        let o = &self.options;
        format!(
            "BatchNorm1d({}, eps={}, momentum={}, affine={}, track_running_stats={})",
            self.channels,
            o.eps,
            o.momentum_text(),
            o.affine,
            o.track_running_stats
        )
    }
}
