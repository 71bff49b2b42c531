//! The loop itself (see the module documentation of [`crate::runner`] for the order).

use autograd::{no_grad_guard, Var};
use tensor::Tensor;

use crate::callbacks::TrainEval;
use crate::error::{LearnerError, Result};
use crate::learner::Learner;
use crate::runner::callback::dispatch;
use crate::runner::{Callback, Ctx, Event, Flow, RunState};

/// How a [`Runner::fit`] ended without error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FitOutcome {
    /// Every epoch ran.
    Completed,
    /// A callback cancelled training during `epoch`, after `n_iter` training batches.
    Cancelled {
        /// The epoch in which training stopped.
        epoch: usize,
        /// Training batches completed over the run.
        n_iter: usize,
    },
}

/// What is left to skip after a batch or a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stop {
    None,
    Epoch,
    Train,
}

/// Runs `fit` with an ordered list of callbacks.
pub struct Runner {
    cbs: Vec<Box<dyn Callback>>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("callbacks", &self.callback_names())
            .finish()
    }
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

impl Runner {
    /// A runner with only the train/eval callback.
    pub fn new() -> Self {
        Runner {
            cbs: vec![Box::new(TrainEval::new())],
        }
    }

    /// A runner with these callbacks (plus the train/eval callback, first).
    pub fn with_callbacks(cbs: Vec<Box<dyn Callback>>) -> Self {
        let mut runner = Self::new();
        for cb in cbs {
            runner.add(cb);
        }
        runner
    }

    /// Adds a callback after every callback of lower or equal order.
    pub fn add(&mut self, cb: Box<dyn Callback>) -> &mut Self {
        let at = self
            .cbs
            .iter()
            .position(|c| c.order() > cb.order())
            .unwrap_or(self.cbs.len());
        self.cbs.insert(at, cb);
        self
    }

