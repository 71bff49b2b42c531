//! Copying a file from a local mirror directory into a part file.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use atomic_file::AtomicFile;

use crate::error::{MnistError, Result};
use crate::file::MnistFile;
use crate::load::locate;

/// The file to copy for `file` from `mirror_dir` (`.gz` preferred, raw accepted).
pub(crate) fn source_path(mirror_dir: &Path, file: MnistFile) -> Result<PathBuf> {
    locate(mirror_dir, file).ok_or_else(|| {
        MnistError::io(
            mirror_dir.join(file.gz_name()),
            io::Error::new(io::ErrorKind::NotFound, "not found in local mirror"),
        )
    })
}

/// Copies `src` into `part`, returning the number of bytes copied.
pub(crate) fn copy_into(src: &Path, part: &mut AtomicFile) -> Result<u64> {
    let mut input = File::open(src).map_err(|e| MnistError::io(src, e))?;
    // `io::copy` does not say which side failed; the source is the more useful name.
    io::copy(&mut input, part).map_err(|e| MnistError::io(src, e))
}
