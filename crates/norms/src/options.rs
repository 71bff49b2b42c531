//! [`BatchNormOptions`]: PyTorch's keyword arguments of `nn.BatchNorm1d`/`2d` and
//! `nn.InstanceNorm2d` (`eps`, `momentum`, `affine`, `track_running_stats`), with the
//! running-average rule they select.

use crate::config::check_eps;
use crate::NormError;

/// PyTorch's options of the batch and instance norms.
///
/// * `eps` (inside the root, `sqrt(var + eps)`): finite and `> 0`.
/// * `momentum`: `Some(m)`, `m` in `[0, 1]`, is the exponential average
///   `running = (1 - m) running + m batch`; `None` is the cumulative moving average, PyTorch's
///   `momentum=None`: `m = 1 / num_batches_tracked` after the increment, so the running
///   statistics are the plain mean over every training batch seen.
/// * `affine`: learnable per-channel `weight` (1) and `bias` (0), `[C]`; without it the
///   output is the normalised input and the layer has no parameters.
/// * `track_running_stats`: buffers `running_mean` (0), `running_var` (1), `[C]`, and
///   `num_batches_tracked` (0-d, saved as `int64`), updated by training passes and used by
///   eval passes; without it there are no buffers and eval normalises with the batch's own
///   statistics, exactly as training does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormOptions {
    pub eps: f64,
    pub momentum: Option<f64>,
    pub affine: bool,
    pub track_running_stats: bool,
}

impl Default for BatchNormOptions {
    /// `nn.BatchNorm*d`'s defaults: `eps = 1e-5`, `momentum = 0.1`, `affine = true`,
    /// `track_running_stats = true`.
    fn default() -> Self {
        BatchNormOptions {
            eps: 1e-5,
            momentum: Some(0.1),
            affine: true,
            track_running_stats: true,
        }
    }
}

impl BatchNormOptions {
    /// `nn.InstanceNorm2d`'s defaults: `eps = 1e-5`, `momentum = 0.1`, `affine = false`,
    /// `track_running_stats = false`.
    pub fn instance() -> Self {
        BatchNormOptions {
            affine: false,
            track_running_stats: false,
            ..Self::default()
        }
    }

    /// The same options with another `eps`.
    pub fn with_eps(self, eps: f64) -> Self {
        BatchNormOptions { eps, ..self }
    }

    /// The same options with another momentum (`None`: cumulative moving average).
    pub fn with_momentum(self, momentum: Option<f64>) -> Self {
        BatchNormOptions { momentum, ..self }
    }

    /// The same options with or without the affine parameters.
    pub fn with_affine(self, affine: bool) -> Self {
        BatchNormOptions { affine, ..self }
    }

    /// The same options with or without running statistics.
    pub fn with_track_running_stats(self, track_running_stats: bool) -> Self {
        BatchNormOptions {
            track_running_stats,
            ..self
        }
    }

    /// Checks `eps` and `momentum` for the layer `norm`.
    pub fn validate(&self, norm: &'static str) -> Result<(), NormError> {
        check_eps(norm, self.eps)?;
        if let Some(momentum) = self.momentum {
            check_momentum(norm, momentum)?;
        }
        Ok(())
    }

    /// The weight of this batch in the running averages when `num_batches_tracked` has
    /// just become `count` (`count >= 1`).
    pub fn factor(&self, count: f64) -> f64 {
        match self.momentum {
            Some(m) => m,
            None => 1.0 / count,
        }
    }

    /// PyTorch's `momentum=...` text.
    pub(crate) fn momentum_text(&self) -> String {
        match self.momentum {
            Some(m) => m.to_string(),
            None => "None".to_string(),
        }
    }
}

/// A momentum must be finite and in `[0, 1]`.
pub(crate) fn check_momentum(norm: &'static str, momentum: f64) -> Result<(), NormError> {
    if momentum.is_finite() && (0.0..=1.0).contains(&momentum) {
        Ok(())
    } else {
        Err(NormError::InvalidMomentum { norm, momentum })
    }
}
