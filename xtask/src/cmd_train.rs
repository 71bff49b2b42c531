//! `train`: trains the lesson's CNN once and writes a report.

use std::error::Error;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use learner::callbacks::GuardMode;
use learner::FitOutcome;
use norms::NormKind;
use schedule::DynSchedule;
use tensor::Device;

use crate::session::{
    execute_on, find_lr, launch, load_splits, utc_stamp, Launch, LrChoice, NormChoice, Parallel,
    RunConfig, RunResult,
};
use crate::CmdResult;

/// The schedule used when neither `--lr` nor `--sched` is given: one cycle from 0.2 up to
/// 1.0 (cosine, first 30%) and down to 0.01. With BatchNorm2d, bs 512 and 4 epochs it
/// reached 0.984 validation accuracy on MNIST (seed 0, CPU).
pub const DEFAULT_SCHED: &str = "one_cycle(0.2,1.0,0.01)";

/// The norms `--norm` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NormArg {
    /// No norm; convolutions keep their bias.
    None,
    /// The lesson's BatchNorm (unbiased batch variance, no gradient through statistics).
    BatchLesson,
    /// PyTorch's BatchNorm2d.
    Batch,
    /// PyTorch's SyncBatchNorm: BatchNorm2d with statistics over every rank's share of the
    /// batch (exactly BatchNorm2d on one rank).
    SyncBatch,
    /// The lesson's LayerNorm.
    Layer,
    /// The lesson's InstanceNorm (eps 1.0).
    Instance,
    /// GroupNorm with `--groups` groups.
    Group,
    /// fastai's RunningBatchNorm.
    RunningBatch,
    /// Batch Renormalization (rmax/dmax relaxed from 1/0 to 3/5 over training).
    BatchRenorm,
    /// PyTorch's LayerNorm over (C, H, W).
    LayerPytorch,
    /// PyTorch's InstanceNorm2d (its defaults).
    InstancePytorch,
}

impl NormArg {
    /// The norm for `groups` groups (only `group` uses it).
    pub fn choice(self, groups: usize) -> Result<NormChoice, String> {
        let name = match self {
            NormArg::None => return Ok(NormChoice(None)),
            NormArg::BatchLesson => "batch-lesson".to_string(),
            NormArg::Batch | NormArg::SyncBatch => "batch".to_string(),
            NormArg::Layer => "layer".to_string(),
            NormArg::Instance => "instance".to_string(),
            NormArg::Group => format!("group:{groups}"),
            NormArg::RunningBatch => "running-batch".to_string(),
            NormArg::BatchRenorm => "batch-renorm".to_string(),
            NormArg::LayerPytorch => "layer-pytorch".to_string(),
            NormArg::InstancePytorch => "instance-pytorch".to_string(),
        };
        name.parse::<NormKind>()
            .map(|k| NormChoice(Some(k)))
            .map_err(|e| e.to_string())
    }
}

/// What to do at the first NaN or infinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnNonFinite {
    /// Stop training and exit with an error naming the module.
    Stop,
    /// Report the module once and keep training (the lesson's NaN runs).
    Continue,
}

/// Arguments of `train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Data directory, `sample` for the bundled sample, or an `.npz` file holding
    /// x_train, y_train, x_valid, y_valid (images [N,784], [N,28,28] or [N,1,28,28], float
    /// in [0,1] or uint8; labels 0-9) [default: $MNIST_DIR, else data/mnist in the
    /// workspace, fetched there when missing].
    #[arg(long, value_name = "DIR|FILE.npz")]
    pub data: Option<OsString>,
    /// Normalisation layer after each convolution's ReLU.
    #[arg(long, value_enum, default_value_t = NormArg::Batch)]
    pub norm: NormArg,
    /// Groups of `--norm group` (must divide every layer width: 8, 16, 32, 64).
    #[arg(long, default_value_t = NormKind::DEFAULT_GROUPS, value_name = "N")]
    pub groups: usize,
    /// Training batch size (validation uses twice as much); with several ranks the global
    /// batch, of which each rank takes bs / ranks.
    #[arg(long, default_value_t = 512)]
    pub bs: usize,
    /// Train data-parallel on N MPI ranks of this machine (starts `mpirun -np N` on this
    /// program; needs a build with the `mpi` feature: `cargo xtask-mpi train --ranks N`).
    /// Under `mpirun` the job's size is used and --ranks may be left out.
    #[arg(long, value_name = "N")]
    pub ranks: Option<usize>,
    /// Constant learning rate (instead of the default schedule).
    #[arg(long, conflicts_with = "sched", allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Learning-rate schedule in text form, e.g. `combine([.3,.7],[lin(.6,2),lin(2,.1)])`
    /// [default: one_cycle(0.2,1.0,0.01)].
    #[arg(long, value_name = "SCHED")]
    pub sched: Option<DynSchedule>,
    /// Epochs.
    #[arg(long, default_value_t = 4)]
    pub epochs: usize,
    /// Seed of the initialisation and the data order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Device: `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// Report directory [default: runs/<UTC timestamp> in the workspace].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// At most this many training batches per epoch (smoke runs).
    #[arg(long, value_name = "N")]
    pub max_steps: Option<usize>,
    /// Record per-layer activation statistics and plot them.
    #[arg(long)]
    pub stats: bool,
    /// What to do at the first NaN or infinity.
    #[arg(long, value_enum, default_value_t = OnNonFinite::Stop)]
    pub on_nonfinite: OnNonFinite,
    /// Resume from a checkpoint directory (e.g. runs/X/checkpoint), with the same flags.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Do not save a checkpoint after each epoch.
    #[arg(long)]
    pub no_checkpoint: bool,
    /// Run the lesson's LR finder (100 steps, 1e-6 to 10) instead of training.
    #[arg(long)]
    pub lr_find: bool,
}

