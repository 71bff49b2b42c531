//! [`Flow`]: the control value every callback returns, the Rust form of the lesson's
//! `CancelBatchException`, `CancelEpochException` and `CancelTrainException`.

/// What the runner does after a callback: go on, or cancel the batch, the epoch (phase) or
/// the whole training.
///
/// The first callback that returns something other than `Continue` stops the dispatch of
/// that event (the callbacks after it do not see it), as a raised exception does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Flow {
    /// Carry on.
    #[default]
    Continue,
    /// Skip the rest of this batch: `after_cancel_batch`, then `after_batch`.
    CancelBatch,
    /// Skip the rest of this phase's batches (training or validation): `after_batch` if in a
    /// batch, then `after_cancel_epoch`.
    CancelEpoch,
    /// Stop training: `after_batch` if in a batch, `after_cancel_train`, then `after_fit`.
    CancelTrain,
}

impl Flow {
    /// True for `Continue`.
    pub fn is_continue(self) -> bool {
        self == Flow::Continue
    }
}
