//! [`NonFiniteGuard`]: stops training at the first NaN or infinity and says where it came
//! from.

mod diagnose;
mod probe;

use std::cell::RefCell;
use std::rc::Rc;

use layers::{HookEvent, HookHandle, ModuleExt};
use tensor::Device;

pub use diagnose::{Diagnosis, NonFiniteKind};

use crate::runner::{Callback, CbResult, Ctx, Flow};
use probe::ProbeLog;

/// What the guard does when it finds a non-finite value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardMode {
    /// Cancel training (the default).
    Stop,
    /// Keep the first diagnosis, stop probing, and let training go on (the lesson's
    /// all-NaN runs are results worth reporting).
    Report,
}

/// Watches every leaf module through forward hooks and the loss of every batch.
///
/// Each hooked forward pass records the sums of the module's input and output as
/// one-element tensors (no host synchronisation). Every `check_every` batches (at
/// `after_loss`, before the backward pass and the step), and at `begin_validate`,
/// `after_epoch` and `after_fit`, the recorded sums are read; the first module, in forward
/// order of the oldest unchecked batch, whose output is not finite is the culprit, and the
/// [`Diagnosis`] says why: its input was already non-finite, one of its parameters or
/// buffers is, its input shape makes a norm's statistics 0/0 (e.g.
/// `0.2 (InstanceNorm) produced NaN: its input had a 1x1 spatial map, unbiased variance 0/0`),
/// or else the input's scale and variance and how many outputs went bad.
///
/// On the CPU reading a scalar is free, so the default checks every batch; on a GPU the
/// default is every 50 batches.
#[derive(Debug)]
pub struct NonFiniteGuard {
    mode: GuardMode,
    check_every: usize,
    since_check: usize,
    log: Rc<RefCell<ProbeLog>>,
    names: Vec<(String, &'static str)>,
    handles: Vec<HookHandle>,
    diagnosis: Option<Diagnosis>,
}

impl NonFiniteGuard {
    /// A guard checking every `check_every` batches (at least 1).
    pub fn new(mode: GuardMode, check_every: usize) -> Self {
        NonFiniteGuard {
            mode,
            check_every: check_every.max(1),
            since_check: 0,
            log: Rc::default(),
            names: Vec::new(),
            handles: Vec::new(),
            diagnosis: None,
        }
    }

    /// The default checking interval for `device`: every batch on the CPU, every 50 on a GPU.
    pub fn for_device(mode: GuardMode, device: Device) -> Self {
        Self::new(mode, if device.is_cuda() { 50 } else { 1 })
    }

    /// The first non-finite value found, if any.
    pub fn diagnosis(&self) -> Option<&Diagnosis> {
        self.diagnosis.as_ref()
    }

    fn stop_probing(&mut self) {
        self.handles.clear();
        let mut log = self.log.borrow_mut();
        log.active = false;
        log.current = None;
        log.window.clear();
    }

    /// Reads the unchecked batches; on a find, records it and answers per the mode.
    fn check(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        self.since_check = 0;
        if self.diagnosis.is_some() {
            return Ok(self.on_found());
        }
        let window = std::mem::take(&mut self.log.borrow_mut().window);
        if window.is_empty() {
            return Ok(Flow::Continue);
        }
        let found = diagnose::diagnose(&window, &self.names, ctx.learn.model.as_ref())?;
        if let Some(d) = found {
            self.diagnosis = Some(d);
            self.stop_probing();
            return Ok(self.on_found());
        }
        Ok(Flow::Continue)
    }

    fn on_found(&self) -> Flow {
        match self.mode {
            GuardMode::Stop => Flow::CancelTrain,
            GuardMode::Report => Flow::Continue,
        }
    }
}

impl Callback for NonFiniteGuard {
    fn name(&self) -> &'static str {
        "non_finite_guard"
    }

    /// After the statistics callbacks have seen the batch.
    fn order(&self) -> i32 {
        5
    }

    fn begin_fit(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        self.diagnosis = None;
        self.since_check = 0;
        self.names.clear();
        self.handles.clear();
        *self.log.borrow_mut() = ProbeLog {
            active: true,
            ..ProbeLog::default()
        };
        let model = ctx.learn.model.as_ref();
        for (path, module) in model.named_modules() {
            if !module.children().is_empty() {
                continue;
            }
            let index = self.names.len();
            let name = if path.is_empty() {
                "model".to_string()
            } else {
                path
            };
            self.names.push((name, module.type_name()));
            let log = Rc::clone(&self.log);
            self.handles
                .push(module.hooks().register(move |ev: &HookEvent<'_>| {
                    log.borrow_mut()
                        .record(index, &ev.input.value_ref(), &ev.output.value_ref())
                }));
        }
        Ok(Flow::Continue)
    }

    fn begin_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        if self.diagnosis.is_none() {
            let st = &*ctx.state;
            self.log.borrow_mut().begin(st.epoch, st.iter, st.in_train);
        }
        Ok(Flow::Continue)
    }

    fn after_loss(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        if self.diagnosis.is_some() {
            return Ok(Flow::Continue);
        }
        let loss = ctx.state.loss.as_ref().map(|l| l.value());
        self.log.borrow_mut().finish(loss);
        self.since_check += 1;
        if self.since_check >= self.check_every {
            return self.check(ctx);
        }
        Ok(Flow::Continue)
    }

    fn begin_validate(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        self.check(ctx)
    }

    fn after_epoch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        self.check(ctx)
    }

    fn after_fit(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        if self.diagnosis.is_none() {
            self.check(ctx)?;
        }
        self.stop_probing();
        Ok(Flow::Continue)
    }
}
