//! Typed errors of state-dict loading and checkpoint files. Forward passes and
//! initialisation return [`tensor::TensorError`] (through [`tensor::Result`]); everything that
//! names tensors of a whole model or touches files returns a [`LayersError`].

use std::path::PathBuf;

use tensor::TensorError;

/// What loading a state dict or reading and writing a checkpoint can refuse.
#[derive(Debug, thiserror::Error)]
pub enum LayersError {
    /// A strict load found module tensors that the state dict lacks (all of them, in the
    /// module's order).
    #[error("missing tensors in the state dict: {}", names.join(", "))]
    MissingTensors { names: Vec<String> },

    /// A strict load found state-dict entries that the module has no slot for (all of them,
    /// in the state dict's order).
    #[error("unexpected tensors in the state dict: {}", names.join(", "))]
    UnexpectedTensors { names: Vec<String> },

    /// A state-dict tensor's shape differs from the module's tensor of the same name.
    #[error("tensor `{name}` has shape {found:?} but the module expects {expected:?}")]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },

    /// A tensor stored as an integer holds a value that is not a whole number (or is too
    /// large for an `int64`).
    #[error("tensor `{name}` is stored as int64 but holds {value}, which is not an int64")]
    NotAnInteger { name: String, value: f64 },

    /// An `int64` value in a checkpoint is beyond the 2^53 that a float holds exactly.
    #[error("tensor `{name}` holds the int64 {value}, beyond the exactly representable 2^53")]
    IntegerOutOfRange { name: String, value: i64 },

    /// A checkpoint tensor has an element type this crate does not read.
    #[error("tensor `{name}` has element type {dtype}; only F32, F64 and I64 are supported")]
    UnsupportedDType { name: String, dtype: String },

    /// A tensor name that the file format reserves.
    #[error("tensor name `{name}` is reserved by the safetensors format")]
    ReservedName { name: String },

    /// The bytes are not a valid safetensors file (truncated, bad header, bad offsets...).
    #[error("{location}: not a valid safetensors checkpoint: {reason}")]
    Corrupt { location: String, reason: String },

    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A tensor operation (conversion, device move) failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

impl LayersError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LayersError::Io {
            path: path.into(),
            source,
        }
    }
}
