//! [`MetricsLogger`]: appends each epoch's averages to `metrics.jsonl`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::Result;
use crate::report::{EpochMetrics, MetricsLog};
use crate::runner::{Callback, CbResult, Ctx, Flow};

/// Writes one JSON line per epoch (`epoch`, `train_loss`, `train_acc`, `valid_loss`,
/// `valid_acc`, `seconds`, `lr`, and any other metric as an extra key) from the
/// [`AvgStats`](crate::callbacks::AvgStats) results published at `after_epoch`. Order 10,
/// after `AvgStats`. Each append rewrites the file atomically.
#[derive(Debug)]
pub struct MetricsLogger {
    log: MetricsLog,
}

impl MetricsLogger {
    /// A new log at `path` (replacing any old file at the first epoch).
    pub fn create(path: impl Into<PathBuf>) -> Self {
        MetricsLogger {
            log: MetricsLog::create(path),
        }
    }

    /// Continues the log at `path` (a resumed run).
    pub fn resume(path: impl Into<PathBuf>) -> Result<Self> {
        Ok(MetricsLogger {
            log: MetricsLog::resume(path)?,
        })
    }

    /// Epochs written.
    pub fn len(&self) -> usize {
        self.log.len()
    }

    /// True before the first epoch.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }
}

impl Callback for MetricsLogger {
    fn name(&self) -> &'static str {
        "metrics_logger"
    }

    fn order(&self) -> i32 {
        10
    }

    fn after_epoch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        let Some(s) = &ctx.state.last_stats else {
            return Ok(Flow::Continue);
        };
        let mut extras = BTreeMap::new();
        for (phase, stats) in [("train", &s.train), ("valid", &s.valid)] {
            for (name, v) in &stats.metrics {
                if *name != "accuracy" {
                    let value = serde_json::Number::from_f64(*v)
                        .map_or(serde_json::Value::Null, serde_json::Value::Number);
                    extras.insert(format!("{phase}_{name}"), value);
                }
            }
        }
        let m = EpochMetrics {
            epoch: s.epoch,
            train_loss: s.train.loss,
            train_acc: s.train.metric("accuracy").unwrap_or(f64::NAN),
            valid_loss: s.valid.loss,
            valid_acc: s.valid.metric("accuracy").unwrap_or(f64::NAN),
            seconds: s.seconds,
            lr: Some(s.lr),
            extras,
        };
        self.log.append(&m)?;
        Ok(Flow::Continue)
    }
}
