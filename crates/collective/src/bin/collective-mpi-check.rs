//! Rank program for the MPI backend: `mpirun -np N collective-mpi-check [MODE]`.
//!
//! * `check` (the default): every collective of [`collective::MpiCollective`] is checked
//!   exactly, each rank contributing rank-dependent data whose result is known in closed form
//!   (or, for the order-sensitive sums, computed independently on every rank in rank order and
//!   compared bit for bit). Rank 0 prints `collective-mpi-check: N ranks: P passed, F failed`;
//!   every rank exits with status 1 if any rank saw a failure.
//! * `fault abort|kill RANK AT COUNT`: runs `COUNT` all-reduces; rank `RANK` kills itself
//!   (`std::process::abort()` or `SIGKILL`) just before all-reduce number `AT`. Used to check
//!   that `mpirun` tears the whole job down.
//!
//! If `COLLECTIVE_PID_DIR` is set, every rank first writes its process id to
//! `$COLLECTIVE_PID_DIR/rank-R.pid`. The barrier check uses files in a directory that rank 0
//! creates, so it assumes all ranks share one file system (one host).

use collective::{Collective, CollectiveError, MpiCollective, ReductionOrder};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Collects check outcomes on one rank.
struct Checks {
    rank: usize,
    passed: u64,
    failed: u64,
}

impl Checks {
    fn check(&mut self, name: &str, ok: bool, detail: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            eprintln!("rank {}: FAILED {name}: {}", self.rank, detail());
        }
    }
}

/// A deterministic value in roughly `±[1e-3, 1e3]` for rank `r`, element `i`: mixed magnitudes
/// and signs make the rounded sum depend on the order of addition.
fn wide_value(r: usize, i: usize) -> f64 {
    let mut h = (r as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i as u64 + 7);
    h ^= h >> 31;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 29;
    let mantissa = (h % 1_000_000) as f64 / 1_000_000.0 + 0.5;
    let exponent = ((h >> 20) % 7) as i32 - 3;
    let sign = if (h >> 40) & 1 == 0 { 1.0 } else { -1.0 };
    sign * mantissa * 10f64.powi(exponent)
}

