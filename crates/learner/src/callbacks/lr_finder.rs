//! [`LrFinder`]: the lesson's `LR_Find`, an exponentially growing learning rate that stops
//! when the loss explodes.

use crate::callbacks::Recorder;
use crate::error::{LearnerError, Result};
use crate::learner::Learner;
use crate::runner::{Callback, CbResult, Ctx, Flow, Runner};

/// `LR_Find(max_iter=100, min_lr=1e-6, max_lr=10)` (order 1).
///
/// Before training batch `i` (counted over the run) the learning rate is
/// `min_lr * (max_lr / min_lr)^(i / max_iter)`. After each step it cancels training when
/// `i >= max_iter` or when the loss is above 10 times the best loss so far (or not finite);
/// otherwise it updates the best loss. As in the lesson the check comes after the step, so
/// a full sweep takes `max_iter + 1` steps. Reading the loss is a host synchronisation per
/// batch, which this rule needs. Validation is skipped during the sweep.
#[derive(Debug, Clone)]
pub struct LrFinder {
    max_iter: usize,
    min_lr: f64,
    max_lr: f64,
    best: f64,
}

impl LrFinder {
    /// The lesson's defaults: 100 iterations from 1e-6 to 10.
    pub fn lesson() -> Self {
        LrFinder {
            max_iter: 100,
            min_lr: 1e-6,
            max_lr: 10.0,
            best: f64::INFINITY,
        }
    }

    /// A finder over `[min_lr, max_lr]` in `max_iter` iterations; needs
    /// `0 < min_lr < max_lr` (finite) and `max_iter >= 1`.
    pub fn new(max_iter: usize, min_lr: f64, max_lr: f64) -> Result<Self> {
        if max_iter == 0 {
            return Err(LearnerError::config(
                "LR finder iterations",
                "must be at least 1",
            ));
        }
        if !(min_lr > 0.0 && max_lr > min_lr && max_lr.is_finite()) {
            return Err(LearnerError::config(
                "LR finder range",
                format!("needs finite 0 < min < max, got [{min_lr}, {max_lr}]"),
            ));
        }
        Ok(LrFinder {
            max_iter,
            min_lr,
            max_lr,
            best: f64::INFINITY,
        })
    }

    /// The learning rate at iteration `i`.
    pub fn lr_at(&self, i: usize) -> f64 {
        let pos = i as f64 / self.max_iter as f64;
        self.min_lr * (self.max_lr / self.min_lr).powf(pos)
    }

    /// The iteration budget.
    pub fn max_iter(&self) -> usize {
        self.max_iter
    }

    /// The best loss seen.
    pub fn best_loss(&self) -> f64 {
        self.best
    }

    /// The stopping rule after the step of iteration `n_iter` with `loss`: returns true to
    /// stop, otherwise records the loss.
    pub fn should_stop(&mut self, n_iter: usize, loss: f64) -> bool {
        if n_iter >= self.max_iter || !loss.is_finite() || loss > self.best * 10.0 {
            return true;
        }
        if loss < self.best {
            self.best = loss;
        }
        false
    }
}

impl Callback for LrFinder {
    fn name(&self) -> &'static str {
        "lr_finder"
    }

    fn order(&self) -> i32 {
        1
    }

    fn begin_fit(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        self.best = f64::INFINITY;
        Ok(Flow::Continue)
    }

    fn begin_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        if ctx.state.in_train {
            ctx.learn
                .opt
                .set_hyper("lr", self.lr_at(ctx.state.n_iter))?;
        }
        Ok(Flow::Continue)
    }

    /// The sweep does not need the validation batches.
    fn begin_validate(&mut self, _ctx: &mut Ctx<'_>) -> CbResult {
        Ok(Flow::CancelEpoch)
    }

    fn after_step(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        let loss = match &ctx.state.loss {
            Some(l) => l.value_ref().to_scalar()?,
            None => return Ok(Flow::Continue),
        };
        if self.should_stop(ctx.state.n_iter, loss) {
            Ok(Flow::CancelTrain)
        } else {
            Ok(Flow::Continue)
        }
    }
}

/// What an LR finder sweep recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct LrFindResult {
    /// Learning rate of each step.
    pub lrs: Vec<f64>,
    /// Loss of each step.
    pub losses: Vec<f64>,
}

impl LrFindResult {
    /// The learning rate with the lowest loss, divided by 10 (a common pick).
    pub fn suggestion(&self) -> Option<f64> {
        self.lrs
            .iter()
            .zip(&self.losses)
            .filter(|(_, l)| l.is_finite())
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(lr, _)| lr / 10.0)
    }
}

/// Runs a sweep on `learn` with `finder`, a recorder and `extra` callbacks (such as the
/// batch transform), for as many epochs as the sweep needs. The model is trained by the
/// sweep: use a fresh one for the real training.
pub fn lr_find(
    learn: &mut Learner,
    finder: LrFinder,
    extra: Vec<Box<dyn Callback>>,
) -> Result<LrFindResult> {
    let per_epoch = learn.data.train.len().max(1);
    let epochs = (finder.max_iter() + 1).div_ceil(per_epoch);
    let mut runner = Runner::with_callbacks(extra);
    runner.add(Box::new(Recorder::new()));
    runner.add(Box::new(finder));
    runner.fit(epochs, learn)?;
    let rec = runner
        .callback::<Recorder>()
        .ok_or_else(|| LearnerError::Data("the recorder went missing".into()))?;
    Ok(LrFindResult {
        lrs: rec.lrs().to_vec(),
        losses: rec.losses()?,
    })
}
