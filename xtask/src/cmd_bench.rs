//! `bench`: seconds per training epoch for three settings, beside PyTorch's figures.

use std::ffi::OsString;

use clap::Args;
use learner::callbacks::{mnist_view, BatchTransformX, DeviceCallback};
use learner::Runner;
use norms::NormKind;
use tensor::Device;

use crate::bench_timer::TrainTimer;
use crate::session::{load_splits, make_learner, LrChoice, NormChoice, RunConfig};
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
    /// Steps timed for batch size 2 (scaled to the 25,000-step epoch).
    #[arg(long, default_value_t = 3000, value_name = "N")]
    pub bs2_steps: usize,
    /// At most this many steps for every setting (smoke runs; results are scaled).
    #[arg(long, value_name = "N")]
    pub max_steps: Option<usize>,
    /// Untimed steps at the start of each setting.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub warmup: usize,
}

/// One benchmark setting and PyTorch's seconds per epoch for it.
struct Setting {
    name: &'static str,
    norm: NormKind,
    bs: usize,
    cap: Option<usize>,
    torch_cpu: f64,
    torch_h100: f64,
}

/// The lesson's training set size.
const TRAIN_LEN: usize = 50_000;

/// `bench`: times each setting's training steps and prints a table.
pub fn bench(args: &BenchArgs) -> CmdResult {
    if args.bs2_steps == 0 || args.max_steps == Some(0) {
        return Err("--bs2-steps and --max-steps must be at least 1".into());
    }
    crate::session::check_device(args.device)?;
    let (source, splits) = load_splits(args.data.as_deref())?;
    let settings = [
        Setting {
            name: "BatchNorm2d, bs 512",
            norm: NormKind::Batch,
            bs: 512,
            cap: None,
            torch_cpu: 1.8,
            torch_h100: 0.27,
        },
        Setting {
            name: "RunningBatchNorm, bs 32",
            norm: NormKind::RunningBatch,
            bs: 32,
            cap: None,
            torch_cpu: 7.1,
            torch_h100: 11.5,
        },
        Setting {
            name: "BatchNorm2d, bs 2",
            norm: NormKind::Batch,
            bs: 2,
            cap: Some(args.bs2_steps),
            torch_cpu: 46.0,
            torch_h100: 61.0,
        },
    ];
    println!("data: {source}; device {}", args.device);
    println!("| setting | steps timed | ours (s/epoch) | PyTorch 2-core CPU | PyTorch H100 |");
    println!("|---|---|---|---|---|");
    for s in settings {
        let cap = match (s.cap, args.max_steps) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let cfg = RunConfig {
            norm: NormChoice(Some(s.norm)),
            bs: s.bs,
            lr: LrChoice::Const(0.1),
            epochs: 1,
            seed: 0,
            device: args.device,
            out: None,
            max_steps: cap.map(|c| c + args.warmup),
            stats: false,
            guard: learner::callbacks::GuardMode::Report,
            print: false,
            progress: false,
            checkpoint: false,
            resume: None,
        };
        let mut learn = make_learner(&cfg, &splits)?;
        let mut runner = Runner::with_callbacks(vec![
            Box::new(DeviceCallback::new(args.device)),
            Box::new(BatchTransformX::new(mnist_view())),
            Box::new(TrainTimer::new(args.warmup)),
        ]);
        runner.fit(1, &mut learn)?;
        let timer = runner
            .callback::<TrainTimer>()
            .ok_or("the timer went missing")?;
        let full = TRAIN_LEN.div_ceil(s.bs);
        let per_epoch = timer.seconds / timer.steps.max(1) as f64 * full as f64;
        println!(
            "| {} | {} of {full} | {per_epoch:.2} | {} | {} |",
            s.name, timer.steps, s.torch_cpu, s.torch_h100
        );
    }
    Ok(())
}
