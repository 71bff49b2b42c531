//! # atomic-file
//!
//! Replacing a file so that nobody ever sees half of it. The new content goes to a temporary
//! file in the destination's own directory; once it is complete it is flushed to disk and
//! renamed over the destination. A `rename` within one directory is atomic on POSIX file
//! systems, so a reader (or a process started after a crash) finds either the old file or
//! the complete new one, never a mixture or a truncated file.
//!
//! * [`write_atomic`] writes a byte slice in one call.
//! * [`AtomicFile`] streams: create it, write to it (it implements [`std::io::Write`]), then
//!   [`AtomicFile::commit`]. Dropping it uncommitted, or a failed commit, removes the
//!   temporary file. [`AtomicOptions`] chooses the temporary file's name (downloads use a
//!   visible `NAME.<random>.part`).
//!
//! ## Policy
//!
//! * **Permissions.** On Unix the file is created with mode `0o666` less the process umask,
//!   exactly like [`std::fs::File::create`] (and unlike the owner-only `0o600` of ordinary
//!   temporary files). Replacing a file does not keep the old file's mode or owner: the
//!   result is a new file.
//! * **Durability.** [`AtomicFile::commit`] calls `fsync` on the file before the rename and,
//!   on Unix, on the directory after it, so the rename itself survives a power cut.
//! * **Directories.** The destination's directory must exist; it is never created. A missing
//!   directory is an error whose message names that directory.
//! * **Errors.** Every function returns [`std::io::Result`]. The error keeps the
//!   [`std::io::ErrorKind`] of the failing system call and its message says which step
//!   failed and on which path, so callers can wrap it in their own typed error with the
//!   destination path.
//!
//! Symbolic links are not followed: a link at the destination is replaced by a regular file.

mod file;
mod options;

use std::io::{self, Write};
use std::path::Path;

pub use file::AtomicFile;
pub use options::AtomicOptions;

/// Writes `bytes` to `path` atomically: after it returns `Ok`, `path` holds exactly `bytes`;
/// after an error, `path` is unchanged (or, if only the final directory sync failed, already
/// replaced) and no temporary file is left behind.
///
/// The temporary file is `.NAME.<random>.tmp` beside `path`; see the crate docs for the
/// permission and durability policy.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}
