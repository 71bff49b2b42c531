//! Piecewise schedules: [`combine_scheds`] glues schedules over consecutive shares of
//! training, and [`one_cycle`] is the lesson's cosine warm-up then anneal.

use std::fmt;

use crate::basic::{finite, sched_cos};
use crate::error::ScheduleError;
use crate::number::{Num, NumList};
use crate::traits::{clamp_pos, Schedule};

/// How far the percentages given to [`combine_scheds`] may sum away from 1.
pub const PCT_SUM_TOLERANCE: f64 = 1e-6;

/// `one_cycle(lo, hi)` without an explicit end anneals to `lo / ONE_CYCLE_END_DIV`.
pub const ONE_CYCLE_END_DIV: f64 = 1e4;

/// Several schedules laid end to end over shares `pcts` of training.
///
/// With `n` segments and cumulative bounds `b = [0, p0, p0+p1, ..., 1]`, segment `i` covers
/// `[b_i, b_{i+1}]` and the value at `pos` is
///
/// `f(pos) = scheds[i]((pos - b_i) / (b_{i+1} - b_i))`
///
/// where `i` is the last segment whose start `b_i <= pos`. Two edge cases are decided as
/// follows:
/// * **zero-width segments** (`p_i = 0`) are never selected: their local position would be
///   `0/0`. Only segments of positive width compete for "last start `<= pos`".
/// * **`pos = 1`** falls in the last segment of positive width, at local position 1, so the
///   value is that schedule's end value (there is no segment starting at 1 to select).
///
/// Because the percentages may miss 1 by up to [`PCT_SUM_TOLERANCE`], the bounds are the
/// cumulative sums divided by the total, so the last bound is exactly 1.
#[derive(Debug)]
pub struct Combined {
    pcts: Vec<f64>,
    bounds: Vec<f64>,
    scheds: Vec<Box<dyn Schedule>>,
}

/// Builds a [`Combined`] schedule (the lesson's `combine_scheds`).
///
/// Errors: [`ScheduleError::Empty`] with no segments, [`ScheduleError::LengthMismatch`] when
/// `pcts.len() != scheds.len()`, [`ScheduleError::NonFinitePct`] / [`ScheduleError::NegativePct`]
/// for a bad share, and [`ScheduleError::PctSum`] when `|sum(pcts) - 1| > 1e-6`.
pub fn combine_scheds(
    pcts: &[f64],
    scheds: Vec<Box<dyn Schedule>>,
) -> Result<Combined, ScheduleError> {
    if pcts.is_empty() && scheds.is_empty() {
        return Err(ScheduleError::Empty);
    }
    if pcts.len() != scheds.len() {
        return Err(ScheduleError::LengthMismatch {
            pcts: pcts.len(),
            scheds: scheds.len(),
        });
    }
    for (index, &value) in pcts.iter().enumerate() {
        if !value.is_finite() {
            return Err(ScheduleError::NonFinitePct { index, value });
        }
        if value < 0.0 {
            return Err(ScheduleError::NegativePct { index, value });
        }
    }
    let sum: f64 = pcts.iter().sum();
    if (sum - 1.0).abs() > PCT_SUM_TOLERANCE {
        return Err(ScheduleError::PctSum { sum });
    }
    let mut bounds = Vec::with_capacity(pcts.len() + 1);
    let mut acc = 0.0;
    bounds.push(0.0);
    for p in pcts {
        acc += p;
        bounds.push(acc / sum);
    }
    Ok(Combined {
        pcts: pcts.to_vec(),
        bounds,
        scheds,
    })
}

impl Combined {
    /// The shares of training given at construction.
    pub fn pcts(&self) -> &[f64] {
        &self.pcts
    }

    /// The cumulative bounds `[0, p0, p0+p1, ..., 1]` (normalised so the last is exactly 1).
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    /// The segment index and local position used for `pos` (already clamped, not `NaN`).
    fn locate(&self, pos: f64) -> (usize, f64) {
        let mut chosen = None;
        for i in 0..self.scheds.len() {
            let (start, end) = (self.bounds[i], self.bounds[i + 1]);
            if end > start && start <= pos {
                chosen = Some((i, start, end));
            }
        }
        match chosen {
            Some((i, start, end)) => (i, ((pos - start) / (end - start)).clamp(0.0, 1.0)),
            // Unreachable for a validated schedule (some share is positive); stay total anyway.
            None => (0, pos),
        }
    }
}

impl Schedule for Combined {
    fn at(&self, pos: f64) -> f64 {
        let pos = clamp_pos(pos);
        if pos.is_nan() {
            return f64::NAN;
        }
        let (i, local) = self.locate(pos);
        self.scheds[i].at(local)
    }
}

impl fmt::Display for Combined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "combine({},[", NumList(&self.pcts))?;
        for (i, s) in self.scheds.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{s}")?;
        }
        f.write_str("])")
    }
}

/// The lesson's one-cycle schedule:
/// `combine_scheds([0.3, 0.7], [sched_cos(lo, hi), sched_cos(hi, end)])`, i.e. a cosine
/// warm-up from `lo` to `hi` over the first 30% of training, then a cosine anneal to `end`.
#[derive(Debug)]
pub struct OneCycle {
    lo: f64,
    hi: f64,
    end: f64,
    inner: Combined,
}

/// Builds [`OneCycle`]; errors if any of `lo`, `hi`, `end` is not finite.
pub fn one_cycle(lo: f64, hi: f64, end: f64) -> Result<OneCycle, ScheduleError> {
    let lo = finite("lo", lo)?;
    let hi = finite("hi", hi)?;
    let end = finite("end", end)?;
    let inner = combine_scheds(
        &[0.3, 0.7],
        vec![Box::new(sched_cos(lo, hi)?), Box::new(sched_cos(hi, end)?)],
    )?;
    Ok(OneCycle { lo, hi, end, inner })
}

/// [`one_cycle`] with `end = lo / ONE_CYCLE_END_DIV` (`lo / 1e4`, fastai's final division).
pub fn one_cycle_default_end(lo: f64, hi: f64) -> Result<OneCycle, ScheduleError> {
    let lo = finite("lo", lo)?;
    one_cycle(lo, hi, lo / ONE_CYCLE_END_DIV)
}

impl OneCycle {
    /// `(lo, hi, end)`.
    pub fn params(&self) -> (f64, f64, f64) {
        (self.lo, self.hi, self.end)
    }
}

impl Schedule for OneCycle {
    fn at(&self, pos: f64) -> f64 {
        self.inner.at(pos)
    }
}

impl fmt::Display for OneCycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "one_cycle({},{},{})",
            Num(self.lo),
            Num(self.hi),
            Num(self.end)
        )
    }
}
