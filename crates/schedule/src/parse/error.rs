//! Errors from reading a schedule's textual form.

use thiserror::Error;

use crate::error::ScheduleError;

/// A schedule string could not be read: where (byte offset into the input) and why.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("invalid schedule at byte {offset}: {kind}")]
pub struct ScheduleParseError {
    /// Byte offset into the input where the problem starts.
    pub offset: usize,
    /// What went wrong.
    pub kind: ParseErrorKind,
}

/// The reason a schedule string was rejected.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ParseErrorKind {
    /// The grammar wanted something else here.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What would have been accepted.
        expected: &'static str,
        /// What was there instead (a quoted character or `end of input`).
        found: String,
    },
    /// A name that is not a schedule.
    #[error(
        "unknown schedule `{name}` (expected lin, cos, no, exp, combine, one_cycle or a number)"
    )]
    UnknownName {
        /// The name as written.
        name: String,
    },
    /// A schedule got the wrong number of arguments.
    #[error("`{name}` takes {expected} arguments, found {found}")]
    Arity {
        /// The schedule name.
        name: String,
        /// How many it takes, in words.
        expected: &'static str,
        /// How many were given.
        found: usize,
    },
    /// A number too large for an `f64` (it would be infinite).
    #[error("number `{text}` is out of range")]
    NumberOutOfRange {
        /// The number as written.
        text: String,
    },
    /// `combine` nested deeper than the parser allows.
    #[error("schedules nested deeper than {max} levels")]
    TooDeep {
        /// The nesting limit.
        max: usize,
    },
    /// Well-formed text naming an invalid schedule (e.g. shares not summing to 1).
    #[error(transparent)]
    Invalid(#[from] ScheduleError),
}
