//! Training reports as files: per-epoch metrics as JSON lines, and PNG plots of what the
//! lesson looks at: the recorder's loss and learning rate per iteration, the LR finder's
//! loss against learning rate, the per-layer activation means and stds, and per-layer
//! activation histograms over time.
//!
//! Everything here is a pure function of plain data (slices of `f64`), independent of
//! tensors and of the training loop. Every file is written atomically: the content goes to
//! a temporary file in the target's directory, which is then renamed over the target, so a
//! reader never sees a half-written file. Plots are rendered in memory with `plotters`'
//! bitmap backend and text drawn with an embedded DejaVu Sans font, so they work on a
//! headless machine with no fonts installed.
//!
//! Empty inputs, mismatched lengths and invalid histogram counts are [`ReportError`]s,
//! never panics.

mod activations;
mod canvas;
mod colormap;
mod error;
mod font;
mod histograms;
mod json_float;
mod lines;
mod metrics;
mod recorder;

pub use activations::plot_activation_stats;
pub use error::ReportError;
pub use histograms::{plot_activation_histograms, MAX_HISTOGRAM_COLUMNS};
pub use metrics::{
    read_metrics_jsonl, write_metrics_jsonl, EpochMetrics, MetricsLog, RESERVED_KEYS,
};
pub use recorder::{plot_loss_and_lr, plot_lr_finder};
