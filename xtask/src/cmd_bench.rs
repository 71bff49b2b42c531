//! `bench`: seconds per training epoch beside PyTorch's, measured in the same run.
//!
//! For every setting the two sides alternate (ours, PyTorch, ours, PyTorch, ... for
//! `--rounds` rounds) on the same data, model, schedule and thread count; the table gives
//! each side's median and their ratio. `--sweep` adds the cost curve of one training step
//! over batch sizes 2 to 1024, `--profile` the time per op family of a bs-512 epoch, and
//! `--write` puts all of it into `docs/benchmarks.md` (between markers) and the sweep's
//! plot into `docs/bench-sweep.svg`.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use mnist_data::{DataSource, MnistSplits};
use norms::NormKind;
use tensor::Device;

use crate::bench::ours::{time_ours, OurRun};
use crate::bench::profile_table::profile_epoch;
use crate::bench::stats::{fixed, median, ratio};
use crate::bench::svg::{log_log_chart, Series};
use crate::bench::torch::{StepRequest, TorchWorker};
use crate::session::load_splits;
use crate::CmdResult;

/// Arguments of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Device: `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// Data directory, or `sample` [default: as for `train`].
    #[arg(long, value_name = "DIR")]
    pub data: Option<OsString>,
    /// Threads for both sides (our rayon pool, `torch.set_num_threads`).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub threads: usize,
    /// The Python that has torch (the PyTorch side is skipped, and says so, when it cannot
    /// import torch).
    #[arg(long, default_value = "python3", value_name = "PYTHON")]
    pub torch: OsString,
    /// Time our side only.
    #[arg(long)]
    pub no_torch: bool,
    /// Rounds per setting (each side runs once per round; medians over the rounds).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub rounds: usize,
    /// Steps timed for batch size 2 (scaled to the 25,000-step epoch).
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub bs2_steps: usize,
    /// At most this many timed steps for every setting (smoke runs; results are scaled).
    #[arg(long, value_name = "N")]
    pub max_steps: Option<usize>,
    /// Untimed steps at the start of each run.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub warmup: usize,
    /// Also measure the training-step cost over batch sizes 2, 4, ..., 1024 (BatchNorm2d
    /// cannot train at bs 1: the last layer's output is 1×1, one value per channel).
    #[arg(long)]
    pub sweep: bool,
    /// Rounds of the sweep [default: `--rounds`]. Neighbouring batch sizes differ by a few
    /// per cent per sample at the large end, about the spread of a round on a shared
    /// machine, so the sweep may want more rounds than the table.
    #[arg(long, value_name = "N", requires = "sweep")]
    pub sweep_rounds: Option<usize>,
    /// Also profile an epoch by op family (bs 512, or `--profile-bs`).
    #[arg(long)]
    pub profile: bool,
    /// The batch size `--profile` runs at (an epoch of BatchNorm2d steps; at least 2).
    #[arg(long, default_value_t = 512, value_name = "BS", requires = "profile")]
    pub profile_bs: usize,
    /// Write the results into docs/benchmarks.md (and the sweep's plot beside it).
    #[arg(long)]
    pub write: bool,
}

/// The one-cycle schedule of every run: `one_cycle(0.2, 1.0, 0.01)`, as `cargo xtask train`.
const SCHED: (f64, f64, f64) = (0.2, 1.0, 0.01);

/// The batch sizes of `--sweep` (not 1: see `BenchArgs::sweep`).
const SWEEP_SIZES: [usize; 10] = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/// Samples each `--sweep` run trains on (before the 20-400 step clamp).
const SWEEP_SAMPLES: usize = 16_384;

/// Markers around the generated section of `docs/benchmarks.md`.
const BEGIN: &str = "<!-- BEGIN cargo xtask bench (generated) -->";
const END: &str = "<!-- END cargo xtask bench -->";

/// Both sides' per-round seconds per step of one setting.
#[derive(Default)]
struct Timing {
    ours: Vec<f64>,
    torch: Vec<f64>,
    torch_error: Option<String>,
}

