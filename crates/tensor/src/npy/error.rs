//! Typed errors of `.npy` / `.npz` reading and writing. Each renders as one line that names
//! the file (and the archive member) it is about.

use crate::TensorError;

/// Everything reading or writing a `.npy` / `.npz` file can refuse.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file could not be read or written.
    #[error("{src}: {source}")]
    Io {
        src: String,
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a well-formed `.npy` file (bad magic, header, or data length).
    #[error("{src}: not a valid .npy file: {reason}")]
    Format { src: String, reason: String },
    /// A well-formed file whose element type this reader does not decode.
    #[error("{src}: element type `{descr}` is not supported (float32/64, int8..64, uint8..64 and bool are)")]
    UnsupportedDType { src: String, descr: String },
    /// The bytes are not a readable zip archive, or a member could not be read.
    #[error("{src}: not a valid .npz archive: {reason}")]
    Archive { src: String, reason: String },
    /// The archive has no member of that name.
    #[error("{src}: no array named `{key}` (the archive holds: {available})")]
    MissingKey {
        src: String,
        key: String,
        available: String,
    },
    /// An array that cannot become a tensor as it is (tensors hold float32 or float64).
    #[error("{src}: a {dtype} array cannot become a tensor (tensors hold float32 or float64)")]
    NotFloat { src: String, dtype: &'static str },
    /// The tensor could not be read (e.g. its device is unavailable).
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

/// Result alias for `.npy` / `.npz` operations.
pub type NpyResult<T> = std::result::Result<T, NpyError>;
