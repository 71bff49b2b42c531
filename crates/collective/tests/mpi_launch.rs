//! Launches the `collective-mpi-check` rank program under `mpirun` with 2 and 4 ranks, and
//! checks that a rank dying mid-sequence makes `mpirun` end the whole job promptly.
//!
//! Needs Open MPI (`apt-get install openmpi-bin libopenmpi-dev`). As root, Open MPI refuses to
//! start without `OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1`, which these tests
//! set for the `mpirun` they start; `--oversubscribe` lets 4 ranks share fewer cores.
#![cfg(feature = "mpi")]

use collective::find_mpirun;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const RANK_PROGRAM: &str = env!("CARGO_BIN_EXE_collective-mpi-check");

/// One `mpirun` at a time: the jobs oversubscribe the cores and the fault test has a deadline.
static ONE_JOB: Mutex<()> = Mutex::new(());

struct Job {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs `mpirun -np ranks RANK_PROGRAM args…`, killing it after `deadline`.
fn mpirun(ranks: usize, args: &[&str], deadline: Duration, pid_dir: Option<&Path>) -> Job {
    let _one = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    let mpirun = find_mpirun().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::new(mpirun);
    cmd.args([
        "-np",
        &ranks.to_string(),
        "--oversubscribe",
        "--bind-to",
        "none",
    ])
    .arg(RANK_PROGRAM)
    .args(args)
    .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
    .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if let Some(dir) = pid_dir {
        cmd.env("COLLECTIVE_PID_DIR", dir);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("start mpirun");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for mpirun") {
            break status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "mpirun -np {ranks} {args:?} still running after {deadline:?} (hang); \
                 stderr so far is lost"
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    Job {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        elapsed,
    }
}

fn check_job(ranks: usize) {
    let job = mpirun(ranks, &["check"], Duration::from_secs(120), None);
    assert!(
        job.status.success(),
        "{ranks} ranks: {:?}\nstdout:\n{}\nstderr:\n{}",
        job.status,
        job.stdout,
        job.stderr
    );
    let summary = format!("collective-mpi-check: {ranks} ranks: ");
    let line = job
        .stdout
        .lines()
        .find(|l| l.starts_with(&summary))
        .unwrap_or_else(|| panic!("no summary line in:\n{}", job.stdout));
    assert!(line.ends_with(" passed, 0 failed"), "{line}");
    eprintln!("{line} ({:.1} s)", job.elapsed.as_secs_f64());
}

#[test]
fn collectives_are_exact_on_two_ranks() {
    check_job(2);
}

#[test]
fn collectives_are_exact_on_four_ranks() {
    check_job(4);
}

/// `true` once process `pid` has exited (gone, or a zombie nobody reaps, as under a
/// container's init).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("collective-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Rank `victim` of `ranks` dies by `how` before the 6th of 200 all-reduces: `mpirun` must
/// fail within 30 s, name the rank and signal, and leave no rank running.
fn fault_job(ranks: usize, how: &str, victim: usize, signal: &str) {
    let dir = scratch_dir(&format!("fault-{how}-{ranks}"));
    let victim_arg = victim.to_string();
    let job = mpirun(
        ranks,
        &["fault", how, &victim_arg, "5", "200"],
        Duration::from_secs(30),
        Some(&dir),
    );
    let all = format!("{}\n{}", job.stdout, job.stderr);
    assert!(!job.status.success(), "mpirun succeeded:\n{all}");
    assert!(!all.contains("completed 200 all-reduces"), "{all}");
    let notice = format!("mpirun noticed that process rank {victim} with PID");
    assert!(all.contains(&notice), "no `{notice}` in:\n{all}");
    assert!(all.contains(signal), "no `{signal}` in:\n{all}");

    let pids: Vec<u32> = (0..ranks)
        .map(|r| {
            let f = dir.join(format!("rank-{r}.pid"));
            std::fs::read_to_string(&f)
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    let grace = Instant::now();
    while !pids.iter().all(|&p| exited(p)) && grace.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let alive: Vec<u32> = pids.iter().copied().filter(|&p| !exited(p)).collect();
    assert!(
        alive.is_empty(),
        "ranks still running after mpirun exited: {alive:?}"
    );
    assert!(job.elapsed < Duration::from_secs(30), "{:?}", job.elapsed);
    eprintln!(
        "{ranks} ranks, rank {victim} {how}: mpirun exited ({}) after {:.1} s",
        job.status,
        job.elapsed.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_rank_that_aborts_ends_the_job() {
    fault_job(4, "abort", 1, "exited on signal 6 (Aborted)");
}

#[test]
fn a_rank_that_is_killed_ends_the_job() {
    fault_job(2, "kill", 0, "exited on signal 9 (Killed)");
}
