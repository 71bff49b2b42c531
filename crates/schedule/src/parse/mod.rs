//! Reading a schedule from its textual form (the grammar is in the crate documentation).
//!
//! A hand-written recursive-descent parser over [`cursor::Cursor`]; every failure is a
//! [`ScheduleParseError`] carrying the byte offset and what was expected there.

mod cursor;
mod error;

pub use error::{ParseErrorKind, ScheduleParseError};

use cursor::Cursor;

use crate::basic::{sched_const, sched_cos, sched_exp, sched_lin, sched_no};
use crate::combine::{combine_scheds, one_cycle, one_cycle_default_end};
use crate::error::ScheduleError;
use crate::traits::Schedule;

/// How deeply `combine` may nest inside `combine` (guards the stack against hostile input).
pub const MAX_DEPTH: usize = 32;

/// Parses the textual form of a schedule, e.g. `combine([.3,.7],[lin(.6,2),lin(2,.1)])`.
///
/// The output of any schedule's `Display` parses back to a schedule with identical values.
pub fn parse_schedule(text: &str) -> Result<Box<dyn Schedule>, ScheduleParseError> {
    let mut cur = Cursor::new(text);
    let sched = schedule(&mut cur, 0)?;
    if cur.peek().is_some() {
        return Err(cur.unexpected("end of input"));
    }
    Ok(sched)
}

/// `schedule := number | name '(' ... ')'`
fn schedule(cur: &mut Cursor<'_>, depth: usize) -> Result<Box<dyn Schedule>, ScheduleParseError> {
    if depth > MAX_DEPTH {
        let offset = cur.offset();
        return Err(ScheduleParseError {
            offset,
            kind: ParseErrorKind::TooDeep { max: MAX_DEPTH },
        });
    }
    if cur.at_number() {
        let (offset, value) = cur.number()?;
        return Ok(Box::new(
            sched_const(value).map_err(|e| invalid(offset, e))?,
        ));
    }
    let Some((offset, name)) = cur.ident() else {
        return Err(cur.unexpected("a number or a schedule such as lin(a,b)"));
    };
    cur.expect('(', "'('")?;
    let built: Result<Box<dyn Schedule>, ScheduleError> = match name {
        "lin" | "sched_lin" => {
            let [s, e] = two_args(cur, offset, name)?;
            sched_lin(s, e).map(|s| Box::new(s) as Box<dyn Schedule>)
        }
        "cos" | "sched_cos" => {
            let [s, e] = two_args(cur, offset, name)?;
            sched_cos(s, e).map(|s| Box::new(s) as Box<dyn Schedule>)
        }
        "no" | "sched_no" => {
            let [s, e] = two_args(cur, offset, name)?;
            sched_no(s, e).map(|s| Box::new(s) as Box<dyn Schedule>)
        }
        "exp" | "sched_exp" => {
            let [s, e] = two_args(cur, offset, name)?;
            sched_exp(s, e).map(|s| Box::new(s) as Box<dyn Schedule>)
        }
        "one_cycle" => match numbers_until_close(cur)?.as_slice() {
            &[lo, hi] => one_cycle_default_end(lo, hi).map(|s| Box::new(s) as Box<dyn Schedule>),
            &[lo, hi, end] => one_cycle(lo, hi, end).map(|s| Box::new(s) as Box<dyn Schedule>),
            other => return Err(arity(offset, name, "2 or 3", other.len())),
        },
        "combine" | "combine_scheds" => {
            let (pcts, scheds) = combine_args(cur, depth)?;
            combine_scheds(&pcts, scheds).map(|s| Box::new(s) as Box<dyn Schedule>)
        }
        _ => {
            return Err(ScheduleParseError {
                offset,
                kind: ParseErrorKind::UnknownName {
                    name: name.to_string(),
                },
            })
        }
    };
    built.map_err(|e| invalid(offset, e))
}

/// Exactly two numeric arguments followed by `)`.
fn two_args(
    cur: &mut Cursor<'_>,
    offset: usize,
    name: &str,
) -> Result<[f64; 2], ScheduleParseError> {
    match numbers_until_close(cur)?.as_slice() {
        &[s, e] => Ok([s, e]),
        other => Err(arity(offset, name, "2", other.len())),
    }
}

/// `number (',' number)* ')'` — or just `)` — consuming the closing parenthesis.
fn numbers_until_close(cur: &mut Cursor<'_>) -> Result<Vec<f64>, ScheduleParseError> {
    let mut out = Vec::new();
    if cur.eat(')') {
        return Ok(out);
    }
    loop {
        if !cur.at_number() {
            return Err(cur.unexpected("a number"));
        }
        out.push(cur.number()?.1);
        if cur.eat(')') {
            return Ok(out);
        }
        cur.expect(',', "',' or ')'")?;
    }
}

/// The shares and the schedules of a `combine(...)` call.
type CombineArgs = (Vec<f64>, Vec<Box<dyn Schedule>>);

/// `'[' number (',' number)* ']' ',' '[' schedule (',' schedule)* ']' ')'`
fn combine_args(cur: &mut Cursor<'_>, depth: usize) -> Result<CombineArgs, ScheduleParseError> {
    cur.expect('[', "'[' opening the list of percentages")?;
    let mut pcts = Vec::new();
    if !cur.eat(']') {
        loop {
            if !cur.at_number() {
                return Err(cur.unexpected("a number"));
            }
            pcts.push(cur.number()?.1);
            if cur.eat(']') {
                break;
            }
            cur.expect(',', "',' or ']'")?;
        }
    }
    cur.expect(',', "','")?;
    cur.expect('[', "'[' opening the list of schedules")?;
    let mut scheds = Vec::new();
    if !cur.eat(']') {
        loop {
            scheds.push(schedule(cur, depth + 1)?);
            if cur.eat(']') {
                break;
            }
            cur.expect(',', "',' or ']'")?;
        }
    }
    cur.expect(')', "')'")?;
    Ok((pcts, scheds))
}

fn arity(offset: usize, name: &str, expected: &'static str, found: usize) -> ScheduleParseError {
    ScheduleParseError {
        offset,
        kind: ParseErrorKind::Arity {
            name: name.to_string(),
            expected,
            found,
        },
    }
}

fn invalid(offset: usize, e: ScheduleError) -> ScheduleParseError {
    ScheduleParseError {
        offset,
        kind: ParseErrorKind::Invalid(e),
    }
}
