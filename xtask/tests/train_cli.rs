//! `cargo xtask train` end to end on the bundled sample, and its refusals of bad input.

use std::path::Path;
use std::process::{Command, Output};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env_remove("MNIST_DIR")
        .output()
        .expect("xtask runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failure is exactly one line on stderr, no panic, a non-zero status.
fn assert_one_line_failure(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure, stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
}

fn metrics_without_time(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            v
        })
        .collect()
}

#[test]
fn train_on_the_sample_writes_metrics_and_is_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let out = tmp.path().join(name);
        let o = xtask(&[
            "train",
            "--data",
            "sample",
            "--epochs",
            "1",
            "--max-steps",
            "5",
            "--bs",
            "64",
            "--seed",
            "3",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(stdout.contains("train: ["), "{stdout}");
        assert!(stdout.contains("valid: ["), "{stdout}");
        out
    };
    let a = run("a");
    let lines = metrics_without_time(&a);
    assert_eq!(lines.len(), 1);
    let m = lines[0].as_object().unwrap();
    assert_eq!(m["epoch"], 0);
    for key in ["train_loss", "train_acc", "valid_loss", "valid_acc", "lr"] {
        let v = m[key].as_f64().unwrap_or(f64::NAN);
        assert!(v.is_finite(), "{key} = {v}");
    }
    let acc = m["valid_acc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    let text = std::fs::read_to_string(a.join("metrics.jsonl")).unwrap();
    assert!(text.contains("\"seconds\""));
    assert!(a.join("loss_lr.png").is_file());
    assert!(a.join("checkpoint").join("state.json").is_file());
    // The same seed on the CPU gives bit-identical metrics.
    let b = run("b");
    assert_eq!(lines, metrics_without_time(&b));
}

#[test]
fn stats_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r");
    let base = [
        "train",
        "--data",
        "sample",
        "--max-steps",
        "2",
        "--bs",
        "32",
        "--norm",
        "batch-lesson",
        "--lr",
        "0.2",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = xtask(&[&base[..], &["--epochs", "1", "--stats"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "activations_first10.png",
        "activations_all.png",
        "activation_histograms.png",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // Resuming with other settings is refused; with the same ones it continues.
    let ckpt = out.join("checkpoint");
    let o = xtask(
        &[
            &base[..],
            &["--epochs", "2", "--resume", ckpt.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_one_line_failure(&o, "other settings");
    let o = xtask(
        &[
            &base[..],
            &["--epochs", "1", "--resume", ckpt.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn bad_input_is_one_line_and_non_zero() {
    assert_one_line_failure(&xtask(&["train", "--bogus"]), "--bogus");
    assert_one_line_failure(&xtask(&["train", "--data", "sample", "--lr", "-1"]), "--lr");
    assert_one_line_failure(&xtask(&["train", "--data", "sample", "--bs", "0"]), "--bs");
    assert_one_line_failure(
        &xtask(&["train", "--data", "sample", "--sched", "lin(1,"]),
        "schedule",
    );
    assert_one_line_failure(&xtask(&["train", "--norm", "fancy"]), "fancy");
    assert_one_line_failure(
        &xtask(&["train", "--data", "/no/such/mnist/dir", "--epochs", "1"]),
        "does not exist",
    );
    assert_one_line_failure(
        &xtask(&["lesson", "--data", "sample", "--only", "nope"]),
        "nope",
    );
}

/// Without a GPU, `--device cuda` is one clear line and a non-zero exit (required to be so
/// unless `CUDA_REQUIRED=1`); with one (`CUDA_REQUIRED=1` on the GPU machine), the run must
/// succeed and write finite metrics, a checkpoint and the plots.
#[test]
fn cuda_trains_or_fails_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cuda");
    let o = xtask(&[
        "train",
        "--data",
        "sample",
        "--device",
        "cuda",
        "--epochs",
        "1",
        "--max-steps",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    let required = std::env::var("CUDA_REQUIRED").as_deref() == Ok("1");
    if !o.status.success() {
        assert!(!required, "CUDA_REQUIRED=1 but CUDA training failed: {err}");
        eprintln!("no usable GPU: checked the one-line error only");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err:?}");
        assert!(err.to_lowercase().contains("cuda"), "{err}");
        return;
    }
    let lines = metrics_without_time(&out);
    assert_eq!(lines.len(), 1, "one epoch of metrics");
    let m = lines[0].as_object().unwrap();
    for key in ["train_loss", "valid_loss", "valid_acc"] {
        let v = m[key].as_f64().unwrap_or(f64::NAN);
        assert!(v.is_finite(), "{key} = {v}");
    }
    let acc = m["valid_acc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc), "valid_acc {acc}");
    assert!(out.join("loss_lr.png").is_file());
    assert!(out.join("checkpoint").join("state.json").is_file());
}

#[test]
fn lesson_subset_writes_the_results_page() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results.md");
    let o = xtask(&[
        "lesson",
        "--data",
        "sample",
        "--only",
        "no-norm,instance",
        "--max-steps",
        "2",
        "--out",
        tmp.path().join("runs").to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::fs::read_to_string(&results).unwrap();
    assert!(
        page.contains("| no norm (conv with bias + ReLU) | 512 | 0.4 | 3 | 2 (capped) |"),
        "{page}"
    );
    assert!(page.contains("| InstanceNorm | 512 | 0.1 |"), "{page}");
    assert!(
        page.contains("4.2 (InstanceNorm) produced NaN: its input had a 1x1 spatial map"),
        "{page}"
    );
    assert!(!page.contains("LayerNorm"), "only the selected rows");
}
