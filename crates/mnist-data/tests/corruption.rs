//! Every corruption class gives its typed error, naming the damaged file, through the
//! library's loader, for gzip and for raw files.

use std::path::Path;

use mnist_data::synthetic::{synthetic_files, Corruption};
use mnist_data::{
    load_dir, specs_for, verify_stored, write_gz_files, DataSource, EncodedFile, FileSpecs,
    MnistError, MnistFile, MnistSplits,
};

const N_TRAIN: usize = 12;
const N_TEST: usize = 6;

fn good() -> [EncodedFile; 4] {
    synthetic_files(N_TRAIN, N_TEST).unwrap()
}

/// Writes `files` into `dir` decompressed, under the raw names.
fn write_raw(dir: &Path, files: &[EncodedFile; 4]) {
    for f in files {
        // A bad gzip stream cannot be decompressed: keep it as it is, under the raw name.
        let bytes = mnist_data::decode_stored(Path::new(f.file.gz_name()), f.gz.clone())
            .unwrap_or_else(|_| f.gz.clone());
        std::fs::write(dir.join(f.file.raw_name()), bytes).unwrap();
    }
}

fn check(corruption: Corruption, err: &MnistError) {
    assert!(
        corruption.matches(err),
        "{corruption:?} gave the wrong error: {err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(corruption.target().gz_name()) || msg.contains(corruption.target().raw_name()),
        "{corruption:?}: message does not name {}: {msg}",
        corruption.target()
    );
    assert!(!msg.contains('\n'), "multi-line message: {msg}");
}

#[test]
fn good_synthetic_files_load() {
    let files = good();
    let dir = tempfile::tempdir().unwrap();
    write_gz_files(dir.path(), &files).unwrap();
    let loaded = load_dir(dir.path(), &specs_for(&files)).unwrap();
    assert_eq!(loaded.idx.train_images.count(), N_TRAIN);
    let splits = MnistSplits::from_idx(&loaded.idx).unwrap();
    assert_eq!(
        (splits.train.len(), splits.valid.len(), splits.test.len()),
        (10, 2, 6)
    );
    // Also through a data source (official checksums: synthetic data must fail them).
    let err = DataSource::Dir(dir.path().to_path_buf())
        .load()
        .unwrap_err();
    assert!(matches!(err, MnistError::ChecksumMismatch { .. }), "{err}");
}

#[test]
fn each_corruption_gives_its_error_gzip() {
    for corruption in Corruption::ALL {
        let mut files = good();
        let specs = specs_for(&files);
        corruption.apply(&mut files).unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_gz_files(dir.path(), &files).unwrap();
        let err = load_dir(dir.path(), &specs).unwrap_err();
        check(corruption, &err);
    }
}

#[test]
fn each_corruption_gives_its_error_raw() {
    for corruption in Corruption::ALL {
        let mut files = good();
        let specs = specs_for(&files);
        corruption.apply(&mut files).unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_raw(dir.path(), &files);
        // Gzip is recognised by content, not name: the bad stream is still a gzip error.
        let err = load_dir(dir.path(), &specs).unwrap_err();
        check(corruption, &err);
    }
}

#[test]
fn checksum_mismatch_through_verify_stored() {
    let mut files = good();
    let specs = specs_for(&files);
    let target = Corruption::ChecksumMismatch.target();
    Corruption::ChecksumMismatch.apply(&mut files).unwrap();
    let f = &files[target.index()];
    let err = verify_stored(Path::new(target.gz_name()), specs.get(target), &f.gz).unwrap_err();
    check(Corruption::ChecksumMismatch, &err);
}

#[test]
fn trailing_bytes_are_rejected() {
    let files = good();
    let specs = specs_for(&files);
    let dir = tempfile::tempdir().unwrap();
    write_raw(dir.path(), &files);
    let path = dir.path().join(MnistFile::TestLabels.raw_name());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.push(1);
    std::fs::write(&path, bytes).unwrap();
    let err = load_dir(dir.path(), &specs).unwrap_err();
    assert!(
        matches!(err, MnistError::TrailingBytes { extra: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("t10k-labels-idx1-ubyte"), "{err}");
}

#[test]
fn missing_files_are_all_named_with_advice() {
    let files = good();
    let dir = tempfile::tempdir().unwrap();
    write_gz_files(dir.path(), &files[..2]).unwrap();
    let err = load_dir(dir.path(), &FileSpecs::unchecked()).unwrap_err();
    match &err {
        MnistError::MissingFiles { missing, .. } => {
            assert_eq!(missing, &[MnistFile::TestImages, MnistFile::TestLabels]);
        }
        other => panic!("expected MissingFiles, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("t10k-images-idx3-ubyte.gz") && msg.contains("MNIST_DIR"),
        "{msg}"
    );
}

#[test]
fn missing_directory_is_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_dir(&dir.path().join("nope"), &FileSpecs::official()).unwrap_err();
    assert!(matches!(err, MnistError::MissingFiles { ref missing, .. } if missing.len() == 4));
}
