//! The [`Runner`]: the lesson's training loop with callbacks.
//!
//! `fit(epochs, learn)` runs, for callbacks sorted by [`Callback::order`]:
//!
//! ```text
//! begin_fit
//! for each epoch:
//!     begin_epoch
//!     for each training batch:
//!         begin_batch -> (forward) after_pred -> (loss) after_loss
//!         -> (backward) after_backward -> (step) after_step -> (zero grads) -> after_batch
//!     (gradients off) begin_validate
//!     for each validation batch:
//!         begin_batch -> after_pred -> after_loss -> after_batch
//!     after_epoch
//! after_fit            (always: also after a cancel or an error)
//! ```
//!
//! Cancelling is done by returning a [`Flow`]:
//!
//! | returned | where | what follows |
//! |---|---|---|
//! | `CancelBatch` | inside a batch | `after_cancel_batch`, `after_batch`, next batch |
//! | `CancelEpoch` | inside a batch | `after_batch`, `after_cancel_epoch`, next phase |
//! | `CancelEpoch` | `begin_epoch` / `begin_validate` | `after_cancel_epoch`, the phase's batches are skipped |
//! | `CancelTrain` | anywhere before `after_fit` | (`after_batch` if in a batch) `after_cancel_train`, `after_fit` |
//!
//! A signal with nothing to cancel where it is returned (`CancelBatch` outside a batch or
//! from `after_batch`, `CancelEpoch` from `begin_fit` or `after_epoch`, anything from
//! `after_fit` or `after_cancel_train`) is ignored. A signal returned by
//! `after_cancel_batch` or `after_cancel_epoch` escalates (`CancelEpoch`/`CancelTrain` from
//! the former, `CancelTrain` from the latter). The first callback that returns a signal
//! stops the dispatch of that event. An error (from a callback, the model or the data)
//! aborts the loop at once; `after_fit` still runs, and the first error is returned.
//!
//! The [`TrainEval`](crate::callbacks::TrainEval) callback is always present and always
//! first: it switches train/eval mode and keeps the counters of [`RunState`].

mod callback;
mod event;
mod fit;
mod flow;
mod state;

pub use callback::{AsAny, Callback, CbResult, Ctx};
pub use event::Event;
pub use fit::{FitOutcome, Runner};
pub use flow::Flow;
pub use state::RunState;
