//! The profile of one epoch as a table: time per label of [`tensor::profile`], per step.

use std::fmt::Write as _;

use mnist_data::MnistSplits;
use tensor::profile::{self, Entry};

use crate::bench::ours::{time_ours, OurRun};
use crate::bench::phases::PhaseLaps;

/// A readable name for a profile label.
fn describe(e: &Entry) -> String {
    let l = e.label;
    let [ci, co, k] = l.detail;
    match l.category {
        "conv" => format!("conv {ci}→{co} k{k}: {}", l.name),
        "forward" => format!("forward op `{}` (not conv)", l.name),
        "backward" => format!("backward of `{}`", l.name),
        "loop" => format!("loop: {}", l.name),
        "other" => "between ops (module glue)".to_string(),
        c => format!("{c}: {}", l.name),
    }
}

/// Profiles `run` (our side) and returns a markdown table, largest share first.
pub fn profile_epoch(
    run: &OurRun,
    splits: &MnistSplits,
) -> Result<String, Box<dyn std::error::Error>> {
    let result = time_ours(run, splits, vec![Box::new(PhaseLaps::new(run.warmup))]);
    profile::set_enabled(false);
    let (seconds, _) = result?;
    let mut entries = profile::take();
    entries.sort_by_key(|e| std::cmp::Reverse(e.total));
    let total: f64 = entries.iter().map(|e| e.total.as_secs_f64()).sum();
    let steps = run.steps as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Wall time of the profiled steps: {:.1} ms per step (timer: {:.1} ms per step \
         without the profiler's own callback overhead removed).\n",
        total * 1e3 / steps,
        seconds * 1e3 / steps
    );
    let _ = writeln!(s, "| what | ms per step | share |");
    let _ = writeln!(s, "|---|---:|---:|");
    for e in &entries {
        let t = e.total.as_secs_f64();
        let _ = writeln!(
            s,
            "| {} | {:.3} | {:.1}% |",
            describe(e),
            t * 1e3 / steps,
            100.0 * t / total.max(f64::MIN_POSITIVE)
        );
    }
    Ok(s)
}
