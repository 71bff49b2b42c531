//! The oracles' error type.

/// Why an oracle refused its arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OracleError {
    /// A slice does not hold as many values as its shape says.
    #[error("{what}: expected {expected} values, got {got}")]
    Length {
        /// Which argument.
        what: &'static str,
        /// Length its shape implies.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// The shape itself is impossible (a kernel larger than the padded input, a zero
    /// stride, groups that do not divide the channels, ...).
    #[error("invalid shape: {0}")]
    Shape(String),
}

/// `Result` with an [`OracleError`].
pub type Result<T> = std::result::Result<T, OracleError>;
