//! Atomic file replacement: write a temporary file next to the target, flush it to disk,
//! then rename it over the target, so readers see either the old file or the new one.

use std::io::Write;
use std::path::Path;

use tempfile::Builder;

use super::error::ReportError;

/// Writes `bytes` to `path` atomically (temp file in the same directory, `fsync`, rename).
///
/// The temporary file is deleted if any step fails. On Unix the file is created with mode
/// `0o644` (less the process umask), like an ordinary new file, rather than the `0o600`
/// that temporary files get by default.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let io_err = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = Builder::new();
    builder.prefix(".report-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(io_err)?;
    tmp.write_all(bytes).map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    Ok(())
}
