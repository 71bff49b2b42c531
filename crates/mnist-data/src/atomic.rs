//! Atomic file creation: write a temporary file in the destination's directory, flush it
//! to disk, then rename it over the destination. Readers see the old file or the new one,
//! never a half-written one; on failure the temporary file is deleted.

use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{MnistError, Result};

/// A temporary `NAME.<random>.part` file beside `NAME`, deleted on drop unless persisted.
#[derive(Debug)]
pub struct PartFile {
    temp: NamedTempFile,
    dest: PathBuf,
}

impl PartFile {
    /// Creates the temporary file for `dest` (whose directory must exist).
    pub fn create(dest: &Path) -> Result<Self> {
        let dir = parent_dir(dest);
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!("{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".part");
        // Like `File::create`: readable by others unless the umask says otherwise (the
        // default for temporary files is owner-only).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let temp = builder
            .tempfile_in(dir)
            .map_err(|e| MnistError::io(dir, e))?;
        Ok(PartFile {
            temp,
            dest: dest.to_path_buf(),
        })
    }

    /// The temporary file's path.
    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// The open temporary file, for writing.
    pub fn file(&mut self) -> &mut std::fs::File {
        self.temp.as_file_mut()
    }

    /// Flushes to disk and renames over the destination.
    pub fn persist(mut self) -> Result<()> {
        let path = self.temp.path().to_path_buf();
        self.temp
            .as_file_mut()
            .flush()
            .and_then(|()| self.temp.as_file().sync_all())
            .map_err(|e| MnistError::io(&path, e))?;
        self.temp
            .persist(&self.dest)
            .map_err(|e| MnistError::io(&self.dest, e.error))?;
        Ok(())
    }
}

/// Writes `bytes` to `dest` atomically.
pub fn write_atomically(dest: &Path, bytes: &[u8]) -> Result<()> {
    let mut part = PartFile::create(dest)?;
    let path = part.path().to_path_buf();
    part.file()
        .write_all(bytes)
        .map_err(|e| MnistError::io(path, e))?;
    part.persist()
}

/// The directory a file lives in (`.` for a bare name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.bin");
        write_atomically(&dest, b"one").unwrap();
        write_atomically(&dest, b"two").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn dropped_part_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.gz");
        {
            let mut part = PartFile::create(&dest).unwrap();
            part.file().write_all(b"partial").unwrap();
            let name = part
                .path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert!(
                name.starts_with("f.gz.") && name.ends_with(".part"),
                "{name}"
            );
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
