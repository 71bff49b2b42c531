//! The crate's typed error.
//!
//! Every variant that concerns a file names it, and every message is a single line, so a
//! command-line front end can print `error: {err}` and be done.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::file::MnistFile;

/// Everything that can go wrong while reading, validating, verifying or fetching MNIST.
#[derive(Debug, thiserror::Error)]
pub enum MnistError {
    /// An operating-system I/O error on a named file or directory.
    #[error("{}: I/O error: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The (decompressed) file is shorter than its IDX header requires.
    #[error("{}: truncated: expected {expected} bytes, found {actual}", path.display())]
    Truncated {
        /// The file concerned.
        path: PathBuf,
        /// Bytes the header implies (or the minimum header size).
        expected: u64,
        /// Bytes actually present after decompression.
        actual: u64,
    },

    /// The (decompressed) file is longer than its IDX header says.
    #[error("{}: {extra} unexpected trailing bytes after {expected} bytes of IDX data", path.display())]
    TrailingBytes {
        /// The file concerned.
        path: PathBuf,
        /// Bytes the header implies.
        expected: u64,
        /// Bytes found beyond that.
        extra: u64,
    },

    /// The IDX magic number is not the one for this kind of file.
    #[error("{}: bad magic number {found} (expected {expected} for an IDX {kind} file)", path.display())]
    BadMagic {
        /// The file concerned.
        path: PathBuf,
        /// The magic number required (2051 for images, 2049 for labels).
        expected: u32,
        /// The magic number found.
        found: u32,
        /// `"images"` or `"labels"`.
        kind: &'static str,
    },

    /// An image file whose images are not 28x28.
    #[error("{}: wrong image dimensions {rows}x{cols} (expected 28x28)", path.display())]
    WrongDimensions {
        /// The file concerned.
        path: PathBuf,
        /// Rows declared in the header.
        rows: u32,
        /// Columns declared in the header.
        cols: u32,
    },

    /// An image file and its label file disagree on the number of digits.
    #[error(
        "{}: count mismatch: {labels} labels but {} holds {images} images",
        labels_path.display(),
        images_path.display()
    )]
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// The label file.
        labels_path: PathBuf,
        /// Images in the image file.
        images: usize,
        /// Labels in the label file.
        labels: usize,
    },

    /// A label outside `0..=9`.
    #[error("{}: label {label} at index {index} is out of range 0..=9", path.display())]
    LabelOutOfRange {
        /// The file concerned.
        path: PathBuf,
        /// Position of the first bad label.
        index: usize,
        /// Its value.
        label: u8,
    },

    /// A file that starts like gzip but does not decompress cleanly.
    #[error("{}: bad gzip stream: {source}", path.display())]
    BadGzip {
        /// The file concerned.
        path: PathBuf,
        /// The decoder's complaint.
        #[source]
        source: io::Error,
    },

    /// Neither the `.gz` SHA-256 nor the content MD5 matches the expected value.
    #[error("{}: checksum mismatch: {detail}", path.display())]
    ChecksumMismatch {
        /// The file concerned.
        path: PathBuf,
        /// Which digests were computed and what was expected.
        detail: String,
    },

    /// Some of the four files are absent from a data directory.
    #[error(
        "{}: missing MNIST files: {}; run `cargo xtask download`, or put the four .gz files in {} or set MNIST_DIR to a directory holding them",
        dir.display(),
        ListFiles(missing),
        dir.display()
    )]
    MissingFiles {
        /// The directory searched.
        dir: PathBuf,
        /// The files not found there.
        missing: Vec<MnistFile>,
    },

    /// An HTTP transfer failed (connection, status code or interrupted body).
    #[error("{url}: {message}")]
    Http {
        /// The URL requested.
        url: String,
        /// What went wrong, on one line.
        message: String,
        /// Whether trying again may help (network trouble, 5xx) rather than not (404).
        transient: bool,
    },

    /// No source could provide a verified copy of a file.
    #[error(
        "{}: could not be fetched from any source ({}); to work offline, put the four MNIST .gz files in {} or set MNIST_DIR to a directory holding them",
        path.display(),
        ListFailures(attempts),
        dir.display()
    )]
    DownloadFailed {
        /// The destination file that could not be produced.
        path: PathBuf,
        /// The data directory, named in the advice.
        dir: PathBuf,
        /// One entry per source tried, in order.
        attempts: Vec<SourceFailure>,
    },

    /// Normalisation statistics are unusable (empty split, zero or non-finite std).
    #[error("cannot normalise: {detail}")]
    DegenerateStats {
        /// Why.
        detail: String,
    },

    /// An argument or configuration value that cannot work.
    #[error("invalid configuration: {detail}")]
    InvalidConfig {
        /// Why.
        detail: String,
    },
}

impl MnistError {
    /// Shorthand for [`MnistError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        MnistError::Io {
            path: path.into(),
            source,
        }
    }
}

/// One source that failed to provide a file, and why.
#[derive(Debug)]
pub struct SourceFailure {
    /// The source, as shown to people (a directory or a URL).
    pub source: String,
    /// The last error that source produced.
    pub error: Box<MnistError>,
}

impl fmt::Display for SourceFailure {
    /// Shows the error alone: every error a source produces already names its URL or path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)
    }
}

/// Formats a list of files as `a, b, c`.
struct ListFiles<'a>(&'a [MnistFile]);

impl fmt::Display for ListFiles<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, file) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(file.gz_name())?;
        }
        Ok(())
    }
}

/// Formats source failures as `s1: e1; s2: e2`.
struct ListFailures<'a>(&'a [SourceFailure]);

impl fmt::Display for ListFailures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no sources configured");
        }
        for (i, failure) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{failure}")?;
        }
        Ok(())
    }
}

/// The crate's result type.
pub type Result<T, E = MnistError> = std::result::Result<T, E>;
