//! Running one session: data, model, learner, the lesson's callbacks, reports.

use std::error::Error;
use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use layers::ModuleExt;
use learner::callbacks::{
    accuracy, lr_find, mnist_view, ActivationStats, AvgStats, BatchTransformX, CheckpointSaver,
    DeviceCallback, Diagnosis, EpochStats, HistSpec, LrFindResult, LrFinder, MetricsLogger,
    NonFiniteGuard, ParamScheduler, Progress, Recorder,
};
use learner::checkpoint::{checkpoint_dir, load_checkpoint, write_atomic};
use learner::data::mnist_bunch;
use learner::distributed::{DataParallel, RemoteStop, StopVote};
use learner::{Callback, FitOutcome, Learner, LearnerError, Runner};
use mnist_data::MnistSplits;
use schedule::Schedule;

use crate::session::{
    build_model, build_sync_model, check_device, fit_on, LrChoice, Parallel, RenormClip, RunConfig,
};

/// What a session produced.
#[derive(Debug)]
pub struct RunResult {
    /// Per-epoch averages (only the epochs this process ran).
    pub epochs: Vec<EpochStats>,
    /// Completed or cancelled.
    pub outcome: FitOutcome,
    /// The first NaN/infinity found, if any.
    pub diagnosis: Option<Diagnosis>,
    /// Set when this rank stopped because other ranks did (data-parallel runs).
    pub stopped_by: Option<RemoteStop>,
    /// Files written into the report directory.
    pub files: Vec<PathBuf>,
    /// Wall-clock seconds of `fit`.
    pub seconds: f64,
    /// Training batches per epoch.
    pub steps_per_epoch: usize,
}

/// A learner for `cfg` on `splits`, on `cfg.device`, with its initial learning rate.
pub fn make_learner(cfg: &RunConfig, splits: &MnistSplits) -> Result<Learner, Box<dyn Error>> {
    make_learner_on(cfg, splits, &Parallel::single())
}

/// [`make_learner`] for one rank of `par`: loaders over this rank's strided share at the
/// local batch size `cfg.bs / world` (validation twice that), and the BatchNorm2d layers
/// made SyncBatchNorms over `par.comm` when `par.sync_batch`.
pub fn make_learner_on(
    cfg: &RunConfig,
    splits: &MnistSplits,
    par: &Parallel,
) -> Result<Learner, Box<dyn Error>> {
    cfg.validate()?;
    check_device(cfg.device)?;
    let bs = par.local_bs(cfg.bs)?;
    let mut data = mnist_bunch(splits, bs, cfg.seed, cfg.device)?;
    data.train = data.train.with_max_batches(cfg.max_steps)?;
    if par.world() > 1 {
        let (rank, world) = (par.comm.rank(), par.world());
        data.train = data.train.distributed(rank, world)?;
        data.valid = data.valid.distributed(rank, world)?;
    }
    let model = if par.sync_batch {
        build_sync_model(par.comm.clone(), cfg.seed)?
    } else {
        build_model(cfg.norm, cfg.seed)?
    };
    model.to_device(cfg.device)?;
    let lr = match &cfg.lr {
        LrChoice::Const(lr) => *lr,
        LrChoice::Sched(s) => s.at(0.0),
    };
    Ok(Learner::new(model, data, lr)?)
}

/// Trains as `cfg` says and writes the report (metrics.jsonl, loss/lr plot, activation plots
/// with `stats`, checkpoints) into `cfg.out`.
pub fn execute(cfg: &RunConfig, splits: &MnistSplits) -> Result<RunResult, Box<dyn Error>> {
    execute_on(cfg, splits, &Parallel::single())
}

