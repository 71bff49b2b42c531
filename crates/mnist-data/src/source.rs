//! Where the data comes from: the bundled sample or a directory, and how that is chosen.
//!
//! Resolution order: an explicit `--data` value, else `$MNIST_DIR`, else `data/mnist` in the
//! workspace root. The value `sample` (exactly) selects the bundled sample; write `./sample`
//! for a directory of that name.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::load::{load_dir, load_stored, Loaded};
use crate::sample;
use crate::spec::FileSpecs;

/// Environment variable naming the data directory.
pub const ENV_VAR: &str = "MNIST_DIR";

/// The `--data` / `$MNIST_DIR` value that selects the bundled sample.
pub const SAMPLE_KEYWORD: &str = "sample";

/// The workspace root, as seen when this crate was compiled.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .unwrap_or(manifest)
        .to_path_buf()
}

/// The default data directory: `data/mnist` under the workspace root (git-ignored).
pub fn default_data_dir() -> PathBuf {
    workspace_root().join("data").join("mnist")
}

/// The project's read-only copy of the real files, `../shared/data/mnist` from the
/// workspace root. It may not exist; callers check.
pub fn shared_data_dir() -> PathBuf {
    let root = workspace_root();
    root.parent()
        .unwrap_or(&root)
        .join("shared")
        .join("data")
        .join("mnist")
}

/// Where tests find the real MNIST files: `$MNIST_DIR` when set, else [`shared_data_dir`].
///
/// Returns `Ok(Some(dir))` when the directory exists and `Ok(None)` when it does not (the
/// caller skips, saying why). With `MNIST_REQUIRED=1` in the environment a missing directory
/// is an error instead, so a CI that declares the data cannot pass by skipping.
pub fn real_data_dir() -> std::result::Result<Option<PathBuf>, String> {
    let dir = std::env::var_os("MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(shared_data_dir);
    if dir.is_dir() {
        return Ok(Some(dir));
    }
    let why = format!("{} does not exist (no real MNIST here)", dir.display());
    if std::env::var("MNIST_REQUIRED").as_deref() == Ok("1") {
        Err(format!("MNIST_REQUIRED=1 but {why}"))
    } else {
        Ok(None)
    }
}

/// [`real_data_dir`] for a test: the directory, or `None` after printing that `test` is
/// skipped; panics (failing the test) when the data is required but missing.
pub fn real_data_dir_or_skip(test: &str) -> Option<PathBuf> {
    match real_data_dir() {
        Ok(Some(dir)) => Some(dir),
        Ok(None) => {
            eprintln!(
                "skipping {test}: no real MNIST (set MNIST_DIR, or MNIST_REQUIRED=1 to fail)"
            );
            None
        }
        Err(why) => panic!("{test}: {why}"),
    }
}

/// A place to read the four MNIST files from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// The small real sample compiled into this crate (see [`crate::sample`]).
    Sample,
    /// A directory holding the four files, gzip or raw.
    Dir(PathBuf),
}

impl DataSource {
    /// Resolves `--data` against `$MNIST_DIR` and the default directory.
    pub fn resolve(arg: Option<&OsStr>) -> Self {
        Self::resolve_from(arg, std::env::var_os(ENV_VAR), default_data_dir())
    }

    /// [`DataSource::resolve`] with the environment and default given explicitly.
    pub fn resolve_from(arg: Option<&OsStr>, env: Option<OsString>, default: PathBuf) -> Self {
        match (arg, env) {
            (Some(value), _) => Self::parse(value),
            (None, Some(value)) if !value.is_empty() => Self::parse(&value),
            _ => DataSource::Dir(default),
        }
    }

    /// `sample` selects the sample; anything else is a directory.
    pub fn parse(value: &OsStr) -> Self {
        if value == SAMPLE_KEYWORD {
            DataSource::Sample
        } else {
            DataSource::Dir(PathBuf::from(value))
        }
    }

    /// The checksums this source's files must match.
    pub fn specs(&self) -> FileSpecs {
        match self {
            DataSource::Sample => sample::sample_specs(),
            DataSource::Dir(_) => FileSpecs::official(),
        }
    }

    /// Reads, validates and verifies the four files.
    pub fn load(&self) -> Result<Loaded> {
        match self {
            DataSource::Sample => load_stored(sample::sample_files(), &self.specs()),
            DataSource::Dir(dir) => load_dir(dir, &self.specs()),
        }
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Sample => write!(f, "bundled sample ({})", sample::sample_dir().display()),
            DataSource::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_order() {
        let default = PathBuf::from("/default");
        let arg = OsStr::new("/from/arg");
        let env = || Some(OsString::from("/from/env"));
        assert_eq!(
            DataSource::resolve_from(Some(arg), env(), default.clone()),
            DataSource::Dir("/from/arg".into())
        );
        assert_eq!(
            DataSource::resolve_from(None, env(), default.clone()),
            DataSource::Dir("/from/env".into())
        );
        assert_eq!(
            DataSource::resolve_from(None, Some(OsString::new()), default.clone()),
            DataSource::Dir(default.clone())
        );
        assert_eq!(
            DataSource::resolve_from(None, None, default.clone()),
            DataSource::Dir(default)
        );
    }

    #[test]
    fn sample_keyword() {
        let d = PathBuf::from("/d");
        assert_eq!(
            DataSource::resolve_from(Some(OsStr::new("sample")), None, d.clone()),
            DataSource::Sample
        );
        assert_eq!(
            DataSource::resolve_from(None, Some("sample".into()), d.clone()),
            DataSource::Sample
        );
        assert_eq!(
            DataSource::resolve_from(Some(OsStr::new("./sample")), None, d),
            DataSource::Dir("./sample".into())
        );
    }

    #[test]
    fn workspace_paths() {
        let root = workspace_root();
        assert!(root.join("Cargo.toml").is_file(), "{}", root.display());
        assert!(default_data_dir().starts_with(&root));
        assert!(shared_data_dir().ends_with("shared/data/mnist"));
    }
}
