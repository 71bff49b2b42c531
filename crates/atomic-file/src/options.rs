//! How an [`AtomicFile`]'s temporary file is named.

use std::io;
use std::path::Path;

use crate::file::AtomicFile;

/// Options for creating an [`AtomicFile`]: the temporary file's name.
///
/// The temporary file for a destination `DIR/NAME` is `DIR/.NAME.<random><suffix>` when
/// hidden (the default, with suffix `.tmp`), or `DIR/NAME.<random><suffix>` when not. The
/// random part makes concurrent writers of one destination safe: each gets its own file and
/// the last rename wins. A temporary file left by a killed process keeps its suffix, so it
/// can be recognised and removed.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let dest = dir.path().join("train.gz");
/// use std::io::Write;
/// // A download: `train.gz.<random>.part`, visible while it grows.
/// let mut part = atomic_file::AtomicOptions::new().hidden(false).suffix(".part").create(&dest)?;
/// part.write_all(b"...")?;
/// part.commit()?;
/// # assert_eq!(std::fs::read(&dest)?, b"...");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AtomicOptions {
    pub(crate) suffix: String,
    pub(crate) hidden: bool,
}

impl Default for AtomicOptions {
    fn default() -> Self {
        AtomicOptions {
            suffix: ".tmp".to_string(),
            hidden: true,
        }
    }
}

impl AtomicOptions {
    /// Hidden `.NAME.<random>.tmp` temporary files.
    pub fn new() -> Self {
        Self::default()
    }

    /// The temporary file's suffix, e.g. `".part"` (default `".tmp"`).
    pub fn suffix(&mut self, suffix: impl Into<String>) -> &mut Self {
        self.suffix = suffix.into();
        self
    }

    /// Whether the temporary file's name starts with a dot (default `true`).
    pub fn hidden(&mut self, hidden: bool) -> &mut Self {
        self.hidden = hidden;
        self
    }

    /// Creates the temporary file for `dest`, whose directory must exist.
    pub fn create(&self, dest: impl AsRef<Path>) -> io::Result<AtomicFile> {
        AtomicFile::with_options(dest.as_ref(), self)
    }
}
