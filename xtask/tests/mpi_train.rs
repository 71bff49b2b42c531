//! `cargo xtask train --ranks 2` under Open MPI: a rank killed mid-epoch ends the whole job
//! promptly with a clear message, the last checkpoint stays intact, and `--resume` continues
//! from it to the end.
//!
//! Needs a build with the `mpi` feature and Open MPI (`.ci/mpi.sh` runs it).
#![cfg(feature = "mpi")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");
const EPOCHS: &str = "8";

fn train(out: &Path, resume: Option<&Path>) -> Command {
    let mut cmd = Command::new(XTASK);
    cmd.args(["train", "--ranks", "2", "--data", "sample", "--bs", "64"])
        .args(["--norm", "sync-batch", "--epochs", EPOCHS, "--seed", "4"])
        .arg("--out")
        .arg(out)
        .env_remove("MNIST_DIR")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = resume {
        cmd.arg("--resume").arg(dir);
    }
    cmd
}

/// The pids of this job's ranks: processes running the xtask binary with an Open MPI rank.
fn rank_pids(exe: &Path) -> Vec<(u32, usize)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(link) = std::fs::read_link(entry.path().join("exe")) else {
            continue;
        };
        if link != exe {
            continue;
        }
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let rank = env
            .split(|&b| b == 0)
            .filter_map(|kv| std::str::from_utf8(kv).ok())
            .find_map(|kv| kv.strip_prefix("OMPI_COMM_WORLD_RANK="))
            .and_then(|r| r.parse().ok());
        if let Some(rank) = rank {
            found.push((pid, rank));
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next().map(|st| st != "Z" && st != "X"))
        })
        .unwrap_or(false)
}

fn wait(mut child: Child, deadline: Duration) -> (Output, Duration) {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return (child.wait_with_output().unwrap(), start.elapsed());
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            panic!("xtask still running after {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn epochs_done(ckpt: &Path) -> Option<usize> {
    learner::checkpoint::read_train_state(ckpt)
        .ok()
        .map(|s| s.epochs_done)
}

#[test]
fn a_killed_rank_ends_the_job_and_resume_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let out: PathBuf = tmp.path().join("run");
    let ckpt = out.join("checkpoint");
    let exe = std::fs::canonicalize(XTASK).unwrap();
    let child = train(&out, None).spawn().unwrap();
    // Wait for the first checkpoint, then kill rank 1 during the next epoch.
    let start = Instant::now();
    while epochs_done(&ckpt).is_none() {
        assert!(start.elapsed() < Duration::from_secs(600), "no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let ranks = rank_pids(&exe);
    assert_eq!(ranks.len(), 2, "ranks found: {ranks:?}");
    let victim = ranks.iter().find(|(_, r)| *r == 1).unwrap().0;
    let killed_at = Instant::now();
    let saved = epochs_done(&ckpt).unwrap();
    assert!(saved < 8, "the run ended before the kill");
    Command::new("kill")
        .args(["-9", &victim.to_string()])
        .status()
        .unwrap();
    let (o, _) = wait(child, Duration::from_secs(60));
    let took = killed_at.elapsed();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "the job succeeded after a kill:\n{stderr}"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(
        stderr.contains("mpirun noticed that process rank 1"),
        "no clear message:\n{stderr}"
    );
    assert!(stderr.contains("error: the MPI job failed"), "{stderr}");
    for (pid, rank) in &ranks {
        assert!(!alive(*pid), "rank {rank} (pid {pid}) still running");
    }
    eprintln!(
        "rank 1 killed during epoch {}: job ended after {:.1} s",
        saved + 1,
        took.as_secs_f64()
    );

    // The last checkpoint is intact (state.json checks both tensor files' MD5s on load).
    let state = learner::checkpoint::read_train_state(&ckpt).unwrap();
    assert!(state.epochs_done >= saved);
    assert_eq!(state.config["ranks"], "2");

    let (o, _) = wait(
        train(&out, Some(&ckpt)).spawn().unwrap(),
        Duration::from_secs(600),
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "resume failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(epochs_done(&ckpt), Some(8));
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let epochs: Vec<u64> = metrics
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(epochs, (0..8).collect::<Vec<_>>(), "{metrics}");
    // Only rank 0 printed the epoch lines: one pair per resumed epoch.
    let lines = stdout.lines().filter(|l| l.starts_with("train: [")).count();
    assert_eq!(lines, 8 - state.epochs_done, "{stdout}");
}
