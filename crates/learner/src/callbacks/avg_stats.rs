//! [`AvgStats`]: per-epoch, sample-weighted averages of the loss and metrics.

use std::time::Instant;

use tensor::Tensor;

use crate::callbacks::Metric;
use crate::runner::{Callback, CbResult, Ctx, Flow};

/// Averages over one phase (training or validation) of an epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseStats {
    /// `sum_b n_b * loss_b / sum_b n_b` over the phase's batches (NaN with no batches).
    pub loss: f64,
    /// The metrics' weighted means, in the order given, with their names.
    pub metrics: Vec<(&'static str, f64)>,
    /// Samples seen.
    pub count: usize,
}

impl PhaseStats {
    /// The metric called `name`, if computed.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// The lesson's printout, `[loss, metric...]`.
    pub fn lesson_format(&self) -> String {
        let mut s = format!("[{}", self.loss);
        for (_, v) in &self.metrics {
            s.push_str(&format!(", {v:.4}"));
        }
        s.push(']');
        s
    }
}

/// One epoch's averages and its duration.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochStats {
    /// The epoch, 0-based.
    pub epoch: usize,
    /// Over the training batches (measured on the changing model, in train mode).
    pub train: PhaseStats,
    /// Over the validation batches.
    pub valid: PhaseStats,
    /// Wall-clock seconds from `begin_epoch` to `after_epoch`.
    pub seconds: f64,
    /// The learning rate at the end of the epoch.
    pub lr: f64,
}

/// Running sums of one phase, kept on the device.
#[derive(Debug, Default)]
struct Sums {
    /// `[loss, metric...]`, each `sum_b n_b * value_b`, created at the phase's first batch.
    sums: Option<Vec<Tensor>>,
    count: usize,
}

impl Sums {
    fn reset(&mut self) {
        self.sums = None;
        self.count = 0;
    }

    fn add(&mut self, values: &[Tensor], n: usize) -> tensor::Result<()> {
        if self.sums.is_none() {
            self.sums = Some(
                values
                    .iter()
                    .map(|v| v.zeros_like())
                    .collect::<tensor::Result<_>>()?,
            );
        }
        if let Some(sums) = &mut self.sums {
            for (s, v) in sums.iter_mut().zip(values) {
                s.add_scaled_(v, n as f64)?;
            }
        }
        self.count += n;
        Ok(())
    }

    /// Reads the sums to the host (one read per value per phase).
    fn read(&self, metrics: &[Metric]) -> tensor::Result<PhaseStats> {
        let n = self.count as f64;
        let value = |i: usize| -> tensor::Result<f64> {
            match &self.sums {
                Some(s) if self.count > 0 => Ok(s[i].to_scalar()? / n),
                _ => Ok(f64::NAN),
            }
        };
        let mut out = Vec::with_capacity(metrics.len());
        for (i, m) in metrics.iter().enumerate() {
            out.push((m.name, value(i + 1)?));
        }
        Ok(PhaseStats {
            loss: value(0)?,
            metrics: out,
            count: self.count,
        })
    }
}

/// The lesson's `AvgStatsCallback(metrics)`: per epoch, the sample-weighted mean of the loss
/// and of each metric over the training batches and over the validation batches.
///
/// Sums are accumulated as tensors on the training device and read once per phase, at
/// `after_epoch`, which publishes the result in [`crate::RunState::last_stats`], keeps it in
/// [`AvgStats::history`] and, when printing, writes the lesson's lines
/// `train: [loss, acc]` / `valid: [loss, acc]` to stdout.
#[derive(Debug)]
pub struct AvgStats {
    metrics: Vec<Metric>,
    train: Sums,
    valid: Sums,
    history: Vec<EpochStats>,
    print: bool,
    started: Option<Instant>,
    scratch: Vec<Tensor>,
}

impl AvgStats {
    /// Averages the loss and `metrics`; silent.
    pub fn new(metrics: Vec<Metric>) -> Self {
        AvgStats {
            metrics,
            train: Sums::default(),
            valid: Sums::default(),
            history: Vec::new(),
            print: false,
            started: None,
            scratch: Vec::new(),
        }
    }

    /// Also prints the lesson's two lines per epoch.
    pub fn printing(mut self, print: bool) -> Self {
        self.print = print;
        self
    }

    /// Every finished epoch of this fit.
    pub fn history(&self) -> &[EpochStats] {
        &self.history
    }
}

impl Callback for AvgStats {
    fn name(&self) -> &'static str {
        "avg_stats"
    }

    fn begin_fit(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        self.history.clear();
        Ok(Flow::Continue)
    }

    fn begin_epoch(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        self.train.reset();
        self.valid.reset();
        self.started = Some(Instant::now());
        Ok(Flow::Continue)
    }

    fn after_loss(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        let st = &*ctx.state;
        let (Some(loss), Some(pred), Some(yb)) = (&st.loss, &st.pred, &st.yb) else {
            return Ok(Flow::Continue);
        };
        let n = st.batch_size();
        self.scratch.clear();
        self.scratch.push(loss.value());
        {
            let pred = pred.value_ref();
            for m in &self.metrics {
                self.scratch.push((m.f)(&pred, yb)?);
            }
        }
        let sums = if st.in_train {
            &mut self.train
        } else {
            &mut self.valid
        };
        sums.add(&self.scratch, n)?;
        self.scratch.clear();
        Ok(Flow::Continue)
    }

    fn after_epoch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        let stats = EpochStats {
            epoch: ctx.state.epoch,
            train: self.train.read(&self.metrics)?,
            valid: self.valid.read(&self.metrics)?,
            seconds: self.started.map_or(0.0, |t| t.elapsed().as_secs_f64()),
            lr: ctx.learn.opt.lr(),
        };
        if self.print {
            println!("train: {}", stats.train.lesson_format());
            println!("valid: {}", stats.valid.lesson_format());
        }
        ctx.state.last_stats = Some(stats.clone());
        self.history.push(stats);
        Ok(Flow::Continue)
    }
}