impl TrainArgs {
    /// The session's settings.
    pub fn config(&self) -> Result<RunConfig, Box<dyn std::error::Error>> {
        let lr = match (&self.lr, &self.sched) {
            (Some(lr), _) => LrChoice::Const(*lr),
            (None, Some(s)) => LrChoice::Sched(s.clone()),
            (None, None) => LrChoice::Sched(DEFAULT_SCHED.parse()?),
        };
        let out = match &self.out {
            Some(o) => o.clone(),
            None => mnist_data::workspace_root().join("runs").join(utc_stamp()),
        };
        let cfg = RunConfig {
            norm: self.norm.choice(self.groups)?,
            bs: self.bs,
            lr,
            epochs: self.epochs,
            seed: self.seed,
            device: self.device,
            out: Some(out),
            max_steps: self.max_steps,
            stats: self.stats,
            guard: match self.on_nonfinite {
                OnNonFinite::Stop => GuardMode::Stop,
                OnNonFinite::Continue => GuardMode::Report,
            },
            print: true,
            progress: true,
            checkpoint: !self.no_checkpoint,
            resume: self.resume.clone(),
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// `train`: checks every setting, loads the data, trains, prints the lesson's lines per
/// epoch and writes the report.
pub fn train(args: &TrainArgs) -> CmdResult {
    let cfg = args.config()?;
    crate::session::check_device(cfg.device)?;
    let comm = match launch(args.ranks, cfg.bs)? {
        Launch::Launched(status) if status.success() => return Ok(()),
        Launch::Launched(status) => {
            return Err(format!(
                "the MPI job failed (mpirun: {status}); see the ranks' messages above"
            )
            .into())
        }
        Launch::Here(comm) => comm,
    };
    let par = Parallel {
        comm,
        sync_batch: args.norm == NormArg::SyncBatch,
    };
    if par.world() > 1 && args.lr_find {
        return Err("invalid --lr-find: the LR finder runs in one process (drop --ranks)".into());
    }
    let result = match run_rank(args, &cfg, &par) {
        Ok(Some(result)) => result,
        Ok(None) => return Ok(()),
        Err(e) if par.world() > 1 => abort_job(&par, e.as_ref()),
        Err(e) => return Err(e),
    };
    let who = if par.world() > 1 {
        format!("rank {} of {}: ", par.comm.rank(), par.world())
    } else {
        String::new()
    };
    if let Some(stop) = &result.stopped_by {
        return Err(format!("{who}{stop}").into());
    }
    if let Some(d) = &result.diagnosis {
        if matches!(result.outcome, FitOutcome::Cancelled { .. }) {
            return Err(format!("{who}training stopped: {d}").into());
        }
        println!("note: {d}");
    }
    Ok(())
}

/// Loads the data and trains this rank (or runs the LR finder: `None`), printing rank 0's
/// lines.
fn run_rank(
    args: &TrainArgs,
    cfg: &RunConfig,
    par: &Parallel,
) -> Result<Option<RunResult>, Box<dyn Error>> {
    let (source, splits) = load_splits(args.data.as_deref())?;
    let root = par.is_root();
    let norm = if par.sync_batch {
        "sync-batch".to_string()
    } else {
        cfg.norm.to_string()
    };
    let ranks = if par.world() > 1 {
        format!(", {} ranks x bs {}", par.world(), cfg.bs / par.world())
    } else {
        String::new()
    };
    if root {
        println!(
        "data: {source} ({} train / {} valid); norm {norm}, bs {}{ranks}, {}, {} epochs, seed {}, {}",
        splits.train.len(),
        splits.valid.len(),
        cfg.bs,
        cfg.lr,
        cfg.epochs,
        cfg.seed,
        cfg.device
    );
    }
    let out = cfg.out.clone().unwrap_or_default();
    if args.lr_find {
        let (result, plot) = find_lr(cfg, &splits)?;
        println!("LR finder: {} steps", result.lrs.len());
        if let Some(lr) = result.suggestion() {
            println!("suggested lr (lowest loss / 10): {lr:.4}");
        }
        if let Some(p) = plot {
            println!("plot: {}", p.display());
        }
        return Ok(None);
    }
    let result = execute_on(cfg, &splits, par)?;
    let epochs = result.epochs.len().max(1) as f64;
    let per_epoch: f64 = result.epochs.iter().map(|e| e.seconds).sum::<f64>() / epochs;
    if root {
        println!(
            "{:.1} s in total, {per_epoch:.2} s per epoch ({} training steps each); report in {}",
            result.seconds,
            result.steps_per_epoch,
            out.display()
        );
    }
    Ok(Some(result))
}

/// Ends the whole MPI job after an error on this rank: the other ranks would wait for it in
/// their next collective call for ever, so `MPI_Abort` ends them (and `mpirun` exits
/// non-zero, naming this rank).
fn abort_job(par: &Parallel, e: &dyn Error) -> ! {
    let message = e.to_string().replace(['\n', '\r'], " ");
    eprintln!(
        "error: rank {} of {}: {message}; aborting the MPI job so that no rank waits for this one",
        par.comm.rank(),
        par.world()
    );
    par.comm.abort(1)
}
