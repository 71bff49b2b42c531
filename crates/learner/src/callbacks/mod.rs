//! The callbacks the lesson uses, and a few it leads to: one file per callback.
//!
//! | callback | order | what it does |
//! |---|---|---|
//! | [`TrainEval`] | first | train/eval mode, iteration and fractional-epoch counters |
//! | [`Progress`] | -10 | progress bar on stderr (hidden when not a terminal) |
//! | [`DeviceCallback`] | 0 | model and batches on the training device |
//! | [`Recorder`] | 0 | lr and loss per training batch, their plots |
//! | [`AvgStats`] | 0 | per-epoch weighted averages of loss and metrics |
//! | [`ActivationStats`] | 0 | per-layer mean, std, histogram per training batch |
//! | [`ParamScheduler`] | 1 | a hyper-parameter from a schedule before each training batch |
//! | [`LrFinder`] | 1 | exponential lr sweep, stops when the loss explodes |
//! | [`BatchTransformX`] | 2 | replaces the input batch (the MNIST view) |
//! | [`NonFiniteGuard`] | 5 | stops at the first NaN/infinity and names the module |
//! | [`MetricsLogger`] | 10 | `metrics.jsonl` |
//! | [`CheckpointSaver`] | 20 | model and training state after each epoch |

mod activation_stats;
mod avg_stats;
mod batch_transform;
mod checkpoint;
mod device;
mod histogram;
mod lr_finder;
mod metric;
mod metrics_log;
mod nonfinite;
mod param_scheduler;
mod progress;
mod recorder;
mod train_eval;

pub use activation_stats::{ActivationStats, LayerStats};
pub use avg_stats::{AvgStats, EpochStats, PhaseStats};
pub use batch_transform::{mnist_view, view_tfm, BatchFn, BatchTransformX};
pub use checkpoint::CheckpointSaver;
pub use device::DeviceCallback;
pub use histogram::{summarize, ActSummary, HistSpec};
pub use lr_finder::{lr_find, LrFindResult, LrFinder};
pub use metric::{accuracy, Metric};
pub use metrics_log::MetricsLogger;
pub use nonfinite::{Diagnosis, GuardMode, NonFiniteGuard, NonFiniteKind};
pub use param_scheduler::ParamScheduler;
pub use progress::Progress;
pub use recorder::Recorder;
pub use train_eval::TrainEval;
