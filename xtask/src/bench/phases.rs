//! [`PhaseLaps`]: the training loop's share of a profile. Between the op-level laps of the
//! `tensor` and `autograd` crates it laps at every event of a training batch, so the time
//! spent outside ops (batch gathering, callbacks, freeing the graph, the SGD step) gets its
//! own labels; and it switches profiling on after the warm-up steps and off at validation.

use learner::{Callback, CbResult, Ctx, Flow};
use tensor::profile;

/// Profiles the training steps after the first `warmup`.
#[derive(Debug)]
pub struct PhaseLaps {
    warmup: usize,
}

impl PhaseLaps {
    /// Profiles every step after the first `warmup`.
    pub fn new(warmup: usize) -> Self {
        PhaseLaps { warmup }
    }
}

fn lap(name: &'static str) {
    profile::lap("loop", name, [0; 3]);
}

impl Callback for PhaseLaps {
    fn name(&self) -> &'static str {
        "phase_laps"
    }

    fn order(&self) -> i32 {
        // After every other callback of the batch's events.
        100
    }

    fn begin_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        if !ctx.state.in_train {
            return Ok(Flow::Continue);
        }
        if ctx.state.iter == self.warmup {
            let _ = profile::take();
            profile::set_enabled(true);
        } else {
            lap("data gathering + callbacks");
        }
        Ok(Flow::Continue)
    }

    fn after_pred(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        lap("forward glue");
        Ok(Flow::Continue)
    }

    fn after_loss(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        lap("loss glue");
        Ok(Flow::Continue)
    }

    fn after_backward(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        lap("freeing the graph");
        Ok(Flow::Continue)
    }

    fn after_step(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        lap("SGD step");
        Ok(Flow::Continue)
    }

    fn after_batch(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        lap("zero grad + callbacks");
        Ok(Flow::Continue)
    }

    fn begin_validate(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        profile::set_enabled(false);
        Ok(Flow::Continue)
    }
}
