//! Our side of the benchmark: the lesson's training steps in this process, timed by
//! [`TrainTimer`] (training steps only, after untimed warm-up steps).

use learner::callbacks::{mnist_view, BatchTransformX, DeviceCallback, GuardMode, ParamScheduler};
use learner::{Callback, Runner};
use mnist_data::MnistSplits;
use norms::NormKind;
use schedule::one_cycle;
use tensor::Device;

use crate::bench_timer::TrainTimer;
use crate::session::{make_learner, LrChoice, NormChoice, RunConfig};

/// One timed run: `warmup` untimed then `steps` timed training steps (within one epoch).
#[derive(Clone, Copy, Debug)]
pub struct OurRun {
    /// The norm of every conv layer.
    pub norm: NormKind,
    /// Batch size.
    pub bs: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Timed steps.
    pub steps: usize,
    /// One-cycle `(lo, hi, end)` over the `warmup + steps` steps.
    pub sched: (f64, f64, f64),
    /// Where to train.
    pub device: Device,
}

/// Seconds over the timed steps. `extra` callbacks (e.g. a profiler) run beside the timer.
pub fn time_ours(
    run: &OurRun,
    splits: &MnistSplits,
    extra: Vec<Box<dyn Callback>>,
) -> Result<(f64, Runner), Box<dyn std::error::Error>> {
    let (lo, hi, end) = run.sched;
    let sched = one_cycle(lo, hi, end)?;
    let cfg = RunConfig {
        norm: NormChoice(Some(run.norm)),
        bs: run.bs,
        lr: LrChoice::Const(lo),
        epochs: 1,
        seed: 0,
        device: run.device,
        out: None,
        max_steps: Some(run.warmup + run.steps),
        stats: false,
        guard: GuardMode::Report,
        print: false,
        progress: false,
        checkpoint: false,
        resume: None,
    };
    let mut learn = make_learner(&cfg, splits)?;
    let mut cbs: Vec<Box<dyn Callback>> = vec![
        Box::new(DeviceCallback::new(run.device)),
        Box::new(BatchTransformX::new(mnist_view())),
        Box::new(ParamScheduler::new("lr", Box::new(sched))),
        Box::new(TrainTimer::new(run.warmup)),
    ];
    cbs.extend(extra);
    let mut runner = Runner::with_callbacks(cbs);
    crate::session::fit_on(run.device, || runner.fit(1, &mut learn))?;
    let timer = runner
        .callback::<TrainTimer>()
        .ok_or("the timer went missing")?;
    if timer.steps != run.steps {
        return Err(format!("timed {} steps, expected {}", timer.steps, run.steps).into());
    }
    Ok((timer.seconds, runner))
}
