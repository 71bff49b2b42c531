//! A wall-clock profile of a training step, as a flat timeline of laps.
//!
//! When profiling is on ([`set_enabled`]), every call of [`lap`] charges the time since the
//! previous lap on this thread to the label it names, so the labels' times add up to the
//! profiled wall time exactly: nothing is counted twice and nothing is lost. Instrumented
//! code calls `lap` at the *end* of a piece of work with that work's label (and, where
//! a piece starts in the middle of unlabelled code, once at its start with a "glue" label).
//! The autograd graph laps at every recorded op (forward) and around every backward pass;
//! the convolution laps around each pass. Laps on other threads are kept apart from the
//! main thread's (rayon workers do not lap).
//!
//! When profiling is off (the default) a lap is one relaxed atomic load.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// What a lap is charged to: a category (`"forward"`, `"backward"`, `"conv"`, ...), a name
/// within it, and a small numeric detail (e.g. a convolution's `[c_in, c_out, k_h]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// Broad family.
    pub category: &'static str,
    /// The op or phase.
    pub name: &'static str,
    /// Extra numbers identifying an instance (zeros when unused).
    pub detail: [u32; 3],
}

/// Accumulated time of one label.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Entry {
    /// The label.
    pub label: Label,
    /// Total time charged to it.
    pub total: Duration,
    /// Number of laps charged to it.
    pub laps: u64,
}

struct Timeline {
    cursor: Option<Instant>,
    entries: Vec<Entry>,
}

thread_local! {
    static TIMELINE: RefCell<Timeline> = const {
        RefCell::new(Timeline { cursor: None, entries: Vec::new() })
    };
}

/// Turns profiling on or off for the whole process. Turning it on restarts this thread's
/// timeline at the present moment (the entries so far are kept; see [`take`]).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
    if on {
        restart();
    }
}

/// Whether profiling is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Sets this thread's cursor to now without charging anything (the time before it is
/// not profiled).
pub fn restart() {
    TIMELINE.with(|t| {
        if let Ok(mut t) = t.try_borrow_mut() {
            t.cursor = Some(Instant::now());
        }
    });
}

/// Charges the time since this thread's previous lap (or [`restart`]) to
/// `(category, name, detail)`. Does nothing when profiling is off.
#[inline]
pub fn lap(category: &'static str, name: &'static str, detail: [u32; 3]) {
    if !enabled() {
        return;
    }
    lap_slow(Label {
        category,
        name,
        detail,
    });
}

#[cold]
fn lap_slow(label: Label) {
    let now = Instant::now();
    TIMELINE.with(|t| {
        let Ok(mut t) = t.try_borrow_mut() else {
            return;
        };
        let Some(start) = t.cursor.replace(now) else {
            return;
        };
        let dt = now.saturating_duration_since(start);
        match t.entries.iter_mut().find(|e| e.label == label) {
            Some(e) => {
                e.total += dt;
                e.laps += 1;
            }
            None => t.entries.push(Entry {
                label,
                total: dt,
                laps: 1,
            }),
        }
    });
}

/// Removes and returns this thread's entries, in first-lap order.
pub fn take() -> Vec<Entry> {
    TIMELINE.with(|t| {
        t.try_borrow_mut()
            .map(|mut t| std::mem::take(&mut t.entries))
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laps_partition_the_timeline() {
        set_enabled(true);
        let _ = take();
        restart();
        std::thread::sleep(Duration::from_millis(5));
        lap("a", "x", [0; 3]);
        std::thread::sleep(Duration::from_millis(2));
        lap("b", "y", [1, 2, 3]);
        lap("a", "x", [0; 3]);
        set_enabled(false);
        lap("a", "x", [0; 3]);
        let e = take();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].label.name, "x");
        assert_eq!(e[0].laps, 2);
        assert!(e[0].total >= Duration::from_millis(5));
        assert_eq!(e[1].label.detail, [1, 2, 3]);
        assert!(e[1].total >= Duration::from_millis(2));
        assert!(take().is_empty());
    }
}
