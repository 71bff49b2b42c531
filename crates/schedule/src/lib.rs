//! Hyper-parameter schedules from the fast.ai 2019 lesson: pure functions of the training
//! position `pos` in `[0, 1]` (`pos = n_epochs / epochs`).
//!
//! | constructor | textual form | value at `pos` |
//! |---|---|---|
//! | [`sched_const`]`(v)` | `v` (a bare number) | `v` |
//! | [`sched_lin`]`(s, e)` | `lin(s,e)` | `s + pos * (e - s)` |
//! | [`sched_cos`]`(s, e)` | `cos(s,e)` | `s + (1 + cos(pi * (1 - pos))) * (e - s) / 2` |
//! | [`sched_no`]`(s, e)` | `no(s,e)` | `s` |
//! | [`sched_exp`]`(s, e)` | `exp(s,e)` | `s * (e / s)^pos` |
//! | [`combine_scheds`]`(pcts, scheds)` | `combine([p0,p1,..],[f0,f1,..])` | `f_i((pos - b_i) / (b_{i+1} - b_i))` |
//! | [`one_cycle`]`(lo, hi, end)` | `one_cycle(lo,hi,end)` | `combine([.3,.7],[cos(lo,hi),cos(hi,end)])` |
//! | [`one_cycle_default_end`]`(lo, hi)` | `one_cycle(lo,hi)` | `one_cycle(lo, hi, lo / 1e4)` |
//!
//! `b = [0, p0, p0+p1, ..., 1]` are the cumulative bounds and `i` the last segment of
//! positive width whose start is `<= pos`; see [`Combined`] for the edge cases. Positions
//! outside `[0, 1]` are clamped. Every constructor validates its numbers and returns a
//! [`ScheduleError`] rather than a schedule that would produce `NaN`.
//!
//! # Textual form
//!
//! [`parse_schedule`] (also `str::parse` into `Box<dyn Schedule>` or [`DynSchedule`]) reads
//! this grammar; every schedule's `Display` writes it, and reading it back gives the same
//! values at every position:
//!
//! ```text
//! schedule := number
//!           | ("lin" | "cos" | "no" | "exp") "(" number "," number ")"
//!           | "one_cycle" "(" number "," number ["," number] ")"
//!           | "combine" "(" "[" number ("," number)* "]" "," "[" schedule ("," schedule)* "]" ")"
//! number   := ["+" | "-"] (digits ["." digits*] | "." digits) [("e" | "E") ["+" | "-"] digits]
//! ```
//!
//! Whitespace is allowed between any two tokens. The lesson's Python names `sched_lin`,
//! `sched_cos`, `sched_no`, `sched_exp` and `combine_scheds` are accepted as aliases. Numbers
//! that overflow to infinity are rejected, and `combine` nests at most [`MAX_DEPTH`] deep.
//! A [`ScheduleParseError`] gives the byte offset of the problem and what was expected there:
//!
//! ```
//! use schedule::{parse_schedule, Schedule};
//!
//! let s = parse_schedule("combine([.3, .7], [lin(.6, 2), lin(2, .1)])").unwrap();
//! assert!((s.at(0.15) - 1.3).abs() < 1e-12);
//! assert_eq!(s.to_string(), "combine([0.3,0.7],[lin(0.6,2),lin(2,0.1)])");
//!
//! let err = parse_schedule("lin(1, x)").unwrap_err();
//! assert_eq!(err.offset, 7);
//! assert_eq!(err.to_string(), "invalid schedule at byte 7: expected a number, found 'x'");
//! ```

mod basic;
mod combine;
mod dynamic;
mod error;
mod number;
mod parse;
mod traits;

pub use basic::{sched_const, sched_cos, sched_exp, sched_lin, sched_no, Const, Cos, Exp, Lin, No};
pub use combine::{
    combine_scheds, one_cycle, one_cycle_default_end, Combined, OneCycle, ONE_CYCLE_END_DIV,
    PCT_SUM_TOLERANCE,
};
pub use dynamic::DynSchedule;
pub use error::ScheduleError;
pub use parse::{parse_schedule, ParseErrorKind, ScheduleParseError, MAX_DEPTH};
pub use traits::Schedule;
