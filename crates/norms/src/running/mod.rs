//! [`RunningBatchNorm`]: fastai's running batch normalisation (version 1, as in the lesson),
//! which normalises with running statistics in training too, so that tiny batches work.
//!
//! Training, with batch size `bs >= 2` and per channel over `(N, H, W)`:
//! `s = sum x`, `ss = sum x^2`, `c = numel / C`, `mom1 = 1 - (1 - mom)/sqrt(bs - 1)`;
//! `sums = lerp(sums, s, mom1)`, `sqrs = lerp(sqrs, ss, mom1)`,
//! `count = lerp(count, c, mom1)`, `dbias = dbias (1 - mom1) + mom1`, `batch += bs`,
//! `step += 1`. Then (train and eval) the statistics of [`stats`] (`mean`, `var` from the
//! buffers, debiased and clamped as the lesson does), and
//! `y = (x - mean)/sqrt(var + eps) mults + adds`.
//!
//! Backward: the previous running values are constants and the gradient flows through this
//! batch's share of the sums: `dS/ds = dQ/dss = mom1/D`, so with
//! `share = mom1/(D K) = mom1/count`, `r = 1/sqrt(var + eps)`, `xhat = (x - mean) r` and
//! `g = dy mults`:
//! `dx = r (g - share (sum_c g + xhat sum_c g xhat))` (the second sum dropped on channels
//! whose variance was clamped); derivation in `tensor::ops::norm`. In eval the buffers are
//! constants and `dx = dy mults r`. `dmults_c = sum dy xhat`, `dadds_c = sum dy`.
//!
//! Version 2 of the course ([`InferenceFactors`]) folds the statistics and the affine into
//! `factor = mults/sqrt(var + eps)`, `offset = adds - mean factor`, `y = x factor + offset`.

mod inference;
pub mod stats;

use autograd::Var;
use layers::{Forward, Module, ModuleCore};
use tensor::{NormInput, NormLayout, NormPlan, Result, Tensor};

pub use inference::InferenceFactors;

use self::stats::{RunningBuffers, RunningStats};
use crate::config::{channel_shape, check_channels, check_input, filled, lesson_param_shape};
use crate::fused::{normalize_with, StatFlow};
use crate::{NormConfig, NormError};

/// fastai's RunningBatchNorm. Parameters `mults` (1) and `adds` (0), buffers `sums`,
/// `sqrs` (0), `[1, C, 1, 1]` (`mults`, `adds`: `[C, 1, 1]`, the seed's shapes), and scalars `batch`, `count`, `step`, `dbias` (0);
/// `f32` on the CPU until moved.
#[derive(Debug, Module)]
pub struct RunningBatchNorm {
    channels: usize,
    config: NormConfig,
    #[param]
    mults: Var,
    #[param]
    adds: Var,
    #[buffer]
    sums: Var,
    #[buffer]
    sqrs: Var,
    #[buffer]
    batch: Var,
    #[buffer]
    count: Var,
    #[buffer]
    step: Var,
    #[buffer]
    dbias: Var,
    core: ModuleCore,
}

/// `t = t mul + add` for a one-element buffer, on its device.
fn affine_update(v: &Var, mul: f64, add: f64) -> Result<()> {
    v.update_value(|t| {
        *t = t.affine(mul, add)?;
        Ok(())
    })
}

impl RunningBatchNorm {
    /// The layer's name in errors and descriptions.
    pub const NAME: &'static str = "RunningBatchNorm";

    /// `RunningBatchNorm(nf)` with `mom = 0.1`, `eps = 1e-5`.
    pub fn new(channels: usize) -> std::result::Result<Self, NormError> {
        Self::with_config(channels, NormConfig::default())
    }