/// Runs one setting `rounds` times on each side, alternating.
fn time_both(
    args: &BenchArgs,
    splits: &MnistSplits,
    torch: &mut Option<TorchWorker>,
    norm: NormKind,
    bs: usize,
    steps: usize,
) -> Result<Timing, Box<dyn std::error::Error>> {
    let (run, req) = setting(args, norm, bs, steps);
    let mut t = Timing::default();
    for _ in 0..args.rounds {
        time_round(splits, torch, (&run, &req), &mut t)?;
    }
    Ok(t)
}

/// Our run and the PyTorch request of one setting: `steps` timed steps of `norm` at `bs`.
fn setting(
    args: &BenchArgs,
    norm: NormKind,
    bs: usize,
    steps: usize,
) -> (OurRun, StepRequest<'static>) {
    let run = OurRun {
        norm,
        bs,
        warmup: args.warmup,
        steps,
        sched: SCHED,
        device: args.device,
    };
    let req = StepRequest {
        norm: if norm == NormKind::RunningBatch {
            "running"
        } else {
            "batch"
        },
        bs,
        warmup: args.warmup,
        steps,
        sched: SCHED,
    };
    (run, req)
}

/// One round of a setting: our run once, then PyTorch's (unless it failed before), each
/// timing appended to `t` in seconds per step.
fn time_round(
    splits: &MnistSplits,
    torch: &mut Option<TorchWorker>,
    (run, req): (&OurRun, &StepRequest),
    t: &mut Timing,
) -> Result<(), Box<dyn std::error::Error>> {
    let (secs, _) = time_ours(run, splits, Vec::new())?;
    t.ours.push(secs / run.steps as f64);
    if let (Some(w), None) = (torch.as_mut(), &t.torch_error) {
        match w.time(req) {
            Ok(secs) => t.torch.push(secs / run.steps as f64),
            Err(e) => t.torch_error = Some(e),
        }
    }
    Ok(())
}

/// Steps that fit in one epoch after the warm-up, at most `want`.
fn steps_in_epoch(train_len: usize, bs: usize, warmup: usize, want: Option<usize>) -> usize {
    let room = train_len.div_ceil(bs).saturating_sub(warmup).max(1);
    want.map_or(room, |w| w.min(room)).max(1)
}

