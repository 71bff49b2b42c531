//! [`BatchRenorm`]: Batch Renormalization (Ioffe 2017, Algorithm 1), the published answer
//! to batch norm's small-batch problem, next to fastai's [`crate::RunningBatchNorm`].
//!
//! Training normalises with the batch statistics and then corrects towards the running
//! ones by `r = clip(sigma_B / sigma, 1/rmax, rmax)` and
//! `d = clip((mu_B - mu) / sigma, -dmax, dmax)`, held constant in backward; the step and its
//! backward pass (derived there) are [`crate::renorm_fused`]. Afterwards
//! `running_mean += alpha (mu_B - running_mean)`,
//! `running_std += alpha (sigma_B - running_std)`, `num_batches_tracked += 1`. Eval:
//! `y = weight (x - running_mean) / running_std + bias` (no eps, as in the paper), so
//! `dx = dy weight / running_std`.
//!
//! `rmax` and `dmax` are settable before every step ([`BatchRenorm::set_clip`]) so a
//! schedule can relax them as the paper does (`rmax = 1`, `dmax = 0` at first: plain batch
//! norm, then growing to e.g. 3 and 5). Inputs `[N, C, ...]`, statistics per channel over
//! every other axis; training needs more than one value per channel.

use std::cell::Cell;

use autograd::Var;
use layers::{Forward, Module, ModuleCore};
use tensor::{NormLayout, Result, Tensor};

use crate::config::{check_channels, check_eps, check_input, filled};
use crate::fused::{normalize_with, StatFlow};
use crate::options::check_momentum;
use crate::renorm_fused::batch_renorm_train;
use crate::NormError;

/// Batch Renormalization. Parameters `weight` (1), `bias` (0), buffers `running_mean` (0),
/// `running_std` (1), `[C]`, and `num_batches_tracked` (0-d). `f32` on the CPU until moved.
#[derive(Debug, Module)]
pub struct BatchRenorm {
    channels: usize,
    eps: f64,
    momentum: f64,
    clip: Cell<(f64, f64)>,
    last: std::cell::RefCell<Option<(Tensor, Tensor)>>,
    #[param]
    weight: Var,
    #[param]
    bias: Var,
    #[buffer]
    running_mean: Var,
    #[buffer]
    running_std: Var,
    #[buffer(int64)]
    num_batches_tracked: Var,
    core: ModuleCore,
}

/// `rmax >= 1`, `dmax >= 0`, both finite.
fn check_clip(rmax: f64, dmax: f64) -> std::result::Result<(), NormError> {
    if rmax.is_finite() && rmax >= 1.0 && dmax.is_finite() && dmax >= 0.0 {
        Ok(())
    } else {
        Err(NormError::InvalidClip {
            norm: BatchRenorm::NAME,
            rmax,
            dmax,
        })
    }
}

impl BatchRenorm {
    /// The layer's name in errors and descriptions.
    pub const NAME: &'static str = "BatchRenorm";

    /// `eps = 1e-5`, `alpha = momentum = 0.1`, `rmax = 1`, `dmax = 0` (the paper's start:
    /// batch norm until a schedule relaxes the bounds).
    pub fn new(channels: usize) -> std::result::Result<Self, NormError> {
        Self::with_options(channels, 1e-5, 0.1, 1.0, 0.0)
    }

    /// All settings: `eps > 0`, `momentum` (the paper's `alpha`) in `[0, 1]`, `rmax >= 1`,
    /// `dmax >= 0`.
    pub fn with_options(
        channels: usize,
        eps: f64,
        momentum: f64,
        rmax: f64,
        dmax: f64,
    ) -> std::result::Result<Self, NormError> {
        check_channels(Self::NAME, channels)?;
        check_eps(Self::NAME, eps)?;
        check_momentum(Self::NAME, momentum)?;
        check_clip(rmax, dmax)?;
        Ok(BatchRenorm {
            channels,
            eps,
            momentum,
            clip: Cell::new((rmax, dmax)),
            last: Default::default(),
            weight: Var::parameter(filled(&[channels], 1.0)?),
            bias: Var::parameter(filled(&[channels], 0.0)?),
            running_mean: Var::constant(filled(&[channels], 0.0)?),
            running_std: Var::constant(filled(&[channels], 1.0)?),
            num_batches_tracked: Var::constant(filled(&[], 0.0)?),
            core: ModuleCore::default(),
        })
    }

    /// Sets `rmax` and `dmax` for the following steps (a schedule calls it every step).
    pub fn set_clip(&self, rmax: f64, dmax: f64) -> std::result::Result<(), NormError> {
        check_clip(rmax, dmax)?;
        self.clip.set((rmax, dmax));
        Ok(())
    }

    /// `(rmax, dmax)` now.
    pub fn clip(&self) -> (f64, f64) {
        self.clip.get()
    }
    /// `C`.
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// eps.
    pub fn eps(&self) -> f64 {
        self.eps
    }
    /// The running-average rate `alpha`.
    pub fn momentum(&self) -> f64 {
        self.momentum
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
    /// The running standard deviation `[C]`.
    pub fn running_std(&self) -> &Var {
        &self.running_std
    }
    /// The number of training passes, 0-d.
    pub fn num_batches_tracked(&self) -> &Var {
        &self.num_batches_tracked
    }
    /// The clipped `(r, d)` of the last training pass, `[C]` each.
    pub fn last_correction(&self) -> Option<(Tensor, Tensor)> {
        self.last.borrow().clone()
    }

    /// The forward pass with explicit `weight` and `bias` (the module's own in
    /// [`Module::forward`]); updates the buffers in training mode.
    pub fn forward_with(&self, x: &Var, weight: &Var, bias: &Var) -> Result<Var> {
        let shape = check_input(Self::NAME, x, Some(self.channels))?;
        if !self.is_training() {
            let mean = self.running_mean.value();
            let invstd = self.running_std.value().recip()?;
            let layout = NormLayout::PerChannel;
            return normalize_with(x, weight, bias, layout, &mean, &invstd, StatFlow::Detached);
        }
        let m = shape[0] * shape[2..].iter().product::<usize>();
        if m < 2 {
            return Err(NormError::TooFewValues {
                norm: Self::NAME,
                shape: shape.to_vec(),
            }
            .into());
        }
        let running = (self.running_mean.value(), self.running_std.value());
        let step = batch_renorm_train(
            x,
            (weight, bias),
            (&running.0, &running.1),
            self.clip.get(),
            self.eps,
        )?;
        let alpha = self.momentum;
        self.running_mean
            .update_value(|t| t.lerp_(&step.mean, alpha))?;
        self.running_std
            .update_value(|t| t.lerp_(&step.std, alpha))?;
        self.num_batches_tracked.update_value(|t| -> Result<()> {
            *t = t.add_scalar(1.0)?;
            Ok(())
        })?;
        *self.last.borrow_mut() = Some((step.r, step.d));
        Ok(step.y)
    }
}

impl Forward for BatchRenorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.forward_with(x, &self.weight, &self.bias)
    }

    fn describe(&self) -> String {
        let (rmax, dmax) = self.clip.get();
        format!(
            "BatchRenorm({}, eps={}, momentum={}, rmax={rmax}, dmax={dmax})",
            self.channels, self.eps, self.momentum
        )
    }
}
