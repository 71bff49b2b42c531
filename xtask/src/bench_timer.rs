//! [`TrainTimer`]: times the training phase of an epoch after a few warm-up steps, and skips
//! validation (the benchmark measures training only).

use std::time::Instant;

use learner::{Callback, CbResult, Ctx, Flow};

/// Wall-clock time of the training steps after the first `warmup` of the epoch.
#[derive(Debug)]
pub struct TrainTimer {
    warmup: usize,
    started: Option<Instant>,
    /// Seconds over the timed steps.
    pub seconds: f64,
    /// Steps timed.
    pub steps: usize,
}

impl TrainTimer {
    /// Times every step after the first `warmup`.
    pub fn new(warmup: usize) -> Self {
        TrainTimer {
            warmup,
            started: None,
            seconds: 0.0,
            steps: 0,
        }
    }
}

impl Callback for TrainTimer {
    fn name(&self) -> &'static str {
        "train_timer"
    }

    fn begin_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        if ctx.state.in_train && ctx.state.iter == self.warmup.min(ctx.state.iters - 1) {
            self.started = Some(Instant::now());
            self.steps = ctx.state.iters - ctx.state.iter;
        }
        Ok(Flow::Continue)
    }

    fn begin_validate(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        if let Some(t) = self.started.take() {
            self.seconds = t.elapsed().as_secs_f64();
        }
        Ok(Flow::CancelEpoch)
    }
}
