//! [`RunConfig`]: everything one training session needs, validated before any work.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use learner::callbacks::GuardMode;
use learner::LearnerError;
use norms::NormKind;
use schedule::DynSchedule;
use tensor::Device;

/// The norm layer of every `conv_layer`, or none (convolutions then keep their bias).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormChoice(pub Option<NormKind>);

impl fmt::Display for NormChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("none"),
            Some(k) => write!(f, "{k}"),
        }
    }
}

/// A constant learning rate or a schedule of it.
#[derive(Clone, Debug)]
pub enum LrChoice {
    /// `--lr X`.
    Const(f64),
    /// `--sched TEXT`: a `ParamScheduler` on `lr`.
    Sched(DynSchedule),
}

impl fmt::Display for LrChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LrChoice::Const(lr) => write!(f, "lr {lr}"),
            LrChoice::Sched(s) => write!(f, "sched {s}"),
        }
    }
}

/// One session's settings.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The norm layer.
    pub norm: NormChoice,
    /// Training batch size (validation uses twice as much).
    pub bs: usize,
    /// Learning rate or schedule.
    pub lr: LrChoice,
    /// Epochs.
    pub epochs: usize,
    /// Seed of the model's initialisation and the data order.
    pub seed: u64,
    /// Where to train.
    pub device: Device,
    /// Report directory (metrics, plots, checkpoint); `None` writes nothing.
    pub out: Option<PathBuf>,
    /// Cap on training batches per epoch.
    pub max_steps: Option<usize>,
    /// Record activation statistics (and plot them).
    pub stats: bool,
    /// What the non-finite guard does.
    pub guard: GuardMode,
    /// Print the lesson's `train:`/`valid:` lines.
    pub print: bool,
    /// Show a progress bar (when stderr is a terminal).
    pub progress: bool,
    /// Save a checkpoint after every epoch (into `out/checkpoint`).
    pub checkpoint: bool,
    /// Resume from this checkpoint directory.
    pub resume: Option<PathBuf>,
}

impl RunConfig {
    /// Refuses impossible settings with one clear message.
    pub fn validate(&self) -> Result<(), LearnerError> {
        if self.bs == 0 {
            return Err(LearnerError::config(
                "--bs",
                "the batch size must be at least 1",
            ));
        }
        if self.epochs == 0 {
            return Err(LearnerError::config("--epochs", "must be at least 1"));
        }
        if self.max_steps == Some(0) {
            return Err(LearnerError::config("--max-steps", "must be at least 1"));
        }
        if let LrChoice::Const(lr) = self.lr {
            if !(lr.is_finite() && lr >= 0.0) {
                return Err(LearnerError::config(
                    "--lr",
                    format!("{lr} is not a learning rate (it must be finite and >= 0)"),
                ));
            }
        }
        if self.bs == 1 && self.norm.0 == Some(NormKind::RunningBatch) {
            return Err(LearnerError::config(
                "--bs",
                "RunningBatchNorm needs batches of at least 2 (its momentum divides by sqrt(bs - 1))",
            ));
        }
        Ok(())
    }

    /// The settings that must match for a checkpoint to be resumed, as strings.
    pub fn identity(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("norm".into(), self.norm.to_string());
        m.insert("bs".into(), self.bs.to_string());
        m.insert("lr".into(), self.lr.to_string());
        m.insert("epochs".into(), self.epochs.to_string());
        m.insert("seed".into(), self.seed.to_string());
        m.insert(
            "max_steps".into(),
            self.max_steps.map_or("all".into(), |s| s.to_string()),
        );
        m
    }
}
