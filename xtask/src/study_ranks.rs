//! `lesson --study dp-small-batch`: the small-batch study's data-parallel rows. A global
//! batch of 8 split over 4 MPI ranks, 2 samples each, one epoch (or `--max-steps` steps) at
//! the lesson's bs-2 learning rate 0.4, for three norms and three seeds:
//!
//! * BatchNorm2d: each rank normalises its own 2 samples (the lesson's bs-2 failure, though
//!   the gradients are averaged over all 8);
//! * SyncBatchNorm: the statistics span all 8 samples of the step;
//! * GroupNorm (4 groups): per-sample statistics, indifferent to the split.
//!
//! Each run is `xtask train --ranks 4` in a child process (which starts `mpirun`); its
//! `metrics.jsonl` gives the row. The rows replace the section between
//! [`BEGIN`] and [`END`] in the results page (appended when missing).

use std::path::Path;
use std::process::Command;

use learner::checkpoint::write_atomic;
use learner::report::read_metrics_jsonl;

use crate::CmdResult;

/// Ranks of the study.
pub const RANKS: usize = 4;
/// Samples per rank and step.
pub const LOCAL_BS: usize = 2;
/// Seeds.
pub const SEEDS: [u64; 3] = [0, 1, 2];
/// The lesson's learning rate of its bs-2 rows.
pub const LR: f64 = 0.4;
/// The markers around the generated section.
pub const BEGIN: &str =
    "<!-- dp-small-batch: written by cargo xtask lesson --study dp-small-batch -->";
/// See [`BEGIN`].
pub const END: &str = "<!-- /dp-small-batch -->";

/// The norms compared: `--norm` value and title.
const NORMS: [(&str, &str); 3] = [
    ("batch", "BatchNorm2d (own 2 samples)"),
    ("sync-batch", "SyncBatchNorm (all 8 samples)"),
    ("group", "GroupNorm, 4 groups"),
];

/// One finished run.
struct StudyRow {
    title: &'static str,
    seed: u64,
    steps: String,
    valid_loss: f64,
    valid_acc: f64,
    seconds: f64,
}

/// Runs the study and writes its section into `results`.
pub fn run(
    data: Option<&std::ffi::OsStr>,
    max_steps: Option<usize>,
    out: &Path,
    results: &Path,
) -> CmdResult {
    let me = std::env::current_exe()?;
    let mut rows = Vec::new();
    for (norm, title) in NORMS {
        for seed in SEEDS {
            let dir = out.join(format!("dp-small-batch-{norm}-s{seed}"));
            let mut cmd = Command::new(&me);
            cmd.arg("train")
                .args(["--ranks", &RANKS.to_string()])
                .args(["--bs", &(RANKS * LOCAL_BS).to_string()])
                .args(["--norm", norm, "--seed", &seed.to_string()])
                .args(["--epochs", "1", "--lr", &LR.to_string()])
                .args(["--on-nonfinite", "continue", "--no-checkpoint"])
                .arg("--out")
                .arg(&dir);
            if let Some(d) = data {
                cmd.arg("--data").arg(d);
            }
            if let Some(n) = max_steps {
                cmd.args(["--max-steps", &n.to_string()]);
            }
            println!("== dp-small-batch: {title}, seed {seed}");
            let status = cmd.status()?;
            if !status.success() {
                return Err(format!("the run {} failed ({status})", dir.display()).into());
            }
            let epochs = read_metrics_jsonl(dir.join("metrics.jsonl"))?;
            let last = epochs
                .last()
                .ok_or_else(|| format!("{}: no epoch in metrics.jsonl", dir.display()))?;
            rows.push(StudyRow {
                title,
                seed,
                steps: max_steps.map_or("full epoch".into(), |n| format!("{n} (capped)")),
                valid_loss: last.valid_loss,
                valid_acc: last.valid_acc,
                seconds: last.seconds,
            });
        }
    }
    let section = section(&rows);
    let page = std::fs::read_to_string(results).unwrap_or_default();
    let page = splice(&page, &section);
    write_atomic(results, page.as_bytes())?;
    println!("wrote {}", results.display());
    Ok(())
}

fn num(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "NaN".into()
    }
}

/// The generated section: one row per run, then the mean over the seeds per norm.
fn section(rows: &[StudyRow]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "{BEGIN}\n");
    let _ = writeln!(
        s,
        "### Small batches across ranks: {RANKS} ranks x {LOCAL_BS} samples (global batch {}), lr {LR}, one epoch\n",
        RANKS * LOCAL_BS
    );
    let _ = writeln!(
        s,
        "| norm | seed | steps | valid loss | valid acc | time |\n|---|---|---|---|---|---|"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.1} s |",
            r.title,
            r.seed,
            r.steps,
            num(r.valid_loss, 4),
            num(r.valid_acc, 4),
            r.seconds
        );
    }
    let _ = writeln!(
        s,
        "\n| norm | mean valid loss | mean valid acc |\n|---|---|---|"
    );
    for (_, title) in NORMS {
        let of: Vec<&StudyRow> = rows.iter().filter(|r| r.title == title).collect();
        let n = of.len().max(1) as f64;
        let loss = of.iter().map(|r| r.valid_loss).sum::<f64>() / n;
        let acc = of.iter().map(|r| r.valid_acc).sum::<f64>() / n;
        let _ = writeln!(s, "| {title} | {} | {} |", num(loss, 4), num(acc, 4));
    }
    let _ = writeln!(s, "\n{END}");
    s
}

/// `page` with the section between the markers replaced by `section` (appended when the
/// markers are missing).
fn splice(page: &str, section: &str) -> String {
    if let (Some(a), Some(b)) = (page.find(BEGIN), page.find(END)) {
        if a < b {
            return format!(
                "{}{}{}",
                &page[..a],
                section.trim_end(),
                &page[b + END.len()..]
            );
        }
    }
    let mut out = page.trim_end().to_string();
    out.push_str("\n\n");
    out.push_str(section);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_replaces_its_old_self_and_keeps_the_rest() {
        let old = format!("# T\n\ntext\n\n{BEGIN}\nold rows\n{END}\n\nafter\n");
        let new = splice(&old, &format!("{BEGIN}\nnew rows\n{END}\n"));
        assert_eq!(
            new,
            format!("# T\n\ntext\n\n{BEGIN}\nnew rows\n{END}\n\nafter\n")
        );
        let appended = splice("# T\n", &format!("{BEGIN}\nrows\n{END}\n"));
        assert_eq!(appended, format!("# T\n\n{BEGIN}\nrows\n{END}\n"));
    }
}
