//! # learner
//!
//! The fast.ai lesson's training loop in Rust.
//!
//! * [`data`]: the [`Dataset`] trait, [`TensorDataset`] (tensors on the training device), samplers, [`DataLoader`] (seeded
//!   shuffle per epoch, last partial batch kept, batches gathered with
//!   `index_select_rows`), [`DataBunch`], and MNIST helpers.
//! * [`Learner`] (model, optimiser, loss, data) and [`Runner`] (callbacks in `order`, the
//!   lesson's exact event order, cancel signals as returned [`Flow`] values).
//! * [`Sgd`]: `p -= lr * grad`, optional momentum and weight decay.
//! * [`callbacks`]: train/eval, recorder, averaged statistics, parameter scheduler, batch
//!   transform, device placement, LR finder, activation statistics, progress bar,
//!   non-finite guard, metrics log, checkpoints.
//! * [`checkpoint`]: saving and resuming a run (model state dict as safetensors plus a
//!   small JSON of the training state), written atomically.
//! * [`report`]: PNG plots and `metrics.jsonl`.
//!
//! ```
//! use learner::callbacks::{accuracy, mnist_view, AvgStats, BatchTransformX, Recorder};
//! use learner::{data::mnist_bunch, Learner, Runner};
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let norm = norms::NormKind::Batch.factory();
//! let model = layers::get_cnn_model(&[8, 16, 32, 64, 64], &norm, &mut rng)?;
//! layers::init_cnn(&model, &mut rng)?;
//! let mut splits = mnist_data::MnistSplits::load(&mnist_data::DataSource::Sample)?;
//! splits.normalize()?;
//! let data = mnist_bunch(&splits, 512, 0, tensor::Device::Cpu)?;
//! let mut learn = Learner::new(Box::new(model), data, 0.4)?;
//! let mut run = Runner::with_callbacks(vec![
//!     Box::new(Recorder::new()),
//!     Box::new(AvgStats::new(vec![accuracy()]).printing(true)),
//!     Box::new(BatchTransformX::new(mnist_view())),
//! ]);
//! run.fit(1, &mut learn)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod callbacks;
pub mod checkpoint;
pub mod data;
mod error;
mod learner;
pub mod optim;
pub mod report;
pub mod runner;

pub use data::{DataBunch, DataLoader, Dataset, Sampler, TensorDataset};
pub use error::{LearnerError, Result};
pub use learner::{cross_entropy_loss, Learner, LossFn};
pub use optim::Sgd;
pub use runner::{Callback, CbResult, Ctx, Event, FitOutcome, Flow, RunState, Runner};
