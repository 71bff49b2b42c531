//! Local-directory mirrors: copy, verify, fall through to the next source.

mod common;

use common::{dir_names, test_config};
use mnist_data::synthetic::{synthetic_files, Corruption};
use mnist_data::{
    ensure_downloaded_with, load_dir, specs_for, write_gz_files, FileStatus, Mirror, MnistError,
    MnistFile, Verified,
};

#[test]
fn local_mirror_is_copied_and_verified() {
    let files = synthetic_files(12, 6).unwrap();
    let mirror = tempfile::tempdir().unwrap();
    write_gz_files(mirror.path(), &files).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("nested").join("mnist");
    let config = test_config(
        vec![Mirror::LocalDir(mirror.path().to_path_buf())],
        specs_for(&files),
    );
    let reports = ensure_downloaded_with(&dest, &config).unwrap();
    for report in &reports {
        assert_eq!(report.verified, Verified::ContentMd5);
        assert!(
            matches!(&report.status, FileStatus::Fetched { from } if from.starts_with(&mirror.path().display().to_string()))
        );
    }
    assert_eq!(dir_names(&dest).len(), 4);
    load_dir(&dest, &specs_for(&files)).unwrap();
}

#[test]
fn bad_or_incomplete_local_mirror_falls_through() {
    let files = synthetic_files(12, 6).unwrap();
    let mut corrupt = files.clone();
    Corruption::Truncated.apply(&mut corrupt).unwrap();
    let bad = tempfile::tempdir().unwrap();
    write_gz_files(bad.path(), &corrupt[..1]).unwrap(); // only a corrupt train-images
    let good = tempfile::tempdir().unwrap();
    write_gz_files(good.path(), &files).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(
        vec![
            Mirror::LocalDir(bad.path().to_path_buf()),
            Mirror::LocalDir(good.path().to_path_buf()),
        ],
        specs_for(&files),
    );
    let reports = ensure_downloaded_with(dir.path(), &config).unwrap();
    let first = &reports[MnistFile::TrainImages.index()];
    assert!(
        matches!(
            *first.failures[0].error,
            MnistError::ChecksumMismatch { .. }
        ),
        "{}",
        first.failures[0]
    );
    let second = &reports[MnistFile::TrainLabels.index()];
    assert!(
        matches!(*second.failures[0].error, MnistError::Io { .. }),
        "{}",
        second.failures[0]
    );
    assert_eq!(dir_names(dir.path()).len(), 4);
    load_dir(dir.path(), &specs_for(&files)).unwrap();
}

#[test]
fn data_dir_listed_as_its_own_mirror_is_not_copied_onto_itself() {
    let files = synthetic_files(12, 6).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(
        vec![Mirror::LocalDir(dir.path().to_path_buf())],
        specs_for(&files),
    );
    let err = ensure_downloaded_with(dir.path(), &config).unwrap_err();
    assert!(matches!(err, MnistError::DownloadFailed { .. }), "{err}");
    assert!(dir_names(dir.path()).is_empty());
}