/// [`execute`] as one rank of `par`: gradients averaged and epoch figures reduced over the
/// ranks; only rank 0 prints, shows progress and writes the report and checkpoints (the
/// others write nothing); every rank loads the checkpoint it resumes from.
pub fn execute_on(
    cfg: &RunConfig,
    splits: &MnistSplits,
    par: &Parallel,
) -> Result<RunResult, Box<dyn Error>> {
    let mut learn = make_learner_on(cfg, splits, par)?;
    let steps_per_epoch = learn.data.train.len();
    let root = par.is_root();
    let identity = par.identity(cfg.identity());
    let mut avg = AvgStats::new(vec![accuracy()]).printing(cfg.print && root);
    let mut cbs: Vec<Box<dyn Callback>> = Vec::new();
    if par.world() > 1 {
        avg = avg.with_collective(par.comm.clone());
        cbs.push(Box::new(DataParallel::new(par.comm.clone())));
        cbs.push(Box::new(StopVote::new(par.comm.clone())));
    }
    cbs.extend([
        Box::new(DeviceCallback::new(cfg.device)) as Box<dyn Callback>,
        Box::new(Recorder::new()),
        Box::new(avg),
        Box::new(BatchTransformX::new(mnist_view())),
        Box::new(guard(cfg, par)),
    ]);
    if cfg.progress && root {
        cbs.push(Box::new(Progress::auto()));
    }
    if let LrChoice::Sched(s) = &cfg.lr {
        cbs.push(Box::new(ParamScheduler::new("lr", Box::new(s.clone()))));
    }
    if cfg.norm.0 == Some(norms::NormKind::BatchRenorm) {
        cbs.push(Box::new(RenormClip));
    }
    if cfg.stats {
        cbs.push(Box::new(ActivationStats::new(HistSpec::LESSON)));
    }
    let (start, n_iter) = match &cfg.resume {
        Some(dir) => {
            let state = load_checkpoint(dir, learn.model.as_ref(), &mut learn.opt)?;
            if state.config != identity {
                return Err(LearnerError::Checkpoint {
                    path: dir.clone(),
                    reason: format!(
                        "was saved with other settings ({}); resume with the same flags",
                        describe(&state.config)
                    ),
                }
                .into());
            }
            (state.epochs_done, state.n_iter)
        }
        None => (0, 0),
    };
    let out_dir = cfg.out.as_ref().filter(|_| root);
    if let Some(out) = out_dir {
        fs::create_dir_all(out).map_err(|e| LearnerError::io(out, e))?;
        let config = serde_json::to_vec_pretty(&identity)?;
        write_atomic(&out.join("config.json"), &config)?;
        let metrics = out.join("metrics.jsonl");
        cbs.push(Box::new(if cfg.resume.is_some() {
            MetricsLogger::resume(metrics)?
        } else {
            MetricsLogger::create(metrics)
        }));
        if cfg.checkpoint {
            cbs.push(Box::new(CheckpointSaver::new(
                checkpoint_dir(out),
                identity.clone(),
            )));
        }
    }
    let mut runner = Runner::with_callbacks(cbs);
    let t0 = Instant::now();
    // One process per machine spins its spare workers; ranks sharing a machine do not (a
    // rank waiting in a collective would keep a core busy that another rank needs).
    let mut fit = || runner.fit_from(cfg.epochs, &mut learn, start, n_iter);
    let outcome = if par.world() > 1 {
        fit()?
    } else {
        fit_on(cfg.device, fit)?
    };
    let seconds = t0.elapsed().as_secs_f64();
    let mut files = Vec::new();
    if let Some(out) = out_dir {
        files.push(out.join("config.json"));
        if out.join("metrics.jsonl").is_file() {
            files.push(out.join("metrics.jsonl"));
        }
        if let Some(rec) = runner.callback::<Recorder>() {
            if !rec.is_empty() {
                let path = out.join("loss_lr.png");
                rec.plot_loss_and_lr(&path)?;
                files.push(path);
            }
        }
        if let Some(stats) = runner.callback::<ActivationStats>() {
            files.extend(stats.write_plots(out)?);
        }
    }
    Ok(RunResult {
        epochs: runner
            .callback::<AvgStats>()
            .map(|a| a.history().to_vec())
            .unwrap_or_default(),
        outcome,
        diagnosis: runner
            .callback::<NonFiniteGuard>()
            .and_then(|g| g.diagnosis().cloned()),
        stopped_by: runner.callback::<StopVote>().and_then(|v| v.stopped_by()),
        files,
        seconds,
        steps_per_epoch,
    })
}

/// The run's non-finite guard: on the CPU it replays a batch whose loss is not finite
/// (nothing is hooked while training is healthy); on a GPU, where reading the loss every
/// batch would wait for the device, and in a data-parallel run with `SyncBatchNorm`, whose
/// forward pass communicates, it probes every forward pass instead.
fn guard(cfg: &RunConfig, par: &Parallel) -> NonFiniteGuard {
    let communicates = par.world() > 1 && par.sync_batch;
    if cfg.device.is_cuda() || communicates {
        NonFiniteGuard::for_device(cfg.guard, cfg.device)
    } else {
        NonFiniteGuard::replaying(cfg.guard)
    }
}

/// The lesson's LR finder on a fresh model for `cfg`; writes `lr_finder.png` into
/// `cfg.out` when set.
pub fn find_lr(
    cfg: &RunConfig,
    splits: &MnistSplits,
) -> Result<(LrFindResult, Option<PathBuf>), Box<dyn Error>> {
    let mut learn = make_learner(cfg, splits)?;
    let extra: Vec<Box<dyn Callback>> = vec![
        Box::new(DeviceCallback::new(cfg.device)),
        Box::new(BatchTransformX::new(mnist_view())),
    ];
    let result = lr_find(&mut learn, LrFinder::lesson(), extra)?;
    let mut plot = None;
    if let Some(out) = &cfg.out {
        fs::create_dir_all(out).map_err(|e| LearnerError::io(out, e))?;
        let path = out.join("lr_finder.png");
        learner::report::plot_lr_finder(&path, &result.lrs, &result.losses)?;
        plot = Some(path);
    }
    Ok((result, plot))
}

fn describe(m: &std::collections::BTreeMap<String, String>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
