//! The downloader against a local HTTP server on 127.0.0.1: good, corrupt, truncated,
//! stalled and missing files, and a dead mirror.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{dead_base_url, dir_names, test_config, Reply, TestServer};
use mnist_data::synthetic::{synthetic_files, Corruption};
use mnist_data::{
    ensure_downloaded_with, load_dir, sha256_hex, specs_for, EncodedFile, FileSpec, FileSpecs,
    FileStatus, MnistError, MnistFile, Verified,
};

fn good() -> [EncodedFile; 4] {
    synthetic_files(12, 6).unwrap()
}

/// Specs knowing both the `.gz` SHA-256 and the content MD5 of `files`.
fn full_specs(files: &[EncodedFile; 4]) -> FileSpecs {
    files.iter().fold(FileSpecs::unchecked(), |specs, f| {
        specs.with(FileSpec {
            file: f.file,
            gz_sha256: Some(sha256_hex(&f.gz)),
            content_md5: Some(f.content_md5.clone()),
        })
    })
}

/// Every file's fetch failures, flattened.
fn failure_errors(err: &MnistError) -> Vec<&MnistError> {
    match err {
        MnistError::DownloadFailed { attempts, .. } => {
            attempts.iter().map(|a| a.error.as_ref()).collect()
        }
        other => panic!("expected DownloadFailed, got {other}"),
    }
}

#[test]
fn good_mirror_gives_verified_files() {
    let files = good();
    let server = TestServer::serving(&files);
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(vec![server.mirror()], full_specs(&files));
    let reports = ensure_downloaded_with(dir.path(), &config).unwrap();
    for report in &reports {
        assert_eq!(report.verified, Verified::GzSha256, "{report:?}");
        assert!(
            matches!(&report.status, FileStatus::Fetched { from } if from.starts_with("http://127.0.0.1"))
        );
        assert!(report.failures.is_empty());
    }
    assert_eq!(
        dir_names(dir.path()),
        [
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz"
        ]
    );
    load_dir(dir.path(), &specs_for(&files)).unwrap();

    // A second run finds everything present and asks the server nothing more.
    let hits = server.hits().len();
    let again = ensure_downloaded_with(dir.path(), &config).unwrap();
    assert!(again.iter().all(|r| r.status == FileStatus::Present));
    assert_eq!(server.hits().len(), hits);
}

#[test]
fn regzipped_copy_is_accepted_by_content_md5() {
    let files = good();
    let specs = full_specs(&files);
    let mut regz = files.clone();
    for f in &mut regz {
        f.gz[9] ^= 1; // gzip header OS byte: different .gz bytes, same content
    }
    let server = TestServer::serving(&regz);
    let dir = tempfile::tempdir().unwrap();
    let reports =
        ensure_downloaded_with(dir.path(), &test_config(vec![server.mirror()], specs)).unwrap();
    assert!(reports.iter().all(|r| r.verified == Verified::ContentMd5));
}

#[test]
fn dead_mirror_is_skipped() {
    let files = good();
    let server = TestServer::serving(&files);
    let dir = tempfile::tempdir().unwrap();
    let mirrors = vec![mnist_data::Mirror::Http(dead_base_url()), server.mirror()];
    let reports =
        ensure_downloaded_with(dir.path(), &test_config(mirrors, specs_for(&files))).unwrap();
    for report in &reports {
        assert_eq!(report.failures.len(), 1);
        assert!(
            matches!(
                *report.failures[0].error,
                MnistError::Http {
                    transient: true,
                    ..
                }
            ),
            "{}",
            report.failures[0]
        );
        assert!(
            matches!(&report.status, FileStatus::Fetched { from } if from.contains(&server.base_url()))
        );
    }
}

#[test]
fn corrupt_mirror_gives_checksum_error_then_next_mirror() {
    let files = good();
    let mut corrupt = files.clone();
    Corruption::ChecksumMismatch.apply(&mut corrupt).unwrap();
    let bad = TestServer::serving(&corrupt);
    let good_server = TestServer::serving(&files);
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(vec![bad.mirror(), good_server.mirror()], specs_for(&files));
    let reports = ensure_downloaded_with(dir.path(), &config).unwrap();
    let target = &reports[Corruption::ChecksumMismatch.target().index()];
    assert_eq!(target.failures.len(), 1);
    assert!(matches!(
        *target.failures[0].error,
        MnistError::ChecksumMismatch { .. }
    ));
    assert!(target.failures[0].to_string().contains(&bad.base_url()));
    // A checksum failure is not retried on the same mirror.
    let name = target.file.gz_name();
    assert_eq!(bad.hits().iter().filter(|h| *h == name).count(), 1);
    load_dir(dir.path(), &specs_for(&files)).unwrap();
}

#[test]
fn corrupt_only_mirror_leaves_no_valid_looking_file() {
    let files = good();
    let mut corrupt = files.clone();
    Corruption::ChecksumMismatch.apply(&mut corrupt).unwrap();
    let bad = TestServer::serving(&corrupt);
    let dir = tempfile::tempdir().unwrap();
    let err = ensure_downloaded_with(
        dir.path(),
        &test_config(vec![bad.mirror()], specs_for(&files)),
    )
    .unwrap_err();
    let errors = failure_errors(&err);
    assert!(
        matches!(errors[..], [MnistError::ChecksumMismatch { .. }]),
        "{err}"
    );
    assert!(
        err.to_string().contains("train-images-idx3-ubyte.gz"),
        "{err}"
    );
    // Nothing was left for the failed file (the loop stops at the first failure).
    assert!(
        dir_names(dir.path()).is_empty(),
        "{:?}",
        dir_names(dir.path())
    );
}

