//! The one error type of the report module.

use std::io;
use std::path::PathBuf;

use plotters::drawing::DrawingAreaErrorKind;
use thiserror::Error;

/// Why a metrics file or a plot could not be written or read.
#[derive(Debug, Error)]
pub enum ReportError {
    /// The input held nothing to write or plot.
    #[error("empty input: no {what}")]
    Empty {
        /// What was missing, e.g. `"losses"`.
        what: &'static str,
    },
    /// One layer's series held nothing to plot.
    #[error("empty input: layer {layer} has no {what}")]
    EmptyLayer {
        /// What was missing.
        what: &'static str,
        /// The layer index.
        layer: usize,
    },
    /// Two inputs that must line up have different lengths.
    #[error("{left} has {left_len} entries but {right} has {right_len}")]
    LengthMismatch {
        /// Name of the first input.
        left: &'static str,
        /// Its length.
        left_len: usize,
        /// Name of the second input.
        right: &'static str,
        /// Its length.
        right_len: usize,
    },
    /// A layer's means and stds have different lengths.
    #[error("layer {layer} has {means} means but {stds} stds")]
    LayerLengthMismatch {
        /// The layer index.
        layer: usize,
        /// Number of means.
        means: usize,
        /// Number of stds.
        stds: usize,
    },
    /// A histogram has a different number of bins than the first one of its layer.
    #[error(
        "layer {layer}, iteration {iteration}: histogram has {found} bins, expected {expected}"
    )]
    RaggedHistogram {
        /// The layer index.
        layer: usize,
        /// The iteration index.
        iteration: usize,
        /// Bins of the first histogram of the layer.
        expected: usize,
        /// Bins found here.
        found: usize,
    },
    /// A histogram count was negative or not finite.
    #[error("layer {layer}, iteration {iteration}, bin {bin}: count {value} is not a finite non-negative number")]
    InvalidCount {
        /// The layer index.
        layer: usize,
        /// The iteration index.
        iteration: usize,
        /// The bin index.
        bin: usize,
        /// The offending count.
        value: f64,
    },
    /// An extra metric would overwrite one of the fixed fields of a JSON line.
    #[error("extra metric `{0}` clashes with a built-in field")]
    ReservedExtra(String),
    /// Reading, writing or renaming a file failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A metrics line could not be serialised or parsed.
    #[error("JSON error in {} line {line}: {source}", path.display())]
    Json {
        /// The file concerned.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A metrics record could not be encoded as JSON.
    #[error("could not encode metrics as JSON: {0}")]
    Encode(#[source] serde_json::Error),
    /// The embedded font could not be registered with the plotting library.
    #[error("the embedded DejaVu Sans font could not be loaded")]
    Font,
    /// The plotting library failed while drawing.
    #[error("drawing failed: {0}")]
    Draw(String),
    /// The rendered image could not be encoded as PNG.
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
}

impl ReportError {
    /// An [`ReportError::Io`] on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        ReportError::Io {
            path: path.into(),
            source,
        }
    }
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ReportError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        ReportError::Draw(e.to_string())
    }
}
