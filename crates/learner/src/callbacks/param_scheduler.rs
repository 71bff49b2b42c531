//! [`ParamScheduler`]: sets a hyper-parameter from a schedule before each training batch.

use schedule::Schedule;

use crate::runner::{Callback, CbResult, Ctx, Flow};

/// The lesson's `ParamScheduler(name, sched)` (order 1): before every training batch, the
/// optimiser's hyper-parameter `name` is set to `sched(n_epochs / epochs)`, a position that
/// runs from 0 to just under 1. It overrides the value the optimiser was created with. The
/// name is checked at `begin_fit` (an unknown name is an error, not a silent no-op), and
/// every scheduled value is validated by the optimiser.
#[derive(Debug)]
pub struct ParamScheduler {
    name: String,
    sched: Box<dyn Schedule>,
    positions: Vec<f64>,
    keep_positions: bool,
}

impl ParamScheduler {
    /// Schedules `name` (`"lr"`, `"mom"`, `"wd"`) with `sched`.
    pub fn new(name: impl Into<String>, sched: Box<dyn Schedule>) -> Self {
        ParamScheduler {
            name: name.into(),
            sched,
            positions: Vec::new(),
            keep_positions: false,
        }
    }

    /// Also keeps every position it evaluated the schedule at (for tests and plots).
    pub fn keeping_positions(mut self) -> Self {
        self.keep_positions = true;
        self
    }

    /// The positions evaluated so far (empty unless [`ParamScheduler::keeping_positions`]).
    pub fn positions(&self) -> &[f64] {
        &self.positions
    }

    /// The scheduled hyper-parameter's name.
    pub fn param(&self) -> &str {
        &self.name
    }
}

impl Callback for ParamScheduler {
    fn name(&self) -> &'static str {
        "param_scheduler"
    }

    fn order(&self) -> i32 {
        1
    }

    fn begin_fit(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        ctx.learn.opt.hyper(&self.name)?;
        self.positions.clear();
        Ok(Flow::Continue)
    }

    fn begin_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        if ctx.state.in_train {
            let pos = ctx.state.pos();
            if self.keep_positions {
                self.positions.push(pos);
            }
            ctx.learn.opt.set_hyper(&self.name, self.sched.at(pos))?;
        }
        Ok(Flow::Continue)
    }
}
