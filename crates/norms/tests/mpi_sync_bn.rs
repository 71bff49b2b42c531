//! SyncBatchNorm over 2 and 4 MPI ranks equals BatchNorm2d on the whole batch: outputs,
//! input gradients, parameter gradients (summed over the ranks) and running buffers after
//! several training steps, then the eval output, all within 1e-12 relative in `f64`.
//!
//! The launcher tests start `mpirun -np N` on this test binary, running only the ignored
//! test `rank_program` (selected by `NORMS_SYNC_BN_RANK_PROGRAM`). Every rank builds the same
//! whole batches and the reference BatchNorm2d results, runs SyncBatchNorm on its slice of
//! samples, and checks its part; rank 0 prints `max relative error: E`.
//!
//! Needs Open MPI; the launcher sets Open MPI's allow-run-as-root variables.
#![cfg(feature = "mpi")]

use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use autograd::Var;
use collective::{Collective, MpiCollective};
use layers::{Module, ModuleExt};
use norms::{BatchNorm2d, NormConfig, SyncBatchNorm};
use tensor::{Device, Tensor};

/// One `mpirun` job at a time (they oversubscribe the cores).
static ONE_JOB: std::sync::Mutex<()> = std::sync::Mutex::new(());

const RANK_ENV: &str = "NORMS_SYNC_BN_RANK_PROGRAM";
const TOL: f64 = 1e-12;

/// A deterministic value in [-1, 1) for stream `s`, index `i` (a hash).
fn value(s: u64, i: usize) -> f64 {
    let mut h = s.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i as u64 + 3);
    h ^= h >> 31;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 29;
    (h % 2_000_000) as f64 / 1_000_000.0 - 1.0
}

fn tensor(s: u64, shape: &[usize], scale: f64, shift: f64) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|i| value(s, i) * scale + shift).collect();
    Tensor::from_vec(v, shape, Device::Cpu).unwrap()
}

/// Rows `lo..hi` (samples) of an `[N, ...]` tensor.
fn rows(t: &Tensor, lo: usize, hi: usize) -> Tensor {
    let idx: Vec<usize> = (lo..hi).collect();
    t.index_select_rows(&idx).unwrap()
}

