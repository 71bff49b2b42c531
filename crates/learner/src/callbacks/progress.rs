//! [`Progress`]: a progress bar over each phase's batches.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::runner::{Callback, CbResult, Ctx, Flow};

/// A progress bar on stderr for the batches of each epoch's training and validation
/// phases, cleared at the end of each epoch (before the statistics are printed: order -10).
/// Hidden when stderr is not a terminal (pipes, CI, tests).
#[derive(Debug)]
pub struct Progress {
    visible: bool,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Shown only if `visible`.
    pub fn new(visible: bool) -> Self {
        Progress { visible, bar: None }
    }

    /// Shown when stderr is a terminal.
    pub fn auto() -> Self {
        Self::new(std::io::stderr().is_terminal())
    }

    fn start(&mut self, len: usize, msg: String) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let target = if self.visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(len as u64), target);
        if let Ok(style) =
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(msg);
        self.bar = Some(bar);
    }

    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Callback for Progress {
    fn name(&self) -> &'static str {
        "progress"
    }

    fn order(&self) -> i32 {
        -10
    }

    fn begin_epoch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        let msg = format!("epoch {}/{} train", ctx.state.epoch + 1, ctx.state.epochs);
        self.start(ctx.learn.data.train.len(), msg);
        Ok(Flow::Continue)
    }

    fn begin_validate(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        let msg = format!("epoch {}/{} valid", ctx.state.epoch + 1, ctx.state.epochs);
        self.start(ctx.learn.data.valid.len(), msg);
        Ok(Flow::Continue)
    }

    fn after_batch(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        Ok(Flow::Continue)
    }

    fn after_epoch(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        self.clear();
        Ok(Flow::Continue)
    }

    fn after_fit(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        self.clear();
        Ok(Flow::Continue)
    }
}
