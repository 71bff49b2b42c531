//! The crate's typed error. Every message is one line, so a command-line front end can
//! print `error: {err}` and exit.

use std::path::PathBuf;

use crate::report::ReportError;

/// Everything the training loop, its data and its files can refuse.
#[derive(Debug, thiserror::Error)]
pub enum LearnerError {
    /// A tensor or autograd operation failed (shapes, devices, dtypes, unavailable device).
    #[error(transparent)]
    Tensor(#[from] tensor::TensorError),

    /// A configuration value is impossible (batch size 0, negative learning rate, ...).
    #[error("invalid {what}: {reason}")]
    InvalidConfig {
        /// Which setting.
        what: &'static str,
        /// Why it is refused.
        reason: String,
    },

    /// An optimiser has no hyper-parameter of this name.
    #[error("unknown hyper-parameter `{name}` (this optimiser has: {known})")]
    UnknownHyper {
        /// The name asked for.
        name: String,
        /// The names it does have, comma-separated.
        known: String,
    },

    /// A hyper-parameter was given a value it cannot take.
    #[error("hyper-parameter `{name}` cannot be {value}: {reason}")]
    InvalidHyper {
        /// The hyper-parameter.
        name: String,
        /// The refused value.
        value: f64,
        /// Why.
        reason: &'static str,
    },

    /// Data that does not fit together (lengths, shapes, labels).
    #[error("invalid data: {0}")]
    Data(String),

    /// Loading MNIST failed.
    #[error(transparent)]
    Mnist(#[from] mnist_data::MnistError),

    /// Writing a report (plot or metrics file) failed.
    #[error(transparent)]
    Report(#[from] ReportError),

    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A collective operation of data-parallel training failed.
    #[error("collective: {0}")]
    Collective(#[from] collective::CollectiveError),

    /// A checkpoint could not be written or read back.
    #[error("checkpoint {}: {reason}", path.display())]
    Checkpoint {
        /// The checkpoint file or directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl LearnerError {
    /// An [`LearnerError::InvalidConfig`].
    pub fn config(what: &'static str, reason: impl Into<String>) -> Self {
        LearnerError::InvalidConfig {
            what,
            reason: reason.into(),
        }
    }

    /// An [`LearnerError::Io`] on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LearnerError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, LearnerError>;
