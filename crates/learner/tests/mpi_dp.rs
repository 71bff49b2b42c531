//! Data-parallel training under `mpirun`: 8 steps of the lesson's CNN with SyncBatchNorm on
//! 2 ranks x 256 equal one process at batch 512 with BatchNorm2d, in `f64` and `f32`.
//!
//! The launcher tests start `mpirun -np 2` on this very test binary, running only the
//! ignored test `rank_program` (selected by `LEARNER_DP_RANK_PROGRAM`). Each rank trains its
//! share; rank 0 also trains the single-process reference, compares the per-step losses (the
//! data-parallel loss of a step is the mean of the ranks' local mean losses, which is the
//! mean over the global batch) and prints `max relative loss error: E`.
//!
//! Needs Open MPI; as root the launcher sets Open MPI's allow-run-as-root variables.
#![cfg(feature = "mpi")]

use std::cell::RefCell;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use collective::{Collective, MpiCollective, SingleProcess};
use layers::{get_cnn_model, init_cnn, ModuleExt};
use learner::callbacks::{mnist_view, BatchTransformX};
use learner::distributed::DataParallel;
use learner::{
    Callback, CbResult, Ctx, DataBunch, DataLoader, Flow, Learner, Runner, TensorDataset,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tensor::{DType, Device, Tensor};

/// One `mpirun` job at a time (they oversubscribe the cores).
static ONE_JOB: std::sync::Mutex<()> = std::sync::Mutex::new(());

const RANK_ENV: &str = "LEARNER_DP_RANK_PROGRAM";
const STEPS: usize = 8;
const GLOBAL_BS: usize = 512;
const SEED: u64 = 5;

/// A deterministic value in [0, 1) for sample `i`, pixel `k` (a hash: no shared RNG state).
fn pixel(i: usize, k: usize) -> f64 {
    let mut h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (k as u64 + 11);
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 32;
    (h % 10_000) as f64 / 10_000.0
}

/// `n` MNIST-shaped samples (`[n, 784]`, standardised roughly) with labels `i % 10`, whose
/// pixels lean towards their label so the loss falls.
fn dataset(n: usize, dtype: DType) -> TensorDataset {
    let x: Vec<f64> = (0..n * 784)
        .map(|k| {
            let (i, p) = (k / 784, k % 784);
            let lean = if p % 10 == i % 10 { 0.8 } else { 0.0 };
            (pixel(i, p) + lean - 0.55) * 2.5
        })
        .collect();
    let y: Vec<f64> = (0..n).map(|i| (i % 10) as f64).collect();
    let x = Tensor::from_vec(x, &[n, 784], Device::Cpu).unwrap();
    let y = Tensor::from_vec(y, &[n], Device::Cpu).unwrap();
    TensorDataset::new(x.to_dtype(dtype).unwrap(), y.to_dtype(dtype).unwrap()).unwrap()
}

/// The training loss of every step, as this rank computed it.
struct Losses(Rc<RefCell<Vec<f64>>>);

impl Callback for Losses {
    fn name(&self) -> &'static str {
        "losses"
    }
    fn after_loss(&mut self, ctx: &mut Ctx<'_>) -> CbResult {
        if ctx.state.in_train {
            let loss = ctx.state.loss.as_ref().unwrap().value().to_scalar()?;
            self.0.borrow_mut().push(loss);
        }
        Ok(Flow::Continue)
    }
}

