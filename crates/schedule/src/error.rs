//! Errors raised when a schedule is built from invalid numbers.

use thiserror::Error;

/// Why a schedule could not be constructed.
///
/// Every constructor in this crate validates its inputs and returns one of these instead of
/// building a schedule that would yield `NaN` or index out of bounds when evaluated.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScheduleError {
    /// A parameter was `NaN` or infinite.
    #[error("{what} must be finite, got {value}")]
    NonFinite {
        /// Which parameter (e.g. `"start"`, `"pcts[1]"`).
        what: &'static str,
        /// The offending value.
        value: f64,
    },
    /// `sched_exp` needs strictly positive ends, since `s * (e/s)^pos` takes a power of `e/s`.
    #[error("exponential schedule needs positive ends, got {what} = {value}")]
    NonPositiveExp {
        /// `"start"` or `"end"`.
        what: &'static str,
        /// The offending value.
        value: f64,
    },
    /// `combine_scheds` was given no segments.
    #[error("combine needs at least one segment")]
    Empty,
    /// `pcts` and `scheds` have different lengths.
    #[error("combine got {pcts} percentages but {scheds} schedules")]
    LengthMismatch {
        /// Number of percentages.
        pcts: usize,
        /// Number of schedules.
        scheds: usize,
    },
    /// A percentage was negative.
    #[error("combine percentages must be non-negative, pcts[{index}] = {value}")]
    NegativePct {
        /// Position in `pcts`.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A percentage was `NaN` or infinite.
    #[error("combine percentages must be finite, pcts[{index}] = {value}")]
    NonFinitePct {
        /// Position in `pcts`.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// The percentages do not add up to 1 (within [`crate::PCT_SUM_TOLERANCE`]).
    #[error("combine percentages must sum to 1, they sum to {sum}")]
    PctSum {
        /// The actual sum.
        sum: f64,
    },
}
