//! The [`Schedule`] trait and its implementations for smart pointers.

use std::fmt;
use std::sync::Arc;

/// A hyper-parameter value as a pure function of training progress.
///
/// `pos` is the fraction of training done, `n_epochs / epochs`, in `[0, 1]`. Every schedule
/// in this crate clamps `pos` to that interval before evaluating (so a learning rate cannot
/// be extrapolated past its end points, e.g. to a negative value); a `NaN` position gives
/// `NaN`.
///
/// [`fmt::Display`] is a supertrait so that every schedule can be written in the textual
/// form that [`crate::parse_schedule`] reads back (see the crate documentation for the
/// grammar). The trait is object safe: schedules are usually handled as
/// `Box<dyn Schedule>` or [`crate::DynSchedule`].
pub trait Schedule: fmt::Debug + fmt::Display + Send + Sync {
    /// The value at position `pos` (clamped to `[0, 1]`).
    fn at(&self, pos: f64) -> f64;
}

impl<S: Schedule + ?Sized> Schedule for Box<S> {
    fn at(&self, pos: f64) -> f64 {
        (**self).at(pos)
    }
}

impl<S: Schedule + ?Sized> Schedule for Arc<S> {
    fn at(&self, pos: f64) -> f64 {
        (**self).at(pos)
    }
}

impl<S: Schedule + ?Sized> Schedule for &S {
    fn at(&self, pos: f64) -> f64 {
        (**self).at(pos)
    }
}

/// Clamps a position to `[0, 1]`, keeping `NaN` as `NaN`.
pub(crate) fn clamp_pos(pos: f64) -> f64 {
    pos.clamp(0.0, 1.0)
}