fn check_all_reduce(comm: &mut MpiCollective, c: &mut Checks) {
    let (r, n) = (comm.rank(), comm.world_size());
    let tri = (n * (n + 1) / 2) as f64;

    // Integer-valued data: exact in any order. x_r[i] = (r + 1)(i + 1), sum = (i + 1) n(n+1)/2.
    for order in [ReductionOrder::RankOrder, ReductionOrder::MpiAllreduce] {
        comm.set_reduction_order(order);
        for len in [0usize, 1, 1000, 1 << 18] {
            let mut a: Vec<f32> = (0..len).map(|i| ((r + 1) * (i + 1)) as f32).collect();
            let res = comm.all_reduce_sum_f32(&mut a);
            let bad = (0..len).find(|&i| a[i] != ((i + 1) as f64 * tri) as f32);
            c.check(
                &format!("all_reduce_sum_f32 {order:?} len {len}"),
                res.is_ok() && bad.is_none(),
                || format!("{res:?}, first wrong element {bad:?}"),
            );
            let mut b: Vec<f64> = (0..len).map(|i| ((r + 1) * (i + 1)) as f64).collect();
            let res = comm.all_reduce_sum_f64(&mut b);
            let bad = (0..len).find(|&i| b[i] != (i + 1) as f64 * tri);
            c.check(
                &format!("all_reduce_sum_f64 {order:?} len {len}"),
                res.is_ok() && bad.is_none(),
                || format!("{res:?}, first wrong element {bad:?}"),
            );
        }
    }
    comm.set_reduction_order(ReductionOrder::RankOrder);

    // Order-sensitive data: the result must equal, bit for bit, the left-to-right sum over
    // ranks that every rank can compute on its own.
    let len = 4096;
    let mut a: Vec<f32> = (0..len).map(|i| wide_value(r, i) as f32).collect();
    let mut b: Vec<f64> = (0..len).map(|i| wide_value(r, i)).collect();
    let res = comm
        .all_reduce_sum_f32(&mut a)
        .and(comm.all_reduce_sum_f64(&mut b));
    let want_a: Vec<f32> = (0..len)
        .map(|i| (0..n).fold(0.0f32, |s, q| s + wide_value(q, i) as f32))
        .collect();
    let want_b: Vec<f64> = (0..len)
        .map(|i| (0..n).fold(0.0f64, |s, q| s + wide_value(q, i)))
        .collect();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let first_wrong = (0..len).find(|&i| a[i].to_bits() != want_a[i].to_bits());
    c.check(
        "rank-order f32 sum is bitwise the left-to-right sum",
        res.is_ok() && bits(&a) == bits(&want_a),
        || match first_wrong {
            Some(i) => format!("{res:?}; element {i}: got {}, want {}", a[i], want_a[i]),
            None => format!("{res:?}"),
        },
    );
    let bits64 = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    c.check(
        "rank-order f64 sum is bitwise the left-to-right sum",
        bits64(&b) == bits64(&want_b),
        || match (0..len).find(|&i| b[i].to_bits() != want_b[i].to_bits()) {
            Some(i) => format!("element {i}: got {:e}, want {:e}", b[i], want_b[i]),
            None => String::new(),
        },
    );
    if r == 0 {
        // How many elements a right-to-left order would have changed: shows the check above
        // can tell orders apart (zero for two ranks, where a + b == b + a exactly).
        let differ = (0..len)
            .filter(|&i| {
                let rev = (0..n)
                    .rev()
                    .fold(0.0f32, |s, q| s + wide_value(q, i) as f32);
                rev.to_bits() != want_a[i].to_bits()
            })
            .count();
        println!("collective-mpi-check: {differ}/{len} f32 sums differ in reverse rank order");
    }

    // Lengths that differ by rank are reported on every rank, and the communicator stays usable.
    if n > 1 {
        let mut v = vec![1.0f32; r + 1];
        let res = comm.all_reduce_sum_f32(&mut v);
        let want = CollectiveError::LengthMismatch {
            lengths: (1..=n as u64).collect(),
        };
        c.check(
            "length mismatch in all-reduce",
            res.as_ref() == Err(&want) && v == vec![1.0; r + 1],
            || format!("{res:?}"),
        );
        let mut u = vec![0u8; 2 * r + 1];
        let res = comm.broadcast_u8(&mut u, 0);
        c.check(
            "length mismatch in broadcast",
            matches!(res, Err(CollectiveError::LengthMismatch { .. })),
            || format!("{res:?}"),
        );
    }
}

fn check_broadcast(comm: &MpiCollective, c: &mut Checks) {
    let (r, n) = (comm.rank(), comm.world_size());
    for root in 0..n {
        let pattern = |i: usize| (root * 1000 + i) as f64 * 0.5 - 7.25;
        let fill = |i: usize| {
            if r == root {
                pattern(i)
            } else {
                -1.0 - i as f64
            }
        };
        let mut a: Vec<f32> = (0..777).map(|i| fill(i) as f32).collect();
        let mut b: Vec<f64> = (0..777).map(fill).collect();
        let mut u: Vec<u8> = (0..300)
            .map(|i| {
                if r == root {
                    (root * 31 + i) as u8
                } else {
                    0xAA
                }
            })
            .collect();
        let res = comm
            .broadcast_f32(&mut a, root)
            .and(comm.broadcast_f64(&mut b, root))
            .and(comm.broadcast_u8(&mut u, root));
        let ok = res.is_ok()
            && (0..777).all(|i| a[i] == pattern(i) as f32 && b[i] == pattern(i))
            && (0..300).all(|i| u[i] == (root * 31 + i) as u8);
        c.check(&format!("broadcast from root {root}"), ok, || {
            format!("{res:?}")
        });
    }
    let res = comm.broadcast_f32(&mut [0.0], n);
    c.check(
        "broadcast from a root outside the world",
        res == Err(CollectiveError::InvalidRoot {
            root: n,
            world_size: n,
        }),
        || format!("{res:?}"),
    );
}

