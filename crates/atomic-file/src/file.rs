//! [`AtomicFile`]: a temporary file that becomes its destination on commit.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::options::AtomicOptions;

/// A file being written that replaces `dest` only when [`AtomicFile::commit`] succeeds.
///
/// Writes go straight to the temporary file (there is no buffer: wrap it in a
/// [`std::io::BufWriter`] for many small writes), so the bytes written so far can be read
/// back through [`AtomicFile::path`] before committing, e.g. to verify a checksum. If the
/// value is dropped without a successful commit, the temporary file is deleted.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// use std::io::Write;
/// let dest = dir.path().join("metrics.jsonl");
/// let mut file = atomic_file::AtomicFile::create(&dest)?;
/// writeln!(file, "{{\"epoch\":0}}")?;
/// file.commit()?;
/// assert_eq!(std::fs::read_to_string(&dest)?, "{\"epoch\":0}\n");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct AtomicFile {
    temp: NamedTempFile,
    dest: PathBuf,
}

impl AtomicFile {
    /// Creates a hidden temporary file `.NAME.<random>.tmp` for `dest`, whose directory must
    /// exist. Same as `AtomicOptions::new().create(dest)`.
    pub fn create(dest: impl AsRef<Path>) -> io::Result<Self> {
        Self::with_options(dest.as_ref(), &AtomicOptions::default())
    }

    pub(crate) fn with_options(dest: &Path, options: &AtomicOptions) -> io::Result<Self> {
        let name = dest.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} does not name a file", dest.display()),
            )
        })?;
        let dir = parent_dir(dest);
        let name = name.to_string_lossy();
        let prefix = if options.hidden {
            format!(".{name}.")
        } else {
            format!("{name}.")
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(&options.suffix);
        // The mode passed to `open(2)`, which the kernel reduces by the umask: the same
        // permissions `File::create` gives, instead of the owner-only temporary default.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let temp = builder
            .tempfile_in(dir)
            .map_err(|e| context("creating a temporary file in directory", dir, e))?;
        Ok(AtomicFile {
            temp,
            dest: dest.to_path_buf(),
        })
    }

    /// The temporary file's path (where the bytes are until the commit).
    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// The destination the commit renames the file to.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The open temporary file, e.g. for its metadata.
    pub fn as_file(&self) -> &File {
        self.temp.as_file()
    }

    /// Flushes the file to disk, renames it over the destination, then flushes the
    /// directory (on Unix) so that the rename is durable too.
    ///
    /// On an error before the rename, the destination is unchanged and the temporary file is
    /// removed. A directory that cannot be synced after the rename is an error too (the
    /// destination already holds the new content then); file systems that do not support
    /// syncing a directory are accepted silently.
    pub fn commit(mut self) -> io::Result<()> {
        let path = self.temp.path().to_path_buf();
        self.temp
            .as_file_mut()
            .flush()
            .and_then(|()| self.temp.as_file().sync_all())
            .map_err(|e| context("syncing", &path, e))?;
        let dest = self.dest;
        // On failure `PersistError` hands the temporary file back; dropping it deletes it.
        self.temp
            .persist(&dest)
            .map_err(|e| context(&format!("renaming {} to", path.display()), &dest, e.error))?;
        sync_dir(parent_dir(&dest))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.temp.as_file_mut().write(buf);
        n.map_err(|e| context("writing", self.temp.path(), e))
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = self.temp.as_file_mut().flush();
        r.map_err(|e| context("flushing", self.temp.path(), e))
    }
}

/// The directory a file lives in (`.` for a bare name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `fsync` on a directory, so that a rename inside it reaches the disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    let synced = File::open(dir).and_then(|d| d.sync_all());
    match synced {
        Ok(()) => Ok(()),
        // Some file systems cannot open or sync a directory: nothing more can be done there.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(context("syncing directory", dir, e)),
    }
}

/// Directories cannot be synced through the standard library off Unix; the rename stands.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// `e` with a message naming the step and the path, keeping its kind.
fn context(step: &str, path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{step} {}: {e}", path.display()))
}
