//! Checks against the real MNIST files in the workspace's `../shared/data/mnist`, when that
//! directory exists (each test says why when it skips).

use std::path::PathBuf;
use std::sync::OnceLock;

use mnist_data::sample::{build_sample, sample_specs};
use mnist_data::{
    encode_gz, ensure_downloaded, load_stored, read_dir, DataSource, FileSpecs, FileStatus, Loaded,
    MnistError, MnistFile, MnistSplits, StoredFile, Verified,
};

/// The real data (`$MNIST_DIR` or `../shared/data/mnist`); required under `MNIST_REQUIRED=1`.
fn shared_dir() -> Option<PathBuf> {
    mnist_data::real_data_dir_or_skip("full_data")
}

/// The stored files and their loaded form, read once for all tests in this file.
fn real() -> Option<&'static ([StoredFile; 4], Loaded)> {
    static REAL: OnceLock<Option<([StoredFile; 4], Loaded)>> = OnceLock::new();
    REAL.get_or_init(|| {
        let dir = shared_dir()?;
        let stored = read_dir(&dir).expect("read the real files");
        let loaded = load_stored(stored.clone(), &FileSpecs::official()).expect("load real MNIST");
        Some((stored, loaded))
    })
    .as_ref()
}

#[test]
fn counts_and_content_md5s() {
    let Some((_, loaded)) = real() else { return };
    let idx = &loaded.idx;
    assert_eq!(idx.train_images.count(), 60_000);
    assert_eq!(idx.train_labels.count(), 60_000);
    assert_eq!(idx.test_images.count(), 10_000);
    assert_eq!(idx.test_labels.count(), 10_000);
    let official = FileSpecs::official();
    for check in &loaded.checks {
        assert_ne!(check.verified, Verified::Unchecked);
        assert_eq!(
            Some(&check.content_md5),
            official.get(check.file).content_md5.as_ref(),
            "{}",
            check.file
        );
    }
}

#[test]
fn lesson_split_and_normalisation() {
    let Some((_, loaded)) = real() else { return };
    let mut splits = MnistSplits::from_idx(&loaded.idx).unwrap();
    assert_eq!(splits.train.len(), 50_000);
    assert_eq!(splits.valid.len(), 10_000);
    assert_eq!(splits.test.len(), 10_000);
    assert_eq!(splits.train.images.len(), 50_000 * 784);
    // valid is the tail of the training file.
    assert_eq!(
        &splits.valid.labels[..],
        &loaded.idx.train_labels.labels()[50_000..]
    );
    assert!(splits.train.images.iter().all(|p| (0.0..=1.0).contains(p)));

    let stats = splits.normalize().unwrap();
    assert!((stats.mean - 0.1307).abs() < 1e-3, "{stats:?}");
    assert!((stats.std - 0.3081).abs() < 1e-3, "{stats:?}");
    let after = splits.train_stats().unwrap();
    assert!(
        after.mean.abs() < 1e-4 && (after.std - 1.0).abs() < 1e-4,
        "{after:?}"
    );
    let valid = splits.valid.pixel_stats().unwrap();
    assert!(
        valid.mean.abs() < 0.05 && (valid.std - 1.0).abs() < 0.05,
        "{valid:?}"
    );
}

#[test]
fn modified_label_is_a_checksum_mismatch() {
    let Some((stored, _)) = real() else { return };
    let mut files = stored.clone();
    let labels = &mut files[MnistFile::TestLabels.index()];
    let mut content = mnist_data::decode_stored(&labels.path, labels.bytes.clone()).unwrap();
    content[8] = (content[8] + 1) % 10; // still a valid digit
    labels.bytes = mnist_data::gzip_deterministic(&content).unwrap();
    let err = load_stored(files, &FileSpecs::official()).unwrap_err();
    assert!(matches!(err, MnistError::ChecksumMismatch { .. }), "{err}");
    assert!(
        err.to_string().contains("t10k-labels-idx1-ubyte.gz"),
        "{err}"
    );
}

#[test]
fn committed_sample_is_reproducible() {
    let Some((_, loaded)) = real() else { return };
    let files = encode_gz(&build_sample(&loaded.idx).unwrap()).unwrap();
    let committed = sample_specs();
    for f in &files {
        assert_eq!(
            Some(&f.content_md5),
            committed.get(f.file).content_md5.as_ref(),
            "{} differs from the committed sample: run `cargo xtask make-sample`",
            f.file
        );
    }
    // And the embedded sample is what those files contain.
    let sample = DataSource::Sample.load().unwrap();
    for (check, f) in sample.checks.iter().zip(&files) {
        assert_eq!(check.content_md5, f.content_md5);
    }
}

#[test]
fn default_sources_copy_from_the_shared_dir() {
    let Some(shared) = shared_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let reports = ensure_downloaded(dir.path()).unwrap();
    for report in &reports {
        match &report.status {
            FileStatus::Fetched { from } => {
                let from_dir = std::path::Path::new(from).parent().unwrap();
                assert_eq!(
                    from_dir.canonicalize().unwrap(),
                    shared.canonicalize().unwrap(),
                    "{from}"
                );
            }
            FileStatus::Present => panic!("nothing was present in a new directory"),
        }
        assert_ne!(report.verified, Verified::Unchecked);
    }
    let again = ensure_downloaded(dir.path()).unwrap();
    assert!(again.iter().all(|r| r.status == FileStatus::Present));
}
