//! [`Event`]: the points of the training loop at which callbacks run.

use std::fmt;

/// A point of the training loop. See [`crate::Runner`] for their order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// Once, before anything else.
    BeginFit,
    /// At the start of each epoch.
    BeginEpoch,
    /// Before each batch's forward pass.
    BeginBatch,
    /// After the forward pass.
    AfterPred,
    /// After the loss.
    AfterLoss,
    /// After the backward pass (training only).
    AfterBackward,
    /// After the optimiser step (training only).
    AfterStep,
    /// At the end of each batch, also a cancelled one.
    AfterBatch,
    /// Before the validation batches (gradients are off from here to `after_epoch`).
    BeginValidate,
    /// At the end of each epoch.
    AfterEpoch,
    /// After a batch was cancelled.
    AfterCancelBatch,
    /// After a phase was cancelled.
    AfterCancelEpoch,
    /// After training was cancelled.
    AfterCancelTrain,
    /// Once, at the very end, always.
    AfterFit,
}

impl Event {
    /// Every event.
    pub const ALL: [Event; 14] = [
        Event::BeginFit,
        Event::BeginEpoch,
        Event::BeginBatch,
        Event::AfterPred,
        Event::AfterLoss,
        Event::AfterBackward,
        Event::AfterStep,
        Event::AfterBatch,
        Event::BeginValidate,
        Event::AfterEpoch,
        Event::AfterCancelBatch,
        Event::AfterCancelEpoch,
        Event::AfterCancelTrain,
        Event::AfterFit,
    ];

    /// The lesson's name for the event (`"begin_fit"`, `"after_pred"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Event::BeginFit => "begin_fit",
            Event::BeginEpoch => "begin_epoch",
            Event::BeginBatch => "begin_batch",
            Event::AfterPred => "after_pred",
            Event::AfterLoss => "after_loss",
            Event::AfterBackward => "after_backward",
            Event::AfterStep => "after_step",
            Event::AfterBatch => "after_batch",
            Event::BeginValidate => "begin_validate",
            Event::AfterEpoch => "after_epoch",
            Event::AfterCancelBatch => "after_cancel_batch",
            Event::AfterCancelEpoch => "after_cancel_epoch",
            Event::AfterCancelTrain => "after_cancel_train",
            Event::AfterFit => "after_fit",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
