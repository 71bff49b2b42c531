//! The elementary schedules: constant, linear, cosine, "no" (hold the start) and exponential.
//!
//! Each maps the (clamped) position `pos` in `[0, 1]` to a value between a start `s` and an
//! end `e`, exactly as in the fast.ai lesson.

use std::f64::consts::PI;
use std::fmt;

use crate::error::ScheduleError;
use crate::number::Num;
use crate::traits::{clamp_pos, Schedule};

/// Returns `value` if finite, else [`ScheduleError::NonFinite`] naming `what`.
pub(crate) fn finite(what: &'static str, value: f64) -> Result<f64, ScheduleError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ScheduleError::NonFinite { what, value })
    }
}

/// A constant: `f(pos) = value`. Written as a bare number, e.g. `0.4`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Const {
    value: f64,
}

/// A constant schedule `f(pos) = value` (a plain learning rate).
pub fn sched_const(value: f64) -> Result<Const, ScheduleError> {
    Ok(Const {
        value: finite("value", value)?,
    })
}

impl Const {
    /// The constant value.
    pub fn value(&self) -> f64 {
        self.value
    }
}

impl Schedule for Const {
    fn at(&self, pos: f64) -> f64 {
        if pos.is_nan() {
            return f64::NAN;
        }
        self.value
    }
}

impl fmt::Display for Const {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Num(self.value))
    }
}

/// Defines a two-end schedule struct with its accessors and its textual form `name(s,e)`.
macro_rules! two_ends {
    ($(#[$doc:meta])* $ty:ident, $text:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct $ty {
            start: f64,
            end: f64,
        }

        impl $ty {
            /// The value at `pos = 0`.
            pub fn start(&self) -> f64 {
                self.start
            }
            /// The end parameter `e`.
            pub fn end(&self) -> f64 {
                self.end
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($text, "({},{})"), Num(self.start), Num(self.end))
            }
        }
    };
}

two_ends!(
    /// Linear interpolation: `f(pos) = s + pos * (e - s)`. Written `lin(s,e)`.
    Lin,
    "lin"
);
two_ends!(
    /// Half a cosine wave from `s` to `e`:
    /// `f(pos) = s + (1 + cos(pi * (1 - pos))) * (e - s) / 2`. Written `cos(s,e)`.
    Cos,
    "cos"
);
two_ends!(
    /// No change: `f(pos) = s` (the end is kept only to mirror the lesson's signature).
    /// Written `no(s,e)`.
    No,
    "no"
);
two_ends!(
    /// Exponential (geometric) interpolation: `f(pos) = s * (e / s)^pos`, a straight line on a
    /// log scale, as used by the LR finder. Both ends must be positive. Written `exp(s,e)`.
    Exp,
    "exp"
);

/// `sched_lin(s, e)(pos) = s + pos * (e - s)`. Errors if `s` or `e` is not finite.
pub fn sched_lin(start: f64, end: f64) -> Result<Lin, ScheduleError> {
    Ok(Lin {
        start: finite("start", start)?,
        end: finite("end", end)?,
    })
}

/// `sched_cos(s, e)(pos) = s + (1 + cos(pi * (1 - pos))) * (e - s) / 2`.
/// Errors if `s` or `e` is not finite.
pub fn sched_cos(start: f64, end: f64) -> Result<Cos, ScheduleError> {
    Ok(Cos {
        start: finite("start", start)?,
        end: finite("end", end)?,
    })
}

/// `sched_no(s, e)(pos) = s`. Errors if `s` or `e` is not finite.
pub fn sched_no(start: f64, end: f64) -> Result<No, ScheduleError> {
    Ok(No {
        start: finite("start", start)?,
        end: finite("end", end)?,
    })
}

/// `sched_exp(s, e)(pos) = s * (e / s)^pos`. Errors unless both ends are finite and `> 0`.
pub fn sched_exp(start: f64, end: f64) -> Result<Exp, ScheduleError> {
    let start = finite("start", start)?;
    let end = finite("end", end)?;
    for (what, value) in [("start", start), ("end", end)] {
        if value <= 0.0 {
            return Err(ScheduleError::NonPositiveExp { what, value });
        }
    }
    Ok(Exp { start, end })
}

impl Schedule for Lin {
    fn at(&self, pos: f64) -> f64 {
        self.start + clamp_pos(pos) * (self.end - self.start)
    }
}

impl Schedule for Cos {
    fn at(&self, pos: f64) -> f64 {
        let pos = clamp_pos(pos);
        self.start + (1.0 + (PI * (1.0 - pos)).cos()) * (self.end - self.start) / 2.0
    }
}

impl Schedule for No {
    fn at(&self, pos: f64) -> f64 {
        if pos.is_nan() {
            return f64::NAN;
        }
        self.start
    }
}

impl Schedule for Exp {
    fn at(&self, pos: f64) -> f64 {
        self.start * (self.end / self.start).powf(clamp_pos(pos))
    }
}
