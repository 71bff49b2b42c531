//! [`AvgStats`]: per-epoch, sample-weighted averages of the loss and metrics.

use std::rc::Rc;
use std::time::Instant;

use collective::Collective;
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

    /// Reads the sums to the host (one read per value per phase); with `comm`, the sums and
    /// counts of all ranks are added first (one all-reduce of `[count, sums...]` in `f64`).
    fn read(
        &self,
        metrics: &[Metric],
        comm: Option<&dyn Collective>,
    ) -> crate::error::Result<PhaseStats> {
        let mut totals = vec![0.0f64; metrics.len() + 2];
        totals[0] = self.count as f64;
        if let Some(s) = &self.sums {
            for (t, v) in totals[1..].iter_mut().zip(s) {
                *t = v.to_scalar()?;
            }
        }
        if let Some(comm) = comm {
            comm.all_reduce_sum_f64(&mut totals)?;
        }
        let n = totals[0];
        let value = |i: usize| if n > 0.0 { totals[i + 1] / n } else { f64::NAN };
        let out = metrics
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name, value(i + 1)))
            .collect();
        Ok(PhaseStats {
            loss: value(0),
            metrics: out,
            count: n as usize,
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
    comm: Option<SharedComm>,
}

/// The communicator of [`AvgStats::with_collective`] (shown by rank and world size).
struct SharedComm(Rc<dyn Collective>);

impl std::fmt::Debug for SharedComm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rank {} of {}", self.0.rank(), self.0.world_size())
    }
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
            comm: None,
        }
    }

    /// Reduces the epoch figures over the ranks of `comm` (data-parallel training): the
    /// weighted sums and sample counts of all ranks are added before dividing, so every rank
    /// reports the figures of the whole epoch; the duration reported is rank 0's.
    pub fn with_collective(mut self, comm: Rc<dyn Collective>) -> Self {
        self.comm = Some(SharedComm(comm));
        self
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
        let comm = self.comm.as_ref().map(|c| c.0.as_ref());
        let mut seconds = [self.started.map_or(0.0, |t| t.elapsed().as_secs_f64())];
        if let Some(comm) = comm {
            comm.broadcast_f64(&mut seconds, 0)?;
        }
        let stats = EpochStats {
            epoch: ctx.state.epoch,
            train: self.train.read(&self.metrics, comm)?,
            valid: self.valid.read(&self.metrics, comm)?,
            seconds: seconds[0],
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
