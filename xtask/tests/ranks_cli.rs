//! `train --ranks` and `--norm sync-batch`: the refusals of bad input, on any build, and
//! `--norm sync-batch` in one process (allowed: it is BatchNorm2d).

use std::process::{Command, Output};

fn xtask(args: &[&str], path: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args)
        .env_remove("MNIST_DIR")
        .env_remove("OMPI_COMM_WORLD_SIZE")
        .env_remove("PMIX_RANK")
        .env_remove("PMI_RANK");
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    cmd.output().expect("xtask runs")
}

/// A failure is exactly one line on stderr, no panic, a non-zero status.
fn one_line_failure(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "expected failure, stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
}

const SMOKE: [&str; 8] = [
    "train",
    "--data",
    "sample",
    "--epochs",
    "1",
    "--max-steps",
    "2",
    "--no-checkpoint",
];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    SMOKE.iter().copied().chain(extra.iter().copied()).collect()
}

#[test]
fn zero_ranks_are_refused() {
    let o = xtask(&args(&["--ranks", "0"]), None);
    one_line_failure(&o, "invalid --ranks: must be at least 1");
}

#[test]
fn a_global_batch_the_ranks_do_not_divide_is_refused() {
    let o = xtask(&args(&["--ranks", "3", "--bs", "500"]), None);
    one_line_failure(&o, "the global batch 500 is not divisible by 3 ranks");
}

#[cfg(not(feature = "mpi"))]
#[test]
fn ranks_on_a_build_without_mpi_say_how_to_build() {
    let o = xtask(&args(&["--ranks", "2", "--bs", "64"]), None);
    one_line_failure(&o, "built without it: build with the `mpi` feature");
    one_line_failure(&o, "cargo xtask-mpi train --ranks 2");
}

#[cfg(feature = "mpi")]
#[test]
fn ranks_without_mpirun_name_the_packages() {
    let empty = tempfile::tempdir().unwrap();
    let o = xtask(
        &args(&["--ranks", "2", "--bs", "64"]),
        Some(empty.path().to_str().unwrap()),
    );
    one_line_failure(&o, "apt-get install openmpi-bin libopenmpi-dev");
}

#[test]
fn sync_batch_on_one_rank_trains_as_batchnorm2d() {
    let tmp = tempfile::tempdir().unwrap();
    let metrics = |norm: &str| {
        let out = tmp.path().join(norm);
        let o = xtask(
            &args(&["--bs", "32", "--norm", norm, "--out", out.to_str().unwrap()]),
            None,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("seconds");
        (v, std::fs::read_to_string(out.join("config.json")).unwrap())
    };
    let (sync, sync_cfg) = metrics("sync-batch");
    let (batch, _) = metrics("batch");
    assert_eq!(
        sync, batch,
        "sync-batch on one rank must be BatchNorm2d exactly"
    );
    assert!(sync_cfg.contains("\"sync-batch\""), "{sync_cfg}");
}
