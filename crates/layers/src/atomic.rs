//! Atomic file writes: the bytes go to a temporary file in the destination's directory, are
//! flushed to disk, and the file is renamed over the destination. A reader (or a crash) sees
//! the old file or the complete new one, never a partial write; on failure the temporary file
//! is removed.

use std::io::Write;
use std::path::Path;

use crate::error::LayersError;

/// Writes `bytes` to `dest` atomically (its directory must exist).
pub(crate) fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), LayersError> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Like `File::create`: permissions from the umask, not the owner-only temporary default.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut temp = builder
        .tempfile_in(dir)
        .map_err(|e| LayersError::io(dir, e))?;
    let temp_path = temp.path().to_path_buf();
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| LayersError::io(&temp_path, e))?;
    temp.persist(dest)
        .map_err(|e| LayersError::io(dest, e.error))?;
    // Make the rename itself durable; failing to sync a directory loses nothing written.
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