/// `STEPS` steps of the lesson's CNN over `comm` at the global batch `GLOBAL_BS`; returns the
/// per-step losses averaged over the ranks.
fn train(comm: Rc<dyn Collective>, sync: bool, dtype: DType) -> Vec<f64> {
    let (w, r) = (comm.world_size(), comm.rank());
    let bs = GLOBAL_BS / w;
    let train = DataLoader::new(dataset(GLOBAL_BS * STEPS, dtype), bs, true, SEED)
        .unwrap()
        .with_max_batches(Some(STEPS))
        .unwrap()
        .distributed(r, w)
        .unwrap();
    let valid = DataLoader::new(dataset(4 * w, dtype), 2 * bs, false, SEED)
        .unwrap()
        .distributed(r, w)
        .unwrap();
    let data = DataBunch::new(train, valid, 10);
    let mut rng = StdRng::seed_from_u64(SEED);
    let norm = if sync {
        norms::SyncBatchNorm::factory(comm.clone())
    } else {
        norms::NormKind::Batch.factory()
    };
    let model = get_cnn_model(&[8, 16, 32, 64, 64], &norm, &mut rng).unwrap();
    init_cnn(&model, &mut rng).unwrap();
    model.to_dtype(dtype).unwrap();
    let model: Box<dyn layers::Module> = Box::new(model);
    let mut learn = Learner::new(model, data, 0.4).unwrap();
    let losses = Rc::new(RefCell::new(Vec::new()));
    let mut cbs: Vec<Box<dyn Callback>> = vec![
        Box::new(BatchTransformX::new(mnist_view())),
        Box::new(Losses(losses.clone())),
    ];
    if w > 1 {
        cbs.push(Box::new(DataParallel::new(comm.clone())));
    }
    Runner::with_callbacks(cbs).fit(1, &mut learn).unwrap();
    let mut losses = losses.borrow().clone();
    assert_eq!(losses.len(), STEPS);
    comm.all_reduce_sum_f64(&mut losses).unwrap();
    losses.iter().map(|l| l / w as f64).collect()
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(f64::MIN_POSITIVE))
        .fold(0.0, f64::max)
}

#[test]
#[ignore = "rank program: started by the mpirun tests of this file"]
fn rank_program() {
    let Ok(mode) = std::env::var(RANK_ENV) else {
        return;
    };
    let comm: Rc<dyn Collective> = Rc::new(MpiCollective::init().unwrap());
    let (dtype, tol) = match mode.as_str() {
        "f64" => (DType::F64, 1e-10),
        "f32" => (DType::F32, 1e-5),
        other => panic!("unknown mode {other}"),
    };
    let dp = train(comm.clone(), true, dtype);
    if comm.rank() == 0 {
        let single = train(Rc::new(SingleProcess::new()), false, dtype);
        let err = max_rel(&dp, &single);
        println!("single-process losses: {single:?}");
        println!("data-parallel losses:  {dp:?}");
        println!("max relative loss error: {err:e}");
        assert!(err <= tol, "{err:e} > {tol:e}");
        assert!(
            single[STEPS - 1] < single[0],
            "the loss did not fall: {single:?}"
        );
    }
    comm.barrier().unwrap();
}

/// Runs `rank_program` on `ranks` ranks in `mode`; returns rank 0's stdout.
fn mpirun(ranks: usize, mode: &str) -> String {
    let _one = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    let mpirun = collective::find_mpirun().unwrap_or_else(|e| panic!("{e}"));
    let me = std::env::current_exe().unwrap();
    let mut child = Command::new(mpirun)
        .args([
            "-np",
            &ranks.to_string(),
            "--oversubscribe",
            "--bind-to",
            "none",
        ])
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
    let start = Instant::now();
    let out = std::thread::spawn({
        let mut pipe = child.stdout.take().unwrap();
        move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut pipe, &mut s).unwrap();
            s
        }
    });
    let err = std::thread::spawn({
        let mut pipe = child.stderr.take().unwrap();
        move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut pipe, &mut s).unwrap();
            s
        }
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(900) {
            let _ = child.kill();
            panic!("mpirun -np {ranks} ({mode}) hung");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(status.success(), "{status}\nstdout:\n{out}\nstderr:\n{err}");
    let line = out
        .lines()
        .find_map(|l| l.find("max relative loss error").map(|i| &l[i..]))
        .unwrap_or_else(|| panic!("no result line in:\n{out}"));
    eprintln!(
        "{ranks} ranks, {mode}: {line} ({:.1} s)",
        start.elapsed().as_secs_f64()
    );
    out
}

#[test]
fn sync_batchnorm_on_two_ranks_trains_like_one_process_f64() {
    mpirun(2, "f64");
}

#[test]
fn sync_batchnorm_on_two_ranks_trains_like_one_process_f32() {
    mpirun(2, "f32");
}
