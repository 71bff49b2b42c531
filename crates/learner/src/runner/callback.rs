//! The [`Callback`] trait: one method per [`Event`], each a no-op by default, each
//! returning a [`Flow`].

use std::any::Any;

use crate::error::Result;
use crate::learner::Learner;
use crate::runner::{Event, Flow, RunState};

/// What a callback sees: the learner (model, optimiser, loss, data) and the run's state.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// Model, optimiser, loss and data.
    pub learn: &'a mut Learner,
    /// Progress and the current batch.
    pub state: &'a mut RunState,
}

/// Lets the runner hand back a callback by its concrete type (see
/// [`crate::Runner::callback`]). Implemented for every `'static` type.
pub trait AsAny: Any {
    /// `self` as `&dyn Any`.
    fn as_any(&self) -> &dyn Any;
    /// `self` as `&mut dyn Any`.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// The result of a callback method.
pub type CbResult = Result<Flow>;

/// A participant in the training loop.
///
/// Callbacks run in ascending [`Callback::order`]; equal orders keep the order in which
/// they were added. An `Err` aborts the run (after `after_fit`, which always runs).
#[allow(unused_variables)]
pub trait Callback: AsAny {
    /// A short name for messages.
    fn name(&self) -> &'static str;

    /// Position among the callbacks (lower runs first; default 0).
    fn order(&self) -> i32 {
        0
    }

    /// Once, before anything else.
    fn begin_fit(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        Ok(Flow::Continue)
    }
    /// At the start of each epoch.
    fn begin_epoch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        Ok(Flow::Continue)
    }
    /// Before each batch's forward pass.
    fn begin_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        Ok(Flow::Continue)
    }
    /// After the forward pass (`state.pred` is set).
    fn after_pred(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        Ok(Flow::Continue)
    }
    /// After the loss (`state.loss` is set).
    fn after_loss(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        Ok(Flow::Continue)
    }
    /// After the backward pass (training only).
    fn after_backward(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        Ok(Flow::Continue)
    }
    /// After the optimiser step (training only).
    fn after_step(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        Ok(Flow::Continue)
    }
    /// At the end of every batch, also a cancelled one.
    fn after_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        Ok(Flow::Continue)
    }
    /// Before the validation batches.
    fn begin_validate(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        Ok(Flow::Continue)
    }
    /// At the end of each epoch.
    fn after_epoch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        Ok(Flow::Continue)
    }
    /// After a batch was cancelled.
    fn after_cancel_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        Ok(Flow::Continue)
    }
    /// After a phase was cancelled.
    fn after_cancel_epoch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        Ok(Flow::Continue)
    }
    /// After training was cancelled.
    fn after_cancel_train(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        Ok(Flow::Continue)
    }
    /// Once, at the very end, also after a cancel or an error.
    fn after_fit(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        Ok(Flow::Continue)
    }
}

/// Calls the method of `cb` for `event`.
pub(crate) fn dispatch(cb: &mut dyn Callback, event: Event, ctx: &mut Ctx<'_>) -> CbResult {
    match event {
        Event::BeginFit => cb.begin_fit(ctx),
        Event::BeginEpoch => cb.begin_epoch(ctx),
        Event::BeginBatch => cb.begin_batch(ctx),
        Event::AfterPred => cb.after_pred(ctx),
        Event::AfterLoss => cb.after_loss(ctx),
        Event::AfterBackward => cb.after_backward(ctx),
        Event::AfterStep => cb.after_step(ctx),
        Event::AfterBatch => cb.after_batch(ctx),
        Event::BeginValidate => cb.begin_validate(ctx),
        Event::AfterEpoch => cb.after_epoch(ctx),
        Event::AfterCancelBatch => cb.after_cancel_batch(ctx),
        Event::AfterCancelEpoch => cb.after_cancel_epoch(ctx),
        Event::AfterCancelTrain => cb.after_cancel_train(ctx),
        Event::AfterFit => cb.after_fit(ctx),
    }
}
