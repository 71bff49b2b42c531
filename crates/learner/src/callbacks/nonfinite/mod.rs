//! [`NonFiniteGuard`]: stops training at the first NaN or infinity and says where it came
//! from.

mod diagnose;
mod probe;

use std::cell::RefCell;
use std::rc::Rc;

use autograd::{no_grad_guard, Var};
use layers::{HookEvent, HookHandle, Module, ModuleExt};
use tensor::{Device, Tensor};

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

/// Watches the loss of every batch and, through forward hooks on every leaf module, finds
/// the first module whose output went non-finite.
///
/// A hooked forward pass records the sums of the module's input and output as one-element
/// tensors (no host synchronisation). When the recorded values are read, the first module,
/// in forward order of the oldest unchecked batch, whose output is not finite is the
/// culprit, and the [`Diagnosis`] says why: its input was already non-finite, one of its
/// parameters or buffers is, its input shape makes a norm's statistics 0/0 (e.g.
/// `0.2 (InstanceNorm) produced NaN: its input had a 1x1 spatial map, unbiased variance 0/0`),
/// or else the input's scale and variance and how many outputs went bad.
///
/// Two ways to watch:
/// * **probing** ([`new`](Self::new), [`for_device`](Self::for_device)): every forward
///   pass is hooked, and every `check_every` batches (at `after_loss`, and at
///   `begin_validate`, `after_epoch` and `after_fit`) the batches since the last check are
///   read, so the first non-finite batch is found even when it is long gone. On the CPU
///   reading a scalar is free, so the default checks every batch; on a GPU, where each
///   read waits for the device, every 50 batches.
/// * **replaying** ([`replaying`](Self::replaying)): nothing is hooked while the loss is
///   finite, so training runs at full speed (hooks cost a reduction of every input and
///   output, and stop `Sequential` from fusing a ReLU into the norm after it). At
///   `after_loss` (before the backward pass and the step) a non-finite loss makes the
///   guard replay the batch: with the buffers put back to their values at `begin_batch`,
///   it runs the model's forward pass once more, without a graph and with the hooks on,
///   finds the culprit, and puts the buffers back to their values after the batch, so the
///   model ends as it would have without the replay. Other callbacks' hooks see the
///   replayed pass too. The loss is read every batch (free on the CPU; on a GPU it waits
///   for the device). A non-finite value that never reaches the loss — a `-inf` that a
///   ReLU turns into 0 — goes unreported. Not for models whose forward pass communicates
///   (`SyncBatchNorm` over several ranks): one rank's replay would wait for the others.
#[derive(Debug)]
pub struct NonFiniteGuard {
    mode: GuardMode,
    check_every: usize,
    since_check: usize,
    log: Rc<RefCell<ProbeLog>>,
    names: Vec<(String, &'static str)>,
    handles: Vec<HookHandle>,
    diagnosis: Option<Diagnosis>,
    /// Replays the batch of a non-finite loss instead of probing every batch.
    replay: bool,
    /// Every buffer of the model (replaying guards).
    buffers: Vec<Var>,
    /// Their values at `begin_batch` (replaying guards).
    before: Vec<Tensor>,
}

impl NonFiniteGuard {
    /// A probing guard checking every `check_every` batches (at least 1).
    pub fn new(mode: GuardMode, check_every: usize) -> Self {
        NonFiniteGuard {
            mode,
            check_every: check_every.max(1),
            since_check: 0,
            log: Rc::default(),
            names: Vec::new(),
            handles: Vec::new(),
            diagnosis: None,
            replay: false,
            buffers: Vec::new(),
            before: Vec::new(),
        }
    }

    /// A guard that reads every batch's loss and, when it is not finite, replays the batch
    /// with hooks to find the culprit (see the type's documentation).
    pub fn replaying(mode: GuardMode) -> Self {
        NonFiniteGuard {
            replay: true,
            ..Self::new(mode, 1)
        }
    }

    /// A probing guard with the default checking interval for `device`: every batch on the
    /// CPU, every 50 on a GPU.
    pub fn for_device(mode: GuardMode, device: Device) -> Self {
        Self::new(mode, if device.is_cuda() { 50 } else { 1 })
    }

    /// The first non-finite value found, if any.
    pub fn diagnosis(&self) -> Option<&Diagnosis> {
        self.diagnosis.as_ref()
    }

    fn stop_probing(&mut self) {
        self.handles.clear();
        self.before.clear();
        let mut log = self.log.borrow_mut();
        log.active = false;
        log.current = None;
        log.window.clear();
    }

    /// Hooks every leaf module of `model`, recording into the log (which it activates).
    fn install_probes(&mut self, model: &dyn Module) {
        self.names.clear();
        self.handles.clear();
        self.log.borrow_mut().active = true;
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
    }

    /// Runs the batch of `ctx` once more with the probes on, from the buffers it started
    /// with, and leaves the model's buffers as the batch left them; then checks it.
    fn replay(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        let Some(xb) = ctx.state.xb.clone() else {
            let e = "a callback removed the batch's `xb` before the guard could replay it";
            return Err(crate::LearnerError::Data(e.into()));
        };
        let loss = ctx.state.loss.as_ref().map(|l| l.value());
        let model = ctx.learn.model.as_ref();
        let after: Vec<Tensor> = self.buffers.iter().map(|b| b.value()).collect();
        set_values(&self.buffers, &self.before);
        let st = &*ctx.state;
        self.install_probes(model);
        self.log.borrow_mut().begin(st.epoch, st.iter, st.in_train);
        let replayed = {
            let _no_grad = no_grad_guard();
            model.call(&Var::constant(xb))
        };
        self.handles.clear();
        self.log.borrow_mut().finish(loss);
        set_values(&self.buffers, &after);
        replayed?;
        self.check(ctx)
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
        self.before.clear();
        *self.log.borrow_mut() = ProbeLog::default();
        let model = ctx.learn.model.as_ref();
        if self.replay {
            self.buffers = model.named_buffers().into_iter().map(|(_, b)| b).collect();
        } else {
            self.buffers.clear();
            self.install_probes(model);
        }
        Ok(Flow::Continue)
    }

    fn begin_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        if self.diagnosis.is_some() {
            return Ok(Flow::Continue);
        }
        if self.replay {
            // Shared handles: a buffer updated in place copies itself first.
            self.before.clear();
            self.before.extend(self.buffers.iter().map(|b| b.value()));
        } else {
            let st = &*ctx.state;
            self.log.borrow_mut().begin(st.epoch, st.iter, st.in_train);
        }
        Ok(Flow::Continue)
    }

    fn after_loss(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        if self.diagnosis.is_some() {
            return Ok(Flow::Continue);
        }
        if self.replay {
            let finite = match ctx.state.loss.as_ref() {
                Some(l) => l.value().to_scalar()?.is_finite(),
                None => true,
            };
            return if finite {
                Ok(Flow::Continue)
            } else {
                self.replay(ctx)
            };
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

/// Sets each of `vars` to the matching value (shared handles, no copies).
fn set_values(vars: &[Var], values: &[Tensor]) {
    for (v, t) in vars.iter().zip(values) {
        v.set_value(t.clone());
    }
}