#[test]
fn truncated_body_is_retried_then_fails_cleanly() {
    let files = good();
    let routes: HashMap<String, Reply> = files
        .iter()
        .map(|f| {
            let reply = Reply::Cut {
                body: f.gz.clone(),
                send: f.gz.len() / 2,
            };
            (f.file.gz_name().to_owned(), reply)
        })
        .collect();
    let server = TestServer::start(routes);
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(vec![server.mirror()], specs_for(&files));
    let err = ensure_downloaded_with(dir.path(), &config).unwrap_err();
    let errors = failure_errors(&err);
    assert!(
        matches!(
            errors[..],
            [MnistError::Http {
                transient: true,
                ..
            }]
        ),
        "{err}"
    );
    // Retried: one request per attempt.
    assert_eq!(server.hits().len(), config.attempts_per_mirror as usize);
    assert!(
        dir_names(dir.path()).is_empty(),
        "{:?}",
        dir_names(dir.path())
    );
}

#[test]
fn stalled_body_times_out_and_fails_cleanly() {
    /// How long the server holds the connection after sending a third of the body.
    const STALL: Duration = Duration::from_secs(8);
    let files = good();
    let target = MnistFile::TrainImages;
    let f = &files[target.index()];
    let routes = HashMap::from([(
        target.gz_name().to_owned(),
        Reply::Stall {
            body: f.gz.clone(),
            send: f.gz.len() / 3,
            hold: STALL,
        },
    )]);
    let server = TestServer::start(routes);
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(vec![server.mirror()], specs_for(&files));
    config.read_timeout = Duration::from_millis(200);
    config.attempts_per_mirror = 1;
    let started = std::time::Instant::now();
    let err = ensure_downloaded_with(dir.path(), &config).unwrap_err();
    // Without the 200 ms read timeout the client would wait out the whole stall; the bound
    // is the stall less a wide margin, so load on the machine cannot make this fail.
    let elapsed = started.elapsed();
    assert!(
        elapsed < STALL - Duration::from_secs(3),
        "read timeout not applied: waited {elapsed:?} of a {STALL:?} stall"
    );
    assert!(
        matches!(
            failure_errors(&err)[..],
            [MnistError::Http {
                transient: true,
                ..
            }]
        ),
        "{err}"
    );
    assert!(
        dir_names(dir.path()).is_empty(),
        "{:?}",
        dir_names(dir.path())
    );
}

#[test]
fn not_found_is_not_retried() {
    let files = good();
    let server = TestServer::start(HashMap::new());
    let dir = tempfile::tempdir().unwrap();
    let err = ensure_downloaded_with(
        dir.path(),
        &test_config(vec![server.mirror()], specs_for(&files)),
    )
    .unwrap_err();
    assert!(
        matches!(
            failure_errors(&err)[..],
            [MnistError::Http {
                transient: false,
                ..
            }]
        ),
        "{err}"
    );
    assert!(err.to_string().contains("404"), "{err}");
    assert_eq!(server.hits().len(), 1);
}

#[test]
fn existing_corrupt_file_is_replaced_and_good_one_kept() {
    let files = good();
    let server = TestServer::serving(&files);
    let dir = tempfile::tempdir().unwrap();
    mnist_data::write_gz_files(dir.path(), &files).unwrap();
    let broken = dir.path().join(MnistFile::TestLabels.gz_name());
    std::fs::write(&broken, b"not gzip, not idx").unwrap();
    let config = test_config(vec![server.mirror()], specs_for(&files));
    let reports = ensure_downloaded_with(dir.path(), &config).unwrap();
    assert_eq!(server.hits(), ["t10k-labels-idx1-ubyte.gz"]);
    let replaced = &reports[MnistFile::TestLabels.index()];
    assert!(matches!(replaced.status, FileStatus::Fetched { .. }));
    assert!(matches!(
        *replaced.failures[0].error,
        MnistError::ChecksumMismatch { .. }
    ));
    load_dir(dir.path(), &specs_for(&files)).unwrap();
}

#[test]
fn offline_error_says_how_to_provide_the_files() {
    let files = good();
    let dir = tempfile::tempdir().unwrap();
    let mirrors = vec![
        mnist_data::Mirror::Http(dead_base_url()),
        mnist_data::Mirror::Http(dead_base_url()),
    ];
    let err =
        ensure_downloaded_with(dir.path(), &test_config(mirrors, specs_for(&files))).unwrap_err();
    assert_eq!(failure_errors(&err).len(), 2);
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "{msg}");
    assert!(msg.contains("put the four MNIST .gz files in"), "{msg}");
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    assert!(msg.contains("MNIST_DIR"), "{msg}");
}

#[test]
fn zero_attempts_is_a_config_error() {
    let files = good();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(vec![], specs_for(&files));
    config.attempts_per_mirror = 0;
    let err = ensure_downloaded_with(dir.path(), &config).unwrap_err();
    assert!(matches!(err, MnistError::InvalidConfig { .. }), "{err}");
}
