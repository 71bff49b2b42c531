//! The data commands through the built binary: every corruption class exits non-zero with
//! one line naming the file, and never panics.

use std::path::Path;
use std::process::{Command, Output};

use mnist_data::synthetic::{synthetic_files, Corruption};
use mnist_data::write_gz_files;

fn xtask(args: &[&str], mnist_dir: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args).env_remove("MNIST_DIR");
    if let Some(dir) = mnist_dir {
        cmd.env("MNIST_DIR", dir);
    }
    cmd.output().expect("run xtask")
}

fn data_info(dir: &Path) -> Output {
    xtask(
        &[
            "data-info",
            "--data",
            dir.to_str().expect("utf-8 temp path"),
        ],
        None,
    )
}

/// Asserts a clean failure: exit 1, one stderr line naming `name` and containing `phrase`.
fn assert_clean_failure(out: &Output, name: &str, phrase: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(name), "does not name {name}: {stderr}");
    assert!(stderr.contains(phrase), "does not say {phrase:?}: {stderr}");
}

#[test]
fn each_corruption_fails_cleanly_naming_the_file() {
    for corruption in Corruption::ALL {
        let mut files = synthetic_files(12, 6).unwrap();
        corruption.apply(&mut files).unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_gz_files(dir.path(), &files).unwrap();
        let phrase = match corruption {
            Corruption::Truncated => "truncated",
            Corruption::BadMagic => "bad magic number",
            Corruption::WrongDimensions => "wrong image dimensions",
            Corruption::CountMismatch => "count mismatch",
            Corruption::LabelOutOfRange => "out of range",
            Corruption::BadGzip => "bad gzip stream",
            Corruption::ChecksumMismatch => "checksum mismatch",
        };
        assert_clean_failure(
            &data_info(dir.path()),
            corruption.target().gz_name(),
            phrase,
        );
    }
}

#[test]
fn missing_files_say_how_to_provide_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = data_info(dir.path());
    assert_clean_failure(&out, "train-images-idx3-ubyte.gz", "MNIST_DIR");
}

#[test]
fn data_info_on_the_sample() {
    let out = xtask(&["data-info", "--data", "sample"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in ["train ", "valid ", "test ", "ok (content MD5)"] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    let counts: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("train ") || l.starts_with("valid ") || l.starts_with("test "))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(counts, ["1000", "200", "1000"], "{stdout}");
}

#[test]
fn mnist_dir_selects_the_source() {
    let out = xtask(&["data-info"], Some("sample"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("bundled sample"));

    let dir = tempfile::tempdir().unwrap();
    let out = xtask(&["data-info"], dir.path().to_str());
    assert_clean_failure(
        &out,
        &dir.path().display().to_string(),
        "missing MNIST files",
    );
}

#[test]
fn download_of_the_sample_needs_nothing() {
    let out = xtask(&["download", "--data", "sample"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to download"));
}

#[test]
fn download_into_a_directory_when_real_data_is_available() {
    // `download` fills the directory from the local mirror (`../shared/data/mnist`) first.
    if mnist_data::real_data_dir_or_skip("download_into_a_directory").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("mnist");
    let target_arg = target.to_str().unwrap();
    let out = xtask(&["download", "--data", target_arg], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("fetched from").count(), 4, "{stdout}");
    let out = xtask(&["data-info", "--data", target_arg], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("50000") && stdout.contains("10000"),
        "{stdout}"
    );
}
