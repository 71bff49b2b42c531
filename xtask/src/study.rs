//! `lesson --study small-batch`: the lesson's small-batch problem, with the published
//! answer beside fastai's. Batch sizes 2, 8 and 32 x {BatchNorm2d, RunningBatchNorm, Batch
//! Renormalization, GroupNorm}, one epoch each (lr 0.4 constant, the lesson's bs-2 runs),
//! 3 seeds; the table gives the mean ± sample standard deviation of the final valid
//! accuracy over the seeds and the mean wall time per epoch. The table replaces the
//! section between the study's markers in `docs/results.md` (appended the first time);
//! each run's report (loss/lr plot, metrics) goes to `docs/results/small-batch/`.

use std::fmt::Write as _;
use std::path::Path;

use learner::callbacks::GuardMode;
use learner::checkpoint::write_atomic;
use norms::NormKind;

use crate::cmd_lesson::LessonArgs;
use crate::session::{execute, load_splits, LrChoice, NormChoice, RenormClip, RunConfig};
use crate::CmdResult;

/// Batch sizes of the study.
pub const BATCH_SIZES: [usize; 3] = [2, 8, 32];
/// Seeds of every cell.
pub const SEEDS: [u64; 3] = [0, 1, 2];
/// The constant learning rate.
pub const LR: f64 = 0.4;
const BEGIN: &str = "<!-- small-batch study: begin -->";
const END: &str = "<!-- small-batch study: end -->";

/// The study's section of a results page (markers included), if it has one: `lesson`
/// keeps it when it rewrites the page.
pub fn section(page: &str) -> Option<&str> {
    let a = page.find(BEGIN)?;
    let b = page[a..].find(END)? + a;
    Some(&page[a..b + END.len()])
}

/// The norms compared, with their names in the table.
fn norms() -> [(NormKind, &'static str); 4] {
    [
        (NormKind::Batch, "BatchNorm2d"),
        (NormKind::RunningBatch, "RunningBatchNorm"),
        (NormKind::BatchRenorm, "Batch Renormalization"),
        (NormKind::Group { groups: 4 }, "GroupNorm (4 groups)"),
    ]
}

/// Mean and sample standard deviation.
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// One cell of the table.
struct Cell {
    accs: Vec<f64>,
    seconds: Vec<f64>,
    steps: usize,
    plot: Option<String>,
}

/// Runs the study and writes its section of the results page.
pub fn small_batch(args: &LessonArgs, out: &Path, results: &Path) -> CmdResult {
    let (source, splits) = load_splits(args.data.as_deref())?;
    let study_out = out.join("small-batch");
    let mut rows = Vec::new();
    for (kind, title) in norms() {
        let mut cells = Vec::new();
        for bs in BATCH_SIZES {
            let mut cell = Cell {
                accs: Vec::new(),
                seconds: Vec::new(),
                steps: 0,
                plot: None,
            };
            for seed in SEEDS {
                let dir = study_out.join(format!("{kind}-bs{bs}-seed{seed}").replace(':', ""));
                let cfg = RunConfig {
                    norm: NormChoice(Some(kind)),
                    bs,
                    lr: LrChoice::Const(LR),
                    epochs: 1,
                    seed,
                    device: args.device,
                    out: Some(dir.clone()),
                    max_steps: args.max_steps,
                    stats: false,
                    guard: GuardMode::Report,
                    print: false,
                    progress: false,
                    checkpoint: false,
                    resume: None,
                };
                let r = execute(&cfg, &splits)?;
                let acc = r
                    .epochs
                    .last()
                    .and_then(|e| e.valid.metric("accuracy"))
                    .unwrap_or(f64::NAN);
                println!(
                    "study {title} bs {bs} seed {seed}: valid acc {acc:.4}, {:.1} s",
                    r.seconds
                );
                cell.accs.push(acc);
                cell.seconds.push(r.seconds);
                cell.steps = r.steps_per_epoch;
                if seed == SEEDS[0] {
                    cell.plot = r
                        .files
                        .iter()
                        .find(|f| f.extension().is_some_and(|e| e == "png"))
                        .map(|f| {
                            crate::cmd_lesson::relative(
                                f,
                                results.parent().unwrap_or(Path::new(".")),
                            )
                        });
                }
            }
            cells.push((bs, cell));
        }
        rows.push((title, cells));
    }
    let section = table(&source.to_string(), args, &rows);
    let page = std::fs::read_to_string(results).unwrap_or_default();
    let new = match (page.find(BEGIN), page.find(END)) {
        (Some(a), Some(b)) if a < b => format!("{}{section}{}", &page[..a], &page[b + END.len()..]),
        _ => format!("{page}\n{section}\n"),
    };
    write_atomic(results, new.as_bytes())?;
    println!("wrote the small-batch study into {}", results.display());
    Ok(())
}

fn table(source: &str, args: &LessonArgs, rows: &[(&str, Vec<(usize, Cell)>)]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{BEGIN}");
    let _ = writeln!(s, "## Small-batch study\n");
    let cap = args
        .max_steps
        .map_or(String::new(), |n| format!(", at most {n} steps per epoch"));
    let _ = writeln!(
        s,
        "Written by `cargo xtask lesson --study small-batch` (device {}, data: {source}{cap}): \
         one epoch, constant lr {LR}, seeds {SEEDS:?}; valid accuracy after the epoch as \
         mean ± sample std over the seeds, and mean wall-clock seconds per epoch (on a \
         machine shared with other jobs, so times are under load and only roughly \
         comparable). Batch Renormalization relaxes rmax/dmax from 1/0 (batch norm) to \
         {}/{} between {:.0}% and {:.0}% of the epoch. Plots: seed 0's loss and lr.\n",
        args.device,
        RenormClip::FINAL.0,
        RenormClip::FINAL.1,
        RenormClip::WARM * 100.0,
        RenormClip::RAMP * 100.0
    );
    let _ = write!(s, "| norm |");
    for bs in BATCH_SIZES {
        let _ = write!(s, " bs {bs}: valid acc | bs {bs}: s/epoch |");
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "|---|{}", "---|---|".repeat(BATCH_SIZES.len()));
    for (title, cells) in rows {
        let _ = write!(s, "| {title} |");
        for (_, c) in cells {
            let (m, sd) = mean_std(&c.accs);
            let (t, _) = mean_std(&c.seconds);
            let plot = c
                .plot
                .as_ref()
                .map_or(String::new(), |p| format!(" ([plot]({p}))"));
            let _ = write!(s, " {m:.4} ± {sd:.4}{plot} | {t:.1} ({} steps) |", c.steps);
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "{END}");
    s
}