    /// The callbacks' names in the order they run.
    pub fn callback_names(&self) -> Vec<&'static str> {
        self.cbs.iter().map(|c| c.name()).collect()
    }

    /// The first callback of type `T`.
    pub fn callback<T: Callback>(&self) -> Option<&T> {
        self.cbs.iter().find_map(|c| c.as_any().downcast_ref::<T>())
    }

    /// The first callback of type `T`, mutably.
    pub fn callback_mut<T: Callback>(&mut self) -> Option<&mut T> {
        self.cbs
            .iter_mut()
            .find_map(|c| c.as_any_mut().downcast_mut::<T>())
    }

    /// Trains `learn` for `epochs` epochs (the lesson's `run.fit(epochs, learn)`).
    pub fn fit(&mut self, epochs: usize, learn: &mut Learner) -> Result<FitOutcome> {
        self.fit_from(epochs, learn, 0, 0)
    }

    /// Runs epochs `start..epochs` with `n_iter` training batches already done: a resumed
    /// run (schedules see the same positions as in an uninterrupted one).
    pub fn fit_from(
        &mut self,
        epochs: usize,
        learn: &mut Learner,
        start: usize,
        n_iter: usize,
    ) -> Result<FitOutcome> {
        if start > epochs {
            return Err(LearnerError::config(
                "start epoch",
                format!("{start} is past the last epoch {epochs}"),
            ));
        }
        let mut st = RunState::new(epochs, start, n_iter);
        let result = self.run_epochs(learn, &mut st).and_then(|stop| {
            if stop == Stop::Train {
                self.call(Event::AfterCancelTrain, learn, &mut st)?;
                Ok(FitOutcome::Cancelled {
                    epoch: st.epoch,
                    n_iter: st.n_iter,
                })
            } else {
                Ok(FitOutcome::Completed)
            }
        });
        st.clear_batch();
        let after = self.call(Event::AfterFit, learn, &mut st);
        let outcome = result?;
        after?;
        Ok(outcome)
    }

    /// Runs every callback's method for `event`, stopping at the first signal.
    fn call(&mut self, event: Event, learn: &mut Learner, st: &mut RunState) -> Result<Flow> {
        let mut ctx = Ctx { learn, state: st };
        for cb in self.cbs.iter_mut() {
            let flow = dispatch(cb.as_mut(), event, &mut ctx)?;
            if !flow.is_continue() {
                return Ok(flow);
            }
        }
        Ok(Flow::Continue)
    }

    fn run_epochs(&mut self, learn: &mut Learner, st: &mut RunState) -> Result<Stop> {
        if self.call(Event::BeginFit, learn, st)? == Flow::CancelTrain {
            return Ok(Stop::Train);
        }
        for epoch in st.epoch..st.epochs {
            st.epoch = epoch;
            if self.phase(learn, st, true)? == Stop::Train {
                return Ok(Stop::Train);
            }
            {
                let _no_grad = no_grad_guard();
                if self.phase(learn, st, false)? == Stop::Train {
                    return Ok(Stop::Train);
                }
            }
            if self.call(Event::AfterEpoch, learn, st)? == Flow::CancelTrain {
                return Ok(Stop::Train);
            }
        }
        Ok(Stop::None)
    }

    /// The training (`begin_epoch` + batches) or validation (`begin_validate` + batches)
    /// phase of one epoch.
    fn phase(&mut self, learn: &mut Learner, st: &mut RunState, train: bool) -> Result<Stop> {
        let begin = if train {
            Event::BeginEpoch
        } else {
            Event::BeginValidate
        };
        match self.call(begin, learn, st)? {
            Flow::CancelTrain => return Ok(Stop::Train),
            Flow::CancelEpoch => return self.cancel_epoch(learn, st),
            Flow::Continue | Flow::CancelBatch => {}
        }
        let mut batches = loader(learn, train).iter(st.epoch);
        st.iters = loader(learn, train).len();
        let mut stop = Stop::None;
        for i in 0..st.iters {
            st.iter = i;
            let (xb, yb) = match batches.next() {
                Some(b) => b?,
                None => break,
            };
            match self.one_batch(learn, st, xb, yb)? {
                Stop::None => {}
                s => {
                    stop = s;
                    break;
                }
            }
        }
        match stop {
            Stop::Epoch => self.cancel_epoch(learn, st),
            s => Ok(s),
        }
    }

    fn cancel_epoch(&mut self, learn: &mut Learner, st: &mut RunState) -> Result<Stop> {
        match self.call(Event::AfterCancelEpoch, learn, st)? {
            Flow::CancelTrain => Ok(Stop::Train),
            _ => Ok(Stop::None),
        }
    }

    fn one_batch(
        &mut self,
        learn: &mut Learner,
        st: &mut RunState,
        xb: Tensor,
        yb: Tensor,
    ) -> Result<Stop> {
        st.xb = Some(xb);
        st.yb = Some(yb);
        let flow = self.batch_body(learn, st)?;
        if !flow.is_continue() && st.in_train {
            // A batch cancelled after its backward pass must not leak gradients into the next.
            learn.opt.zero_grad();
        }
        let mut stop = match flow {
            Flow::Continue => Stop::None,
            Flow::CancelBatch => match self.call(Event::AfterCancelBatch, learn, st)? {
                Flow::CancelEpoch => Stop::Epoch,
                Flow::CancelTrain => Stop::Train,
                Flow::Continue | Flow::CancelBatch => Stop::None,
            },
            Flow::CancelEpoch => Stop::Epoch,
            Flow::CancelTrain => Stop::Train,
        };
        stop = stop.max(match self.call(Event::AfterBatch, learn, st)? {
            Flow::CancelEpoch => Stop::Epoch,
            Flow::CancelTrain => Stop::Train,
            Flow::Continue | Flow::CancelBatch => Stop::None,
        });
        st.clear_batch();
        Ok(stop)
    }

    /// Forward, loss and (in training) backward, step and zero-grad, with their events.
    fn batch_body(&mut self, learn: &mut Learner, st: &mut RunState) -> Result<Flow> {
        macro_rules! event {
            ($e:expr) => {
                let flow = self.call($e, learn, st)?;
                if !flow.is_continue() {
                    return Ok(flow);
                }
            };
        }
        event!(Event::BeginBatch);
        let xb = st.xb.clone().ok_or_else(|| missing("xb"))?;
        let pred = learn.model.call(&Var::constant(xb))?;
        st.pred = Some(pred);
        event!(Event::AfterPred);
        let pred = st.pred.clone().ok_or_else(|| missing("pred"))?;
        let yb = st.yb.clone().ok_or_else(|| missing("yb"))?;
        let loss = (learn.loss_fn)(&pred, &Var::constant(yb))?;
        drop(pred);
        st.loss = Some(loss);
        event!(Event::AfterLoss);
        if !st.in_train {
            return Ok(Flow::Continue);
        }
        let loss = st.loss.take().ok_or_else(|| missing("loss"))?;
        loss.backward()?;
        // Free the graph before the step, so the parameters' storage is no longer shared
        // with saved tensors and the in-place update does not copy it.
        st.loss = Some(loss.detach());
        drop(loss);
        st.pred = st.pred.take().map(|p| p.detach());
        event!(Event::AfterBackward);
        learn.opt.step()?;
        event!(Event::AfterStep);
        learn.opt.zero_grad();
        Ok(Flow::Continue)
    }
}

/// The loader of the training (`train`) or validation phase.
fn loader(learn: &Learner, train: bool) -> &crate::data::DataLoader {
    if train {
        &learn.data.train
    } else {
        &learn.data.valid
    }
}

fn missing(what: &str) -> LearnerError {
    LearnerError::Data(format!("a callback removed the batch's `{what}`"))
}