/// Every rank creates a marker file, some after a delay, then enters the barrier; after it,
/// every marker must exist.
fn check_barrier(comm: &MpiCollective, c: &mut Checks) -> collective::Result<()> {
    let (r, n) = (comm.rank(), comm.world_size());
    let mut name = [0u8; 256];
    if r == 0 {
        let dir = std::env::temp_dir().join(format!("collective-barrier-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create barrier directory");
        let s = dir.to_string_lossy().into_owned();
        name[..s.len()].copy_from_slice(s.as_bytes());
    }
    comm.broadcast_u8(&mut name, 0)?;
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    let dir = PathBuf::from(String::from_utf8_lossy(&name[..end]).into_owned());
    comm.barrier()?;
    std::thread::sleep(Duration::from_millis(40 * r as u64));
    std::fs::write(dir.join(format!("entered-{r}")), b"").expect("write marker");
    comm.barrier()?;
    let missing: Vec<usize> = (0..n)
        .filter(|q| !dir.join(format!("entered-{q}")).exists())
        .collect();
    c.check("barrier waits for every rank", missing.is_empty(), || {
        format!("markers missing after the barrier: {missing:?}")
    });
    comm.barrier()?;
    if r == 0 {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

fn run_checks(mut comm: MpiCollective) -> collective::Result<ExitCode> {
    let (r, n) = (comm.rank(), comm.world_size());
    let mut c = Checks {
        rank: r,
        passed: 0,
        failed: 0,
    };
    let env_rank = std::env::var("OMPI_COMM_WORLD_RANK").ok();
    let env_size = std::env::var("OMPI_COMM_WORLD_SIZE").ok();
    c.check(
        "rank and world size agree with the launcher",
        env_rank.as_deref().is_none_or(|v| v == r.to_string())
            && env_size.as_deref().is_none_or(|v| v == n.to_string())
            && comm.is_root() == (r == 0),
        || format!("rank {r} of {n}, launcher says {env_rank:?} of {env_size:?}"),
    );
    check_all_reduce(&mut comm, &mut c);
    check_broadcast(&comm, &mut c);
    check_barrier(&comm, &mut c)?;

    let mut totals = [c.passed as f64, c.failed as f64];
    comm.all_reduce_sum_f64(&mut totals)?;
    if r == 0 {
        println!(
            "collective-mpi-check: {n} ranks: {} passed, {} failed",
            totals[0], totals[1]
        );
    }
    Ok(if totals[1] == 0.0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run_fault(comm: MpiCollective, args: &[String]) -> collective::Result<ExitCode> {
    let parse = |i: usize| args.get(i).and_then(|s| s.parse::<usize>().ok());
    let (how, victim, at, count) = match (args.first(), parse(1), parse(2), parse(3)) {
        (Some(how), Some(v), Some(a), Some(c)) if how == "abort" || how == "kill" => {
            (how.as_str(), v, a, c)
        }
        _ => {
            eprintln!("usage: collective-mpi-check fault abort|kill RANK AT COUNT");
            return Ok(ExitCode::from(2));
        }
    };
    let r = comm.rank();
    let mut buf = vec![0.0f32; 1024];
    for step in 0..count {
        if r == victim && step == at {
            eprintln!("rank {r}: dying by {how} before all-reduce {step}");
            if how == "kill" {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &std::process::id().to_string()])
                    .status();
            }
            std::process::abort();
        }
        buf.iter_mut().for_each(|x| *x = r as f32);
        comm.all_reduce_sum_f32(&mut buf)?;
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("rank {r}: completed {count} all-reduces");
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let comm = match MpiCollective::init() {
        Ok(comm) => comm,
        Err(e) => {
            eprintln!("collective-mpi-check: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = std::env::var_os("COLLECTIVE_PID_DIR") {
        let path = PathBuf::from(dir).join(format!("rank-{}.pid", comm.rank()));
        if let Err(e) = std::fs::write(&path, std::process::id().to_string()) {
            eprintln!("cannot write {}: {e}", path.display());
        }
    }
    let result = match args.first().map(String::as_str) {
        None | Some("check") => run_checks(comm),
        Some("fault") => run_fault(comm, &args[1..]),
        Some(other) => {
            eprintln!("unknown mode {other:?}; expected `check` or `fault`");
            Ok(ExitCode::from(2))
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("collective-mpi-check: {e}");
        ExitCode::FAILURE
    })
}
