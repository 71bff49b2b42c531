//! The statistics RunningBatchNorm normalises with, read from its buffers (train and eval):
//!
//! with `D = dbias` while `step < 100` (else `D = 1`, no division):
//! `S = sums/D`, `Q = sqrs/D`, `K = count/D`, `mean = S/K`, `var = Q/K - mean^2`, and while
//! `batch < 20` `var = max(var, 0.01)`. The division by `D` cancels in `mean` and `var` (a
//! no-op kept for fidelity to the lesson).

use tensor::{Result, Tensor};

/// Below this many steps the running sums are divided by `dbias`.
pub const DEBIAS_STEPS: f64 = 100.0;
/// Below this many samples seen the variance is clamped from below.
pub const CLAMP_BATCH: f64 = 20.0;
/// The clamp's floor.
pub const VAR_FLOOR: f64 = 0.01;

/// Per-channel statistics `[1, C, 1, 1]` and what their gradient needs.
#[derive(Clone, Debug)]
pub(crate) struct RunningStats {
    pub mean: Tensor,
    pub var: Tensor,
    pub invstd: Tensor,
    /// 1 where the variance was not clamped; `None` when no clamp was applied.
    pub var_live: Option<Tensor>,
}

/// The buffers the statistics are read from.
pub(crate) struct RunningBuffers {
    pub sums: Tensor,
    pub sqrs: Tensor,
    pub count: Tensor,
    pub dbias: Tensor,
    pub step: f64,
    pub batch: f64,
}

impl RunningBuffers {
    /// The statistics (see the module documentation).
    pub fn stats(&self, eps: f64) -> Result<RunningStats> {
        let (mut s, mut q, mut k) = (self.sums.clone(), self.sqrs.clone(), self.count.clone());
        if self.step < DEBIAS_STEPS {
            s = s.div(&self.dbias)?;
            q = q.div(&self.dbias)?;
            k = k.div(&self.dbias)?;
        }
        let mean = s.div(&k)?;
        let mut var = q.div(&k)?.sub(&mean.mul(&mean)?)?;
        let mut var_live = None;
        if self.batch < CLAMP_BATCH {
            var_live = Some(var.ge(&var.full_like(VAR_FLOOR)?)?);
            var = var.clamp(Some(VAR_FLOOR), None)?;
        }
        let invstd = var.add_scalar(eps)?.rsqrt()?;
        Ok(RunningStats {
            mean,
            var,
            invstd,
            var_live,
        })
    }
}
