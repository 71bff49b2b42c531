//! [`DynSchedule`]: a cheaply clonable, parseable handle to any schedule (what a command-line
//! parser such as clap wants: `Clone + Send + Sync + FromStr`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::parse::{parse_schedule, ScheduleParseError};
use crate::traits::Schedule;

/// A shared, type-erased schedule. Clones share the same schedule.
#[derive(Debug, Clone)]
pub struct DynSchedule(Arc<dyn Schedule>);

impl DynSchedule {
    /// Wraps any schedule.
    pub fn new<S: Schedule + 'static>(sched: S) -> Self {
        Self(Arc::new(sched))
    }
}

impl From<Box<dyn Schedule>> for DynSchedule {
    fn from(sched: Box<dyn Schedule>) -> Self {
        Self(Arc::from(sched))
    }
}

impl Schedule for DynSchedule {
    fn at(&self, pos: f64) -> f64 {
        self.0.at(pos)
    }
}

impl fmt::Display for DynSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for DynSchedule {
    type Err = ScheduleParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_schedule(s).map(Self::from)
    }
}

impl FromStr for Box<dyn Schedule> {
    type Err = ScheduleParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_schedule(s)
    }
}
