//! Per-epoch metrics as JSON lines: one object per line, one line per epoch.
//!
//! ```text
//! {"epoch":0,"train_loss":0.61,"train_acc":0.81,"valid_loss":0.2,"valid_acc":0.94,"seconds":4.3,"lr":0.4}
//! ```
//!
//! `train_loss` and friends are the sample-weighted means over the epoch's batches (the
//! lesson's `AvgStatsCallback`): `sum_b n_b * loss_b / sum_b n_b`. Non-finite values are
//! written as `null` (NaN) or `"inf"` / `"-inf"`; see `json_float`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ReportError;

/// Field names an extra metric may not use.
pub const RESERVED_KEYS: [&str; 7] = [
    "epoch",
    "train_loss",
    "train_acc",
    "valid_loss",
    "valid_acc",
    "seconds",
    "lr",
];

/// One epoch's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 0-based epoch index.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    #[serde(with = "super::json_float")]
    pub train_loss: f64,
    /// Mean training accuracy over the epoch.
    #[serde(with = "super::json_float")]
    pub train_acc: f64,
    /// Mean validation loss.
    #[serde(with = "super::json_float")]
    pub valid_loss: f64,
    /// Mean validation accuracy.
    #[serde(with = "super::json_float")]
    pub valid_acc: f64,
    /// Wall-clock seconds the epoch took.
    #[serde(with = "super::json_float")]
    pub seconds: f64,
    /// Learning rate at the end of the epoch, if recorded (omitted from the line when `None`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::json_float::option"
    )]
    pub lr: Option<f64>,
    /// Any other values, written as further keys of the same object.
    #[serde(flatten)]
    pub extras: BTreeMap<String, Value>,
}

impl EpochMetrics {
    /// The JSON line for this epoch (no trailing newline).
    ///
    /// Errors with [`ReportError::ReservedExtra`] if an extra key shadows a fixed field.
    pub fn to_json_line(&self) -> Result<String, ReportError> {
        if let Some(k) = self
            .extras
            .keys()
            .find(|k| RESERVED_KEYS.contains(&k.as_str()))
        {
            return Err(ReportError::ReservedExtra(k.clone()));
        }
        serde_json::to_string(self).map_err(ReportError::Encode)
    }
}

/// Writes all epochs to `path` as JSON lines, atomically replacing any existing file.
///
/// Errors: [`ReportError::Empty`] when `epochs` is empty, [`ReportError::ReservedExtra`],
/// [`ReportError::Io`].
pub fn write_metrics_jsonl(
    path: impl AsRef<Path>,
    epochs: &[EpochMetrics],
) -> Result<(), ReportError> {
    if epochs.is_empty() {
        return Err(ReportError::Empty { what: "epochs" });
    }
    let mut text = String::new();
    for m in epochs {
        text.push_str(&m.to_json_line()?);
        text.push('\n');
    }
    let path = path.as_ref();
    atomic_file::write_atomic(path, text.as_bytes()).map_err(|e| ReportError::io(path, e))
}

/// Reads a JSON-lines metrics file (blank lines are skipped).
pub fn read_metrics_jsonl(path: impl AsRef<Path>) -> Result<Vec<EpochMetrics>, ReportError> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_lines(path, &text)
}

fn parse_lines(path: &Path, text: &str) -> Result<Vec<EpochMetrics>, ReportError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|source| ReportError::Json {
                path: path.to_path_buf(),
                line: i + 1,
                source,
            })
        })
        .collect()
}

/// A metrics file that grows by one line per epoch.
///
/// Every [`MetricsLog::append`] rewrites the whole file atomically, so a crash or a reader
/// never sees a half-written line (the file has tens of lines, so the rewrite is cheap).
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    text: String,
    len: usize,
}

impl MetricsLog {
    /// A new, empty log at `path`. Nothing is written until the first append, which
    /// replaces any file already there.
    pub fn create(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            text: String::new(),
            len: 0,
        }
    }

    /// Continues an existing log, keeping its lines (which must parse); a missing file
    /// starts empty.
    pub fn resume(path: impl Into<PathBuf>) -> Result<Self, ReportError> {
        let path = path.into();
        let existing = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(ReportError::Io { path, source }),
        };
        let len = parse_lines(&path, &existing)?.len();
        let mut text = String::new();
        for line in existing.lines().filter(|l| !l.trim().is_empty()) {
            text.push_str(line);
            text.push('\n');
        }
        Ok(Self { path, text, len })
    }

    /// Adds one epoch and atomically rewrites the file. On error the log is unchanged.
    pub fn append(&mut self, m: &EpochMetrics) -> Result<(), ReportError> {
        let mut text = self.text.clone();
        text.push_str(&m.to_json_line()?);
        text.push('\n');
        atomic_file::write_atomic(&self.path, text.as_bytes())
            .map_err(|e| ReportError::io(&self.path, e))?;
        self.text = text;
        self.len += 1;
        Ok(())
    }

    /// Where the log is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of epochs in the log.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first epoch.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
