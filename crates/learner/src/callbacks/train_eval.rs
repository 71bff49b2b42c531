//! [`TrainEval`]: switches the model between train and eval mode and keeps the run's
//! counters. The runner always has one, and it always runs first.

use crate::runner::{Callback, CbResult, Ctx, Flow};

/// The lesson's `TrainEvalCallback`.
///
/// * `begin_epoch`: `n_epochs = epoch`, train mode, `in_train = true`;
/// * `after_batch` of a training batch: one more iteration, and `n_epochs` becomes
///   `epoch + (iter + 1) / iters` (the lesson's `n_epochs += 1/iters`, computed exactly so
///   that it does not drift);
/// * `begin_validate`: eval mode, `in_train = false`.
#[derive(Debug, Default)]
pub struct TrainEval;

impl TrainEval {
    /// The callback.
    pub fn new() -> Self {
        TrainEval
    }
}

impl Callback for TrainEval {
    fn name(&self) -> &'static str {
        "train_eval"
    }

    /// Always first.
    fn order(&self) -> i32 {
        i32::MIN
    }

    fn begin_epoch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        ctx.state.n_epochs = ctx.state.epoch as f64;
        ctx.state.in_train = true;
        ctx.learn.model.train();
        Ok(Flow::Continue)
    }

    fn after_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        let st = &mut *ctx.state;
        if st.in_train {
            st.n_iter += 1;
            st.n_epochs = st.epoch as f64 + (st.iter + 1) as f64 / st.iters.max(1) as f64;
        }
        Ok(Flow::Continue)
    }

    fn begin_validate(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        ctx.state.in_train = false;
        ctx.learn.model.eval();
        Ok(Flow::Continue)
    }
}
