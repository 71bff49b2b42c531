//! Making sure a data directory holds four verified files, fetching what is missing.
//!
//! Each file is fetched into a `NAME.gz.<random>.part` file beside its destination, verified
//! (`.gz` SHA-256 or content MD5, see [`crate::FileSpec`]) and only then renamed to
//! `NAME.gz`. A failed, corrupt or interrupted transfer leaves no file with a valid-looking
//! name: the part file is deleted, and one left by a killed process keeps its `.part` suffix.

mod config;
mod http;
mod local;
mod mirror;

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;

use atomic_file::{AtomicFile, AtomicOptions};

pub use config::DownloadConfig;
pub use mirror::{default_mirrors, url_for, Mirror, HTTP_MIRRORS};

use crate::checksum::{verify_stored, Verified};
use crate::error::{MnistError, Result, SourceFailure};
use crate::file::MnistFile;
use crate::load::locate;
use crate::spec::FileSpec;
use http::HttpClient;

/// How a file came to be present and verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// It was already there and verified.
    Present,
    /// It was fetched from this location (a path or URL).
    Fetched {
        /// Where from.
        from: String,
    },
}

/// The outcome for one file.
#[derive(Debug)]
pub struct FileReport {
    /// Which file.
    pub file: MnistFile,
    /// Where it now is.
    pub path: PathBuf,
    /// Present or fetched.
    pub status: FileStatus,
    /// How its checksum was accepted.
    pub verified: Verified,
    /// Sources (or an existing bad copy) that failed before it succeeded.
    pub failures: Vec<SourceFailure>,
}

/// Verifies the files in `dir` and fetches missing or bad ones from the default sources
/// (`../shared/data/mnist` when present, then the public mirrors).
pub fn ensure_downloaded(dir: &Path) -> Result<Vec<FileReport>> {
    ensure_downloaded_with(dir, &DownloadConfig::default())
}

/// [`ensure_downloaded`] with explicit sources, checksums, timeouts and retries.
pub fn ensure_downloaded_with(dir: &Path, config: &DownloadConfig) -> Result<Vec<FileReport>> {
    if config.attempts_per_mirror == 0 {
        return Err(MnistError::InvalidConfig {
            detail: "attempts_per_mirror must be at least 1".to_owned(),
        });
    }
    fs::create_dir_all(dir).map_err(|e| MnistError::io(dir, e))?;
    let client = HttpClient::new(config);
    MnistFile::ALL
        .into_iter()
        .map(|file| ensure_file(dir, file, config, &client))
        .collect()
}

/// Checks one file and fetches it if needed.
fn ensure_file(
    dir: &Path,
    file: MnistFile,
    config: &DownloadConfig,
    client: &HttpClient,
) -> Result<FileReport> {
    let spec = config.specs.get(file);
    let mut failures = Vec::new();
    if let Some(path) = locate(dir, file) {
        match verify_file(&path, &path, spec) {
            Ok(verified) => {
                return Ok(FileReport {
                    file,
                    path,
                    status: FileStatus::Present,
                    verified,
                    failures,
                })
            }
            Err(error) => failures.push(SourceFailure {
                source: path.display().to_string(),
                error: Box::new(error),
            }),
        }
    }
    for mirror in &config.mirrors {
        let fetched = match mirror {
            Mirror::LocalDir(mirror_dir) => {
                if same_dir(mirror_dir, dir) {
                    continue;
                }
                fetch_local(mirror_dir, dir, file, spec)
            }
            Mirror::Http(base) => fetch_http_with_retries(base, dir, file, spec, config, client),
        };
        match fetched {
            Ok((path, verified)) => {
                return Ok(FileReport {
                    file,
                    path,
                    status: FileStatus::Fetched {
                        from: mirror.location(file),
                    },
                    verified,
                    failures,
                })
            }
            Err(error) => failures.push(SourceFailure {
                source: mirror.location(file),
                error: Box::new(error),
            }),
        }
    }
    Err(MnistError::DownloadFailed {
        path: dir.join(file.gz_name()),
        dir: dir.to_path_buf(),
        attempts: failures,
    })
}

/// Whether two directories are the same one (so copying would be pointless).
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Verifies the file at `path`; errors name `shown` (the URL for downloads). A file whose
/// spec has no checksum is at least decompressed and parsed.
fn verify_file(path: &Path, shown: &Path, spec: &FileSpec) -> Result<Verified> {
    let bytes = fs::read(path).map_err(|e| MnistError::io(path, e))?;
    let verified = verify_stored(shown, spec, &bytes)?;
    if verified == Verified::Unchecked {
        let content = crate::gz::decode(shown, bytes)?;
        match spec.file.kind() {
            crate::file::IdxKind::Images => drop(crate::idx::parse_images(shown, content)?),
            crate::file::IdxKind::Labels => drop(crate::idx::parse_labels(shown, content)?),
        }
    }
    Ok(verified)
}

/// A visible `NAME.gz.<random>.part` file beside `dest`, deleted unless committed.
fn part_file(dest: &Path) -> Result<AtomicFile> {
    AtomicOptions::new()
        .hidden(false)
        .suffix(".part")
        .create(dest)
        .map_err(|e| MnistError::io(dest, e))
}

/// Syncs a verified part file and renames it over its destination.
fn commit(part: AtomicFile) -> Result<()> {
    let dest = part.dest().to_path_buf();
    part.commit().map_err(|e| MnistError::io(dest, e))
}

/// Copies a file from a local mirror, verifies it and renames it into place.
fn fetch_local(
    mirror_dir: &Path,
    dir: &Path,
    file: MnistFile,
    spec: &FileSpec,
) -> Result<(PathBuf, Verified)> {
    let src = local::source_path(mirror_dir, file)?;
    let name = src
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(file.gz_name()));
    let dest = dir.join(name);
    let mut part = part_file(&dest)?;
    local::copy_into(&src, &mut part)?;
    let verified = verify_file(part.path(), &src, spec)?;
    commit(part)?;
    Ok((dest, verified))
}

/// Fetches from one HTTP mirror, retrying transient failures with growing pauses.
fn fetch_http_with_retries(
    base: &str,
    dir: &Path,
    file: MnistFile,
    spec: &FileSpec,
    config: &DownloadConfig,
    client: &HttpClient,
) -> Result<(PathBuf, Verified)> {
    let url = url_for(base, file);
    let mut delay = config.retry_delay;
    let mut attempt = 1;
    loop {
        match fetch_http(&url, dir, file, spec, client) {
            Ok(done) => return Ok(done),
            Err(MnistError::Http {
                transient: true, ..
            }) if attempt < config.attempts_per_mirror => {
                thread::sleep(delay);
                delay = delay.saturating_mul(2);
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// One HTTP attempt: download into a part file, verify, rename into place.
fn fetch_http(
    url: &str,
    dir: &Path,
    file: MnistFile,
    spec: &FileSpec,
    client: &HttpClient,
) -> Result<(PathBuf, Verified)> {
    let dest = dir.join(file.gz_name());
    let mut part = part_file(&dest)?;
    client.fetch_into(url, file.gz_name(), &mut part)?;
    let verified = verify_file(part.path(), Path::new(url), spec)?;
    commit(part)?;
    Ok((dest, verified))
}
