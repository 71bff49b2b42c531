//! A rank that stops alone does not hang the others: under `mpirun -np 2`, rank 1 feeds a
//! NaN batch at training step `AT`; its `NonFiniteGuard` cancels before the backward pass,
//! and [`StopVote`] makes rank 0 stop after the same batch instead of waiting in the gradient
//! all-reduce for ever.
//!
//! * BatchNorm2d: only rank 1 sees the NaN. Rank 1 stops with a diagnosis at (epoch 0, batch
//!   `AT`); rank 0 stops with `stopped_by = 1 of 2 ranks, epoch 0, batch AT` and no diagnosis.
//! * SyncBatchNorm: the same, where rank 0 would otherwise wait in the statistics'
//!   all-reduce of the backward pass. Here rank 1 poisons its predictions, not its input:
//!   a NaN input would reach rank 0 through the shared statistics of the forward pass (ReLU
//!   propagates NaN, as in PyTorch), and both ranks would stop on their own.
//! * Every rank poisoned: each guard stops its own rank at the same batch; nobody is blamed.
//!
//! Each rank prints one `outcome:` line; the launcher checks them and that the job ends
//! within 30 s. Needs Open MPI (`.ci/mpi.sh`).
#![cfg(feature = "mpi")]

use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use collective::{Collective, MpiCollective};
use layers::{get_cnn_model, init_cnn, ModuleExt};
use learner::callbacks::{mnist_view, BatchTransformX, GuardMode, NonFiniteGuard};
use learner::distributed::{DataParallel, StopVote};
use learner::{
    Callback, CbResult, Ctx, DataBunch, DataLoader, FitOutcome, Flow, Learner, Runner,
    TensorDataset,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tensor::{DType, Device, Tensor};

static ONE_JOB: std::sync::Mutex<()> = std::sync::Mutex::new(());

const RANK_ENV: &str = "LEARNER_STOP_RANK_PROGRAM";
const GLOBAL_BS: usize = 16;
const STEPS: usize = 8;
const AT: usize = 3;
const POISONED_RANK: usize = 1;

/// `n` MNIST-shaped samples with values from a fixed pattern and labels `i % 10`.
fn dataset(n: usize) -> TensorDataset {
    let x: Vec<f64> = (0..n * 784)
        .map(|k| (((k * 7919) % 1000) as f64 / 1000.0 - 0.5) * 2.0)
        .collect();
    let y: Vec<f64> = (0..n).map(|i| (i % 10) as f64).collect();
    let x = Tensor::from_vec(x, &[n, 784], Device::Cpu).unwrap();
    let y = Tensor::from_vec(y, &[n], Device::Cpu).unwrap();
    TensorDataset::new(x, y).unwrap()
}

/// Makes training batch `AT` non-finite on the rank that holds it: its input replaced by
/// NaNs before the forward pass, or (`after_forward`) its predictions multiplied by NaN
/// after it.
struct Poison {
    after_forward: bool,
}

impl Poison {
    fn at_this_batch(ctx: &Ctx<'_>) -> bool {
        ctx.state.in_train && ctx.state.iter == AT
    }
}

impl Callback for Poison {
    fn name(&self) -> &'static str {
        "poison"
    }
    fn order(&self) -> i32 {
        -30
    }
    fn begin_batch(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        if !self.after_forward && Self::at_this_batch(ctx) {
            let xb = ctx.state.xb.as_ref().unwrap();
            let nan = Tensor::full(xb.shape(), f64::NAN, xb.dtype(), xb.device())?;
            ctx.state.xb = Some(nan);
        }
        Ok(Flow::Continue)
    }
    fn after_pred(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        if self.after_forward && Self::at_this_batch(ctx) {
            let pred = ctx.state.pred.as_ref().unwrap();
            ctx.state.pred = Some(pred.mul_scalar(f64::NAN)?);
        }
        Ok(Flow::Continue)
    }
}