    /// `RunningBatchNorm(nf, mom, eps)`.
    pub fn with_config(
        channels: usize,
        config: NormConfig,
    ) -> std::result::Result<Self, NormError> {
        check_channels(Self::NAME, channels)?;
        config.validate(Self::NAME)?;
        let shape = channel_shape(channels);
        Ok(RunningBatchNorm {
            channels,
            config,
            mults: Var::parameter(filled(&lesson_param_shape(channels), 1.0)?),
            adds: Var::parameter(filled(&lesson_param_shape(channels), 0.0)?),
            sums: Var::constant(filled(&shape, 0.0)?),
            sqrs: Var::constant(filled(&shape, 0.0)?),
            batch: Var::constant(filled(&[], 0.0)?),
            count: Var::constant(filled(&[], 0.0)?),
            step: Var::constant(filled(&[], 0.0)?),
            dbias: Var::constant(filled(&[], 0.0)?),
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
    /// Running `sum x` per channel `[1, C, 1, 1]`.
    pub fn sums(&self) -> &Var {
        &self.sums
    }
    /// Running `sum x^2` per channel `[1, C, 1, 1]`.
    pub fn sqrs(&self) -> &Var {
        &self.sqrs
    }
    /// Samples seen in training `[]`.
    pub fn batch(&self) -> &Var {
        &self.batch
    }
    /// Running count of values per channel `[]`.
    pub fn count(&self) -> &Var {
        &self.count
    }
    /// Training steps `[]`.
    pub fn step(&self) -> &Var {
        &self.step
    }
    /// The debiasing weight `[]`.
    pub fn dbias(&self) -> &Var {
        &self.dbias
    }

    /// `mom1 = 1 - (1 - mom)/sqrt(bs - 1)`, a typed error for `bs < 2`.
    pub fn batch_momentum(&self, bs: usize) -> std::result::Result<f64, NormError> {
        if bs < 2 {
            return Err(NormError::BatchTooSmall {
                norm: Self::NAME,
                batch: bs,
            });
        }
        Ok(1.0 - (1.0 - self.config.momentum) / ((bs - 1) as f64).sqrt())
    }

    /// The training update of every buffer from the batch `x`; returns `mom1`.
    fn update_stats(&self, x: &Tensor, plan: NormPlan) -> Result<f64> {
        let (bs, nc) = (x.shape()[0], x.shape()[1]);
        let mom1 = self.batch_momentum(bs)?;
        let (s, ss) = x.norm_power_sums(plan)?;
        let shape = channel_shape(self.channels);
        let c = (x.numel() / nc) as f64;
        self.sums
            .update_value(|t| t.lerp_(&s.reshape(&shape)?, mom1))?;
        self.sqrs
            .update_value(|t| t.lerp_(&ss.reshape(&shape)?, mom1))?;
        self.count
            .update_value(|t| t.lerp_(&t.full_like(c)?, mom1))?;
        affine_update(&self.dbias, 1.0 - mom1, mom1)?;
        affine_update(&self.batch, 1.0, bs as f64)?;
        affine_update(&self.step, 1.0, 1.0)?;
        Ok(mom1)
    }

    /// The statistics the next forward pass would use without a training update.
    fn current_stats(&self) -> Result<RunningStats> {
        RunningBuffers {
            sums: self.sums.value(),
            sqrs: self.sqrs.value(),
            count: self.count.value(),
            dbias: self.dbias.value(),
            step: self.step.value().to_scalar()?,
            batch: self.batch.value().to_scalar()?,
        }
        .stats(self.config.eps)
    }

    /// The `(mean, var)` per channel (`[1, C, 1, 1]`) that an eval-mode forward pass uses
    /// now (debiased and clamped as in training).
    pub fn statistics(&self) -> Result<(Tensor, Tensor)> {
        let st = self.current_stats()?;
        Ok((st.mean, st.var))
    }

    /// Version 2's `factor = mults/sqrt(var + eps)`, `offset = adds - mean factor` from the
    /// current buffers and parameters: `factor x + offset` is the eval-mode output.
    pub fn inference_factors(&self) -> Result<InferenceFactors> {
        let st = self.current_stats()?;
        let c = channel_shape(self.channels);
        InferenceFactors::new(
            &self.mults.value().reshape(&c)?,
            &self.adds.value().reshape(&c)?,
            &st.mean.reshape(&c)?,
            &st.invstd.reshape(&c)?,
        )
    }

    /// The forward pass with explicit scale and shift (the module's own in
    /// [`Module::forward`]); in training mode it first updates the buffers from `x`.
    pub fn forward_with(&self, x: &Var, mults: &Var, adds: &Var) -> Result<Var> {
        self.forward_input((x, NormInput::Identity), mults, adds)
    }

    /// The forward pass of `x`, or of `relu(x)` with a ReLU input.
    fn forward_input(&self, (x, input): (&Var, NormInput), mults: &Var, adds: &Var) -> Result<Var> {
        check_input(Self::NAME, x, Some(self.channels))?;
        let plan = NormLayout::PerChannel.with_input(input);
        let mom1 = if self.is_training() {
            Some(self.update_stats(&x.value(), plan)?)
        } else {
            None
        };
        let st = self.current_stats()?;
        let flow = match mom1 {
            // share = d mean / d s = (mom1 / D) / K = mom1 / count, whether or not the
            // sums were divided by D.
            Some(w) => StatFlow::Running {
                share: w / self.count.value().to_scalar()?,
                var_live: st.var_live.clone(),
            },
            None => StatFlow::Detached,
        };
        normalize_with(x, mults, adds, plan, &st.mean, &st.invstd, flow)
    }
}

impl Forward for RunningBatchNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.forward_with(x, &self.mults, &self.adds)
    }
    fn forward_after_relu(&self, z: &Var) -> Option<Result<Var>> {
        Some(self.forward_input((z, NormInput::Relu), &self.mults, &self.adds))
    }
    fn describe(&self) -> String {
        format!(
            "RunningBatchNorm({}, mom={}, eps={})",
            self.channels, self.config.momentum, self.config.eps
        )
    }
}
