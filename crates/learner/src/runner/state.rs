//! [`RunState`]: the run's progress and current batch, which callbacks read (and some
//! write: the train/eval callback sets the mode and counters, a batch transform replaces
//! `xb`).

use autograd::Var;
use tensor::Tensor;

use crate::callbacks::EpochStats;

/// Where the run is and what the current batch holds.
#[derive(Debug, Default)]
pub struct RunState {
    /// Epochs this fit runs to (the `epochs` of `fit(epochs, learn)`).
    pub epochs: usize,
    /// The current epoch, 0-based.
    pub epoch: usize,
    /// Fractional epochs done: `epoch + iter / iters` before each training batch (so the
    /// schedule position `n_epochs / epochs` runs from 0 to just under 1).
    pub n_epochs: f64,
    /// Training batches completed over the whole run (across a resume too).
    pub n_iter: usize,
    /// Index of the current batch within its phase.
    pub iter: usize,
    /// Batches in the current phase.
    pub iters: usize,
    /// True in the training phase, false while validating.
    pub in_train: bool,
    /// The current input batch.
    pub xb: Option<Tensor>,
    /// The current targets.
    pub yb: Option<Tensor>,
    /// The model's output for the batch (after `after_pred`).
    pub pred: Option<Var>,
    /// The batch's loss (after `after_loss`; detached from the graph after the backward
    /// pass so the graph is freed before the optimiser step).
    pub loss: Option<Var>,
    /// The averages of the epoch that just ended, published by
    /// [`AvgStats`](crate::callbacks::AvgStats) at `after_epoch` for the callbacks after it.
    pub last_stats: Option<EpochStats>,
}

impl RunState {
    /// A state for `fit` up to `epochs`, starting at epoch `start` with `n_iter` training
    /// batches already done (non-zero when resuming).
    pub fn new(epochs: usize, start: usize, n_iter: usize) -> Self {
        RunState {
            epochs,
            epoch: start,
            n_epochs: start as f64,
            n_iter,
            ..RunState::default()
        }
    }

    /// The number of samples in the current batch (0 outside a batch).
    pub fn batch_size(&self) -> usize {
        self.yb
            .as_ref()
            .map_or(0, |y| y.shape().first().copied().unwrap_or(0))
    }

    /// The schedule position `n_epochs / epochs`.
    pub fn pos(&self) -> f64 {
        if self.epochs == 0 {
            0.0
        } else {
            self.n_epochs / self.epochs as f64
        }
    }

    /// Clears the batch fields.
    pub(crate) fn clear_batch(&mut self) {
        self.xb = None;
        self.yb = None;
        self.pred = None;
        self.loss = None;
    }
}