/// `bench`: the table, and optionally the sweep and the profile.
pub fn bench(args: &BenchArgs) -> CmdResult {
    if args.bs2_steps == 0
        || args.max_steps == Some(0)
        || args.rounds == 0
        || args.sweep_rounds == Some(0)
        || args.threads == 0
    {
        return Err(
            "--bs2-steps, --max-steps, --rounds, --sweep-rounds and --threads must be at least 1"
                .into(),
        );
    }
    if args.profile_bs < 2 {
        // BatchNorm2d's last layer sees one value per channel at bs 1 (see `--sweep`).
        return Err("--profile-bs must be at least 2".into());
    }
    crate::session::check_device(args.device)?;
    let (source, splits) = load_splits(args.data.as_deref())?;
    let train_len = splits.train.len();
    let mut torch = None;
    let torch_note: String;
    if args.no_torch {
        torch_note = "PyTorch: not run (--no-torch).".to_string();
    } else if args.device != Device::Cpu {
        torch_note = "PyTorch: not run (the script times the CPU only).".to_string();
    } else {
        // The PyTorch script reads the MNIST files (never an .npz archive).
        let dir = match DataSource::resolve(args.data.as_deref()) {
            DataSource::Dir(d) => d,
            DataSource::Sample => mnist_data::sample::sample_dir(),
        };
        match TorchWorker::start(&args.torch, &dir, args.threads, train_len) {
            Ok(w) => {
                torch_note = format!("PyTorch: {} (`benches/torch/lesson_step.py`).", w.describe);
                torch = Some(w);
            }
            Err(e) => {
                torch_note = format!(
                    "PyTorch: not available from `{}` ({e}); ours alone.",
                    args.torch.to_string_lossy()
                );
            }
        }
    }
    let mut doc = String::new();
    let _ = writeln!(
        doc,
        "Data: {source}; device {}; {} threads on both sides; {} rounds per setting, each \
         side once per round (ours, PyTorch, ours, PyTorch, ...), medians over the rounds; \
         {} untimed warm-up steps per run; schedule one_cycle({}, {}, {}).\n\n{torch_note}\n",
        args.device, args.threads, args.rounds, args.warmup, SCHED.0, SCHED.1, SCHED.2
    );
    epoch_table(args, &splits, &mut torch, &mut doc)?;
    let mut svg = None;
    if args.sweep {
        svg = Some(sweep(args, &splits, &mut torch, &mut doc)?);
    }
    if args.profile {
        let bs = args.profile_bs;
        let steps = steps_in_epoch(train_len, bs, args.warmup, args.max_steps);
        let run = OurRun {
            norm: NormKind::Batch,
            bs,
            warmup: args.warmup,
            steps,
            sched: SCHED,
            device: args.device,
        };
        let _ = writeln!(
            doc,
            "\n### Profile of a bs-{bs} epoch (ours, BatchNorm2d, {steps} steps)\n"
        );
        doc.push_str(&profile_epoch(&run, &splits)?);
    }
    println!("{doc}");
    if args.write {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let docs = root.join("docs");
        if let Some(svg) = svg {
            std::fs::write(docs.join("bench-sweep.svg"), svg)?;
        }
        write_section(&docs.join("benchmarks.md"), &doc)?;
        println!(
            "wrote docs/benchmarks.md{}",
            if args.sweep {
                " and docs/bench-sweep.svg"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// The seconds-per-epoch table.
fn epoch_table(
    args: &BenchArgs,
    splits: &MnistSplits,
    torch: &mut Option<TorchWorker>,
    doc: &mut String,
) -> CmdResult {
    let train_len = splits.train.len();
    let settings = [
        ("BatchNorm2d, bs 512", NormKind::Batch, 512, None),
        ("BatchNorm2d, bs 32", NormKind::Batch, 32, None),
        ("RunningBatchNorm, bs 32", NormKind::RunningBatch, 32, None),
        (
            "BatchNorm2d, bs 2",
            NormKind::Batch,
            2,
            Some(args.bs2_steps),
        ),
    ];
    let _ = writeln!(doc, "### Seconds per training epoch\n");
    let _ = writeln!(
        doc,
        "| setting | steps timed per run | ours (s/epoch) | PyTorch (s/epoch) | ours / PyTorch |"
    );
    let _ = writeln!(doc, "|---|---|---:|---:|---:|");
    for (name, norm, bs, cap) in settings {
        let want = match (cap, args.max_steps) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let steps = steps_in_epoch(train_len, bs, args.warmup, want);
        let t = time_both(args, splits, torch, norm, bs, steps)?;
        let full = train_len.div_ceil(bs) as f64;
        let ours = median(&t.ours).map(|s| s * full);
        let theirs = median(&t.torch).map(|s| s * full);
        let _ = writeln!(
            doc,
            "| {name} | {steps} of {} | {} | {} | {} |",
            full,
            fixed(ours, 2),
            t.torch_error
                .as_deref()
                .map_or_else(|| fixed(theirs, 2), |e| format!("error: {e}")),
            ratio(ours, theirs)
        );
        eprintln!(
            "{name}: ours {:?} s/step, PyTorch {:?} s/step",
            t.ours, t.torch
        );
    }
    Ok(())
}

/// The step-cost curve over batch sizes; returns the plot.
fn sweep(
    args: &BenchArgs,
    splits: &MnistSplits,
    torch: &mut Option<TorchWorker>,
    doc: &mut String,
) -> Result<String, Box<dyn std::error::Error>> {
    let rounds = args.sweep_rounds.unwrap_or(args.rounds);
    let _ = writeln!(
        doc,
        "\n### Training-step cost by batch size (BatchNorm2d)\n\n![sweep](bench-sweep.svg)\n\n\
         {rounds} rounds over all the sizes, alternately upwards and downwards, each size \
         once per round on each side; medians over the rounds.\n"
    );
    let _ = writeln!(
        doc,
        "| bs | steps per run | ours (ms/step) | PyTorch (ms/step) | ours (µs/sample) | PyTorch (µs/sample) | ours / PyTorch |"
    );
    let _ = writeln!(doc, "|---:|---:|---:|---:|---:|---:|---:|");
    let (mut ours_pts, mut torch_pts) = (Vec::new(), Vec::new());
    // From 2: at bs 1 the last conv's 1×1 output leaves BatchNorm2d one value per channel.
    // Each run covers about 16k samples (20 to 400 steps), and the rounds go over all the
    // sizes in turn (round 1 at every size, then round 2, ...): a slow spell of the
    // machine then lands on one round of several sizes, not on every round of one. The
    // rounds alternate direction (up, down, up, ...), so that a drift within a round
    // does not always favour the same end of the curve.
    let settings: Vec<_> = SWEEP_SIZES
        .iter()
        .map(|&bs| {
            let want = (SWEEP_SAMPLES / bs).clamp(20, 400);
            let want = args.max_steps.map_or(want, |m| want.min(m));
            let steps = steps_in_epoch(splits.train.len(), bs, args.warmup, Some(want));
            setting(args, NormKind::Batch, bs, steps)
        })
        .collect();
    let mut timings: Vec<Timing> = settings.iter().map(|_| Timing::default()).collect();
    for round in 0..rounds {
        let mut order: Vec<_> = settings.iter().zip(&mut timings).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for ((run, req), t) in order {
            time_round(splits, torch, (run, req), t)?;
            eprintln!("sweep round {} bs {}: done", round + 1, run.bs);
        }
    }
    for ((run, _), t) in settings.iter().zip(&timings) {
        let (bs, steps) = (run.bs, run.steps);
        let ours = median(&t.ours);
        let theirs = median(&t.torch);
        let per = |s: Option<f64>| s.map(|v| v * 1e6 / bs as f64);
        if let Some(v) = per(ours) {
            ours_pts.push((bs as f64, v));
        }
        if let Some(v) = per(theirs) {
            torch_pts.push((bs as f64, v));
        }
        let torch_ms = t.torch_error.as_deref().map_or_else(
            || fixed(theirs.map(|v| v * 1e3), 3),
            |e| format!("error: {e}"),
        );
        let _ = writeln!(
            doc,
            "| {bs} | {steps} | {} | {torch_ms} | {} | {} | {} |",
            fixed(ours.map(|v| v * 1e3), 3),
            fixed(per(ours), 1),
            fixed(per(theirs), 1),
            ratio(ours, theirs)
        );
        eprintln!("sweep bs {bs}: ours {:?}, PyTorch {:?}", t.ours, t.torch);
    }
    Ok(log_log_chart(
        "One training step (BatchNorm2d), per sample",
        "batch size",
        "µs per sample",
        &[
            Series {
                name: "ours",
                color: "#1f77b4",
                points: ours_pts,
            },
            Series {
                name: "PyTorch",
                color: "#d62728",
                points: torch_pts,
            },
        ],
    ))
}

/// Replaces the text between [`BEGIN`] and [`END`] in `path` with `body` (appending the
/// marked section when the markers are missing).
fn write_section(path: &PathBuf, body: &str) -> CmdResult {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let section = format!("{BEGIN}\n\n{}\n{END}", body.trim_end());
    let new = match (text.find(BEGIN), text.find(END)) {
        (Some(a), Some(b)) if a < b => {
            format!("{}{section}{}", &text[..a], &text[b + END.len()..])
        }
        _ => format!("{}\n\n{section}\n", text.trim_end()),
    };
    std::fs::write(path, new)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_fit_in_one_epoch() {
        assert_eq!(steps_in_epoch(50_000, 512, 3, None), 95);
        assert_eq!(steps_in_epoch(50_000, 512, 3, Some(10)), 10);
        assert_eq!(steps_in_epoch(50_000, 2, 3, Some(2000)), 2000);
        assert_eq!(steps_in_epoch(100, 512, 3, None), 1);
    }

    #[test]
    fn section_is_replaced_between_markers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.md");
        std::fs::write(&p, format!("head\n{BEGIN}\nold\n{END}\ntail\n")).unwrap();
        write_section(&p, "new\n").unwrap();
        let s = std::fs::read_to_string(&p).unwrap();
        assert_eq!(s, format!("head\n{BEGIN}\n\nnew\n{END}\ntail\n"));
        let q = dir.path().join("c.md");
        std::fs::write(&q, "only\n").unwrap();
        write_section(&q, "x").unwrap();
        assert_eq!(
            std::fs::read_to_string(&q).unwrap(),
            format!("only\n\n{BEGIN}\n\nx\n{END}\n")
        );
    }
}