#[test]
#[ignore = "rank program: started by the mpirun tests of this file"]
fn rank_program() {
    let Ok(mode) = std::env::var(RANK_ENV) else {
        return;
    };
    let comm: Rc<dyn Collective> = Rc::new(MpiCollective::init().unwrap());
    let (w, r) = (comm.world_size(), comm.rank());
    let train = DataLoader::new(dataset(GLOBAL_BS * STEPS), GLOBAL_BS / w, true, 1)
        .unwrap()
        .distributed(r, w)
        .unwrap();
    let valid = DataLoader::new(dataset(4 * w), GLOBAL_BS / w, false, 1)
        .unwrap()
        .distributed(r, w)
        .unwrap();
    let norm = match mode.as_str() {
        "batch" | "all" => norms::NormKind::Batch.factory(),
        "sync" => norms::SyncBatchNorm::factory(comm.clone()),
        other => panic!("unknown mode {other}"),
    };
    let mut rng = StdRng::seed_from_u64(2);
    let model = get_cnn_model(&[8, 16], &norm, &mut rng).unwrap();
    init_cnn(&model, &mut rng).unwrap();
    model.to_dtype(DType::F64).unwrap();
    let mut learn = Learner::new(Box::new(model), DataBunch::new(train, valid, 10), 0.1).unwrap();
    let mut cbs: Vec<Box<dyn Callback>> = vec![
        Box::new(BatchTransformX::new(mnist_view())),
        Box::new(NonFiniteGuard::new(GuardMode::Stop, 1)),
        Box::new(DataParallel::new(comm.clone())),
        Box::new(StopVote::new(comm.clone())),
    ];
    if r == POISONED_RANK || mode == "all" {
        cbs.push(Box::new(Poison {
            after_forward: mode == "sync",
        }));
    }
    let mut runner = Runner::with_callbacks(cbs);
    let outcome = runner.fit(3, &mut learn).unwrap();
    let diagnosis = runner
        .callback::<NonFiniteGuard>()
        .and_then(|g| g.diagnosis())
        .map(|d| (d.epoch, d.iter, d.training));
    let vote = runner.callback::<StopVote>().unwrap();
    let outcome = match outcome {
        FitOutcome::Cancelled { epoch, n_iter } => format!("cancelled {epoch} {n_iter}"),
        FitOutcome::Completed => "completed".to_string(),
    };
    println!(
        "outcome: rank {r} {outcome}; diagnosis {diagnosis:?}; stopped_by {:?}; votes {}",
        vote.stopped_by().map(|s| (s.ranks, s.epoch, s.iter)),
        vote.votes()
    );
}

/// Runs `rank_program` on 2 ranks in `mode`; returns the `outcome:` lines sorted by rank.
fn mpirun(mode: &str) -> Vec<String> {
    let _one = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    let mpirun = collective::find_mpirun().unwrap_or_else(|e| panic!("{e}"));
    let me = std::env::current_exe().unwrap();
    let start = Instant::now();
    let mut child = Command::new(mpirun)
        .args(["-np", "2", "--oversubscribe", "--bind-to", "none"])
        .arg(me)
        .args(["rank_program", "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(RANK_ENV, mode)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mpirun");
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "mpirun ({mode}) still running after 30 s (a hang):\n{}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{}\n{out}\n{err}", o.status);
    let mut lines: Vec<String> = out
        .lines()
        .filter_map(|l| l.find("outcome: ").map(|i| l[i + 9..].to_string()))
        .collect();
    lines.sort();
    eprintln!(
        "{mode}: {lines:#?} ({:.1} s)",
        start.elapsed().as_secs_f64()
    );
    lines
}

/// The `outcome:` lines when rank 1 alone stops at batch `AT` and rank 0 follows: both end
/// the fit after `AT + 1` training batches (the cancelled one counts) and `AT + 1` votes
/// (rank 0 votes at batches `0..=AT`, the last telling it 1 rank stopped; rank 1 at `0..AT`,
/// then its stop from `after_cancel_train`).
fn one_rank_stopped() -> [String; 2] {
    let n = AT + 1;
    [
        format!("rank 0 cancelled 0 {n}; diagnosis None; stopped_by Some((1, 0, Some({AT}))); votes {n}"),
        format!("rank 1 cancelled 0 {n}; diagnosis Some((0, {AT}, true)); stopped_by None; votes {n}"),
    ]
}

#[test]
fn a_nan_on_one_rank_stops_both_after_the_same_batch() {
    assert_eq!(mpirun("batch"), one_rank_stopped());
}

/// With SyncBatchNorm the healthy rank would otherwise wait in the statistics' all-reduce of
/// the backward pass. (Rank 1 poisons its predictions, after the shared statistics of the
/// forward pass: a NaN input would reach rank 0 through them.)
#[test]
fn a_nan_on_one_rank_with_sync_batchnorm_stops_both_after_the_same_batch() {
    assert_eq!(mpirun("sync"), one_rank_stopped());
}

/// Every rank poisoned: each stops on its own at the same batch, nobody is blamed.
#[test]
fn ranks_that_stop_alike_stop_on_their_own() {
    let n = AT + 1;
    let lines: Vec<String> = (0..2)
        .map(|r| format!("rank {r} cancelled 0 {n}; diagnosis Some((0, {AT}, true)); stopped_by None; votes {n}"))
        .collect();
    assert_eq!(mpirun("all"), lines);
}