/// `max |a - b| / max |b|` (normwise relative error).
fn rel(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.to_vec_f64().unwrap(), b.to_vec_f64().unwrap());
    assert_eq!(a.len(), b.len());
    let scale = b
        .iter()
        .fold(0.0f64, |m, x| m.max(x.abs()))
        .max(f64::MIN_POSITIVE);
    a.iter()
        .zip(&b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

struct Worst(f64, String);

impl Worst {
    fn see(&mut self, what: &str, e: f64) {
        assert!(e <= TOL, "{what}: relative error {e:e} > {TOL:e}");
        if e > self.0 {
            *self = Worst(e, what.to_string());
        }
    }
}

/// Forward + backward of `loss = sum(y * R)` on `x`; returns `(y, dx, dweight, dbias)`.
fn step(layer: &dyn Module, x: &Tensor, r: &Tensor) -> (Tensor, Tensor, Tensor, Tensor) {
    let xv = Var::parameter(x.clone());
    let y = layer.forward(&xv).unwrap();
    y.mul(&Var::constant(r.clone()))
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let params = layer.local_parameters();
    let grads: Vec<Tensor> = params.iter().map(|(_, p)| p.grad().unwrap()).collect();
    for (_, p) in &params {
        p.zero_grad();
    }
    (
        y.value(),
        xv.grad().unwrap(),
        grads[0].clone(),
        grads[1].clone(),
    )
}

fn all_reduce(comm: &dyn Collective, t: &Tensor) -> Tensor {
    let mut v = t.to_vec_f64().unwrap();
    comm.all_reduce_sum_f64(&mut v).unwrap();
    Tensor::from_vec(v, t.shape(), Device::Cpu).unwrap()
}

#[test]
#[ignore = "rank program: started by the mpirun tests of this file"]
fn rank_program() {
    if std::env::var_os(RANK_ENV).is_none() {
        return;
    }
    let comm: Rc<dyn Collective> = Rc::new(MpiCollective::init().unwrap());
    let (w, rank) = (comm.world_size(), comm.rank());
    let (n, c, h, wd) = (2 * w, 3, 4, 5);
    let (lo, hi) = (rank * n / w, (rank + 1) * n / w);
    let config = NormConfig::new(1e-5, 0.1);
    let reference = BatchNorm2d::with_config(c, config).unwrap();
    let sync = SyncBatchNorm::with_config(c, config, comm.clone()).unwrap();
    for layer in [&reference as &dyn Module, &sync] {
        let p = layer.local_parameters();
        p[0].1.set_value(tensor(1, &[c], 0.5, 1.0));
        p[1].1.set_value(tensor(2, &[c], 0.3, 0.0));
        layer.to_dtype(tensor::DType::F64).unwrap();
    }
    let mut worst = Worst(0.0, String::new());
    for s in 0..4u64 {
        // Channel means and spreads differ, as activations' do.
        let x = tensor(10 + s, &[n, c, h, wd], 1.7, 0.4 * s as f64);
        let r = tensor(20 + s, &[n, c, h, wd], 1.0, 0.0);
        let (y, dx, dw, db) = step(&reference, &x, &r);
        let (ys, dxs, dws, dbs) = step(&sync, &rows(&x, lo, hi), &rows(&r, lo, hi));
        worst.see(&format!("step {s} output"), rel(&ys, &rows(&y, lo, hi)));
        worst.see(
            &format!("step {s} input grad"),
            rel(&dxs, &rows(&dx, lo, hi)),
        );
        worst.see(
            &format!("step {s} weight grad"),
            rel(&all_reduce(comm.as_ref(), &dws), &dw),
        );
        worst.see(
            &format!("step {s} bias grad"),
            rel(&all_reduce(comm.as_ref(), &dbs), &db),
        );
    }
    let buffers = |m: &dyn Module| -> Vec<Tensor> {
        m.local_buffers().iter().map(|(_, b)| b.value()).collect()
    };
    for (i, (a, b)) in buffers(&sync).iter().zip(buffers(&reference)).enumerate() {
        worst.see(&format!("buffer {i}"), rel(a, &b));
    }
    assert_eq!(buffers(&sync)[2].to_scalar().unwrap(), 4.0);
    reference.eval();
    sync.eval();
    let x = tensor(99, &[n, c, h, wd], 2.0, 0.1);
    let r = tensor(98, &[n, c, h, wd], 1.0, 0.0);
    let (y, dx, ..) = step(&reference, &x, &r);
    let (ys, dxs, ..) = step(&sync, &rows(&x, lo, hi), &rows(&r, lo, hi));
    worst.see("eval output", rel(&ys, &rows(&y, lo, hi)));
    worst.see("eval input grad", rel(&dxs, &rows(&dx, lo, hi)));
    if rank == 0 {
        println!(
            "max relative error: {:e} (rank 0's worst: {})",
            worst.0, worst.1
        );
    }
    comm.barrier().unwrap();
}

fn mpirun(ranks: usize) {
    let _one = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    let mpirun = collective::find_mpirun().unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    let mut child = Command::new(mpirun)
        .args([
            "-np",
            &ranks.to_string(),
            "--oversubscribe",
            "--bind-to",
            "none",
        ])
        .arg(std::env::current_exe().unwrap())
        .args(["rank_program", "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(RANK_ENV, "1")
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
        if start.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            panic!("mpirun -np {ranks} hung");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let line = stdout
        .lines()
        .find_map(|l| l.find("max relative error").map(|i| &l[i..]))
        .unwrap_or_else(|| panic!("no result line in:\n{stdout}"));
    eprintln!("{ranks} ranks: {line}");
}

#[test]
fn sync_batchnorm_on_two_ranks_equals_batchnorm2d_on_the_whole_batch() {
    mpirun(2);
}

#[test]
fn sync_batchnorm_on_four_ranks_equals_batchnorm2d_on_the_whole_batch() {
    mpirun(4);
}
