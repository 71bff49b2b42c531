//! `lesson`: runs the lesson's table and writes `docs/results.md`.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use learner::callbacks::GuardMode;
use learner::checkpoint::write_atomic;
use tensor::Device;

use crate::lesson_table::{lesson_runs, LessonLr, LessonRun};
use crate::session::{execute, load_splits, LrChoice, RunConfig, RunResult};
use crate::CmdResult;

/// Arguments of `lesson`.
#[derive(Debug, Args)]
pub struct LessonArgs {
    /// Data directory, or `sample` [default: as for `train`].
    #[arg(long, value_name = "DIR")]
    pub data: Option<OsString>,
    /// Run only these rows (comma-separated names: no-norm, batch-lesson, batch,
    /// batch-sched, layer, layer-lr0.4, instance, group, batch-bs2, running-batch-bs2,
    /// running-batch-bs32).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub only: Vec<String>,
    /// At most this many training steps per epoch for the two batch-size-2 runs (a full
    /// epoch is 25,000 steps).
    #[arg(long, value_name = "N")]
    pub max_steps_bs2: Option<usize>,
    /// At most this many training steps per epoch for every run (smoke runs).
    #[arg(long, value_name = "N")]
    pub max_steps: Option<usize>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Device: `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// Directory for each run's report [default: docs/results in the workspace, so the
    /// plots are published beside the page].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The results page [default: docs/results.md in the workspace].
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Run a study instead of the table, written into its own section of the results page:
    /// `small-batch` (bs 2, 8, 32 x BatchNorm2d, RunningBatchNorm, Batch Renormalization,
    /// GroupNorm; 3 seeds) or `dp-small-batch` (4 MPI ranks x 2 samples: BatchNorm2d vs
    /// SyncBatchNorm vs GroupNorm, 3 seeds, one epoch or --max-steps; needs the `mpi` feature).
    #[arg(long, value_enum, value_name = "STUDY")]
    pub study: Option<Study>,
}

/// The studies of `lesson --study`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Study {
    /// Small batches in one process (see `study`).
    SmallBatch,
    /// Data-parallel small batches (see `study_ranks`).
    DpSmallBatch,
}

/// One finished row.
struct Row {
    run: LessonRun,
    steps: usize,
    result: RunResult,
}

/// `lesson`: every selected row, one after the other, then the results page.
pub fn lesson(args: &LessonArgs) -> CmdResult {
    let all = lesson_runs();
    for name in &args.only {
        if !all.iter().any(|r| r.name == name) {
            let names: Vec<&str> = all.iter().map(|r| r.name).collect();
            return Err(format!(
                "unknown run `{name}` in --only (known: {})",
                names.join(", ")
            )
            .into());
        }
    }
    for (flag, v) in [
        ("--max-steps-bs2", args.max_steps_bs2),
        ("--max-steps", args.max_steps),
    ] {
        if v == Some(0) {
            return Err(format!("{flag} must be at least 1").into());
        }
    }
    crate::session::check_device(args.device)?;
    let root = mnist_data::workspace_root();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("docs").join("results"));
    let results = args
        .results
        .clone()
        .unwrap_or_else(|| root.join("docs").join("results.md"));
    match args.study {
        None => {}
        Some(Study::SmallBatch) => return crate::study::small_batch(args, &out, &results),
        Some(Study::DpSmallBatch) => {
            return crate::study_ranks::run(args.data.as_deref(), args.max_steps, &out, &results)
        }
    }
    let (source, splits) = load_splits(args.data.as_deref())?;
    let selected: Vec<LessonRun> = all
        .into_iter()
        .filter(|r| args.only.is_empty() || args.only.iter().any(|n| n == r.name))
        .collect();
    let mut rows = Vec::new();
    for run in selected {
        let cap = if run.bs == 2 {
            args.max_steps_bs2
        } else {
            None
        };
        let max_steps = match (cap, args.max_steps) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let cfg = RunConfig {
            norm: run.norm,
            bs: run.bs,
            lr: match run.lr {
                LessonLr::Const(lr) => LrChoice::Const(lr),
                LessonLr::Sched(s) => LrChoice::Sched(s.parse()?),
            },
            epochs: run.epochs,
            seed: args.seed,
            device: args.device,
            out: Some(out.join(run.name)),
            max_steps,
            stats: run.bs >= 32,
            guard: GuardMode::Report,
            print: true,
            progress: true,
            checkpoint: false,
            resume: None,
        };
        println!(
            "== {} ({}, bs {}, {}, {} epochs)",
            run.name, cfg.norm, cfg.bs, cfg.lr, cfg.epochs
        );
        let result = execute(&cfg, &splits)?;
        if let Some(d) = &result.diagnosis {
            println!("note: {d}");
        }
        rows.push(Row {
            steps: result.steps_per_epoch,
            run,
            result,
        });
    }
    let mut page = results_page(&source.to_string(), args, &rows, &results, &out);
    let old = std::fs::read_to_string(&results).unwrap_or_default();
    if let Some(study) = crate::study::section(&old) {
        page.push('\n');
        page.push_str(study);
        page.push('\n');
    }
    if let Some(dir) = results.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_atomic(&results, page.as_bytes())?;
    println!("wrote {}", results.display());
    Ok(())
}

/// `path` relative to the directory of `from` when it lies under the same root, else as is.
pub(crate) fn relative(path: &Path, from_dir: &Path) -> String {
    let root = mnist_data::workspace_root();
    match (path.strip_prefix(&root), from_dir.strip_prefix(&root)) {
        (Ok(p), Ok(d)) => {
            let ups = d.components().count();
            let mut s = "../".repeat(ups);
            s.push_str(&p.to_string_lossy());
            s
        }
        _ => path.display().to_string(),
    }
}

fn fmt_num(v: f64, digits: usize) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else {
        format!("{v:.digits$}")
    }
}

fn results_page(
    source: &str,
    args: &LessonArgs,
    rows: &[Row],
    results: &Path,
    out: &Path,
) -> String {
    let dir = results.parent().unwrap_or(Path::new("."));
    let mut s = String::new();
    let _ = writeln!(s, "# Results: the lesson's table, reproduced\n");
    let _ = writeln!(
        s,
        "Written by `cargo xtask lesson` (device {}, seed {}, data: {source}). Times are \
         wall-clock seconds on this machine; the lesson's are on a 2019 GPU. \"steps\" is the \
         number of training batches per epoch (a cap below the full epoch is marked).\n",
        args.device, args.seed
    );
    let _ = writeln!(
        s,
        "| run | bs | lr / schedule | epochs | steps | valid loss | valid acc | lesson's acc | time (ours) | lesson's time | plots |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let last = row.result.epochs.last();
        let loss = last.map_or("-".into(), |e| fmt_num(e.valid.loss, 4));
        let acc = last.map_or("-".into(), |e| {
            fmt_num(e.valid.metric("accuracy").unwrap_or(f64::NAN), 4)
        });
        let full = 50_000usize.div_ceil(row.run.bs);
        let steps = if row.steps < full {
            format!("{} (capped)", row.steps)
        } else {
            row.steps.to_string()
        };
        let lr = match row.run.lr {
            LessonLr::Const(v) => v.to_string(),
            LessonLr::Sched(t) => format!("`{t}`"),
        };
        let plots: Vec<String> = row
            .result
            .files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "png"))
            .map(|f| {
                let name = f
                    .file_stem()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("[{name}]({})", relative(f, dir))
            })
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {lr} | {} | {steps} | {loss} | {acc} | {} | {:.1} s | {} | {} |",
            row.run.title,
            row.run.bs,
            row.run.epochs,
            row.run.lesson_acc,
            row.result.seconds,
            row.run.lesson_time,
            plots.join(", ")
        );
    }
    let notes: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            r.result
                .diagnosis
                .as_ref()
                .map(|d| format!("- **{}**: {d}", r.run.name))
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(s, "\n## First non-finite values\n");
        for n in notes {
            let _ = writeln!(s, "{n}");
        }
    }
    let _ = writeln!(
        s,
        "\nEach run's `metrics.jsonl`, `config.json` and plots are in `{}`. How these numbers \
         compare with the lesson's, run to run, is discussed in [results-notes.md](results-notes.md).",
        relative(out, dir)
    );
    s
}
