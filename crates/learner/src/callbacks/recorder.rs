//! [`Recorder`]: the learning rate and the loss of every training batch.

use std::path::Path;

use tensor::Tensor;

use crate::error::Result;
use crate::report::{plot_loss_and_lr, plot_lr_finder};
use crate::runner::{Callback, CbResult, Ctx, Flow};

/// The lesson's `Recorder`. Losses are kept as one-element tensors on the training device
/// and read on the host only when asked for ([`Recorder::losses`]), so recording costs no
/// synchronisation per batch.
#[derive(Debug, Default)]
pub struct Recorder {
    lrs: Vec<f64>,
    losses: Vec<Tensor>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The learning rate of each recorded training batch.
    pub fn lrs(&self) -> &[f64] {
        &self.lrs
    }

    /// The loss of each recorded training batch, read to the host.
    pub fn losses(&self) -> Result<Vec<f64>> {
        self.losses
            .iter()
            .map(|l| l.to_scalar().map_err(Into::into))
            .collect()
    }

    /// Number of recorded batches.
    pub fn len(&self) -> usize {
        self.lrs.len()
    }

    /// True before the first training batch.
    pub fn is_empty(&self) -> bool {
        self.lrs.is_empty()
    }

    /// Writes the loss and learning-rate curves (per iteration) as a PNG.
    pub fn plot_loss_and_lr(&self, path: &Path) -> Result<()> {
        Ok(plot_loss_and_lr(path, &self.losses()?, &self.lrs)?)
    }

    /// Writes loss against learning rate (log x), the LR finder's plot, as a PNG.
    pub fn plot_lr_finder(&self, path: &Path) -> Result<()> {
        Ok(plot_lr_finder(path, &self.lrs, &self.losses()?)?)
    }
}

impl Callback for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn begin_fit(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        self.lrs.clear();
        self.losses.clear();
        Ok(Flow::Continue)
    }

    fn after_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        if !ctx.state.in_train {
            return Ok(Flow::Continue);
        }
        // A batch cancelled before its loss has nothing to record.
        if let Some(loss) = &ctx.state.loss {
            self.lrs.push(ctx.learn.opt.lr());
            self.losses.push(loss.value());
        }
        Ok(Flow::Continue)
    }
}
