//! # norms
//!
//! The normalisation layers of fast.ai's lesson "07_batchnorm", each a [`layers::Module`]
//! whose forward pass is one fused autograd node (a `tensor` norm kernel with its
//! hand-derived backward pass, see [`fused`]):
//!
//! | layer | statistics over | variance | gradient through statistics | affine |
//! |---|---|---|---|---|
//! | [`BatchNorm`] (lesson) | `(N, H, W)` per channel | unbiased | no | `mults`/`adds` `[C,1,1]` |
//! | [`BatchNorm2d`] (PyTorch) | `(N, H, W)` per channel | biased (running: unbiased) | yes | `weight`/`bias` `[C]` |
//! | [`LayerNorm`] (lesson) | `(C, H, W)` per sample | unbiased | yes | `mult`/`add` 0-d |
//! | [`InstanceNorm`] (lesson) | `(H, W)` per sample, channel | unbiased | yes | `mults`/`adds` `[C,1,1]` |
//! | [`GroupNorm`] (PyTorch) | `(C/G, H, W)` per sample, group | biased | yes | `weight`/`bias` `[C]` |
//! | [`RunningBatchNorm`] (fastai) | running sums per channel | running | this batch's share | `mults`/`adds` `[C,1,1]` |
//! | [`SyncBatchNorm`] (PyTorch) | `(N, H, W)` per channel over every rank | biased (running: unbiased) | yes | `weight`/`bias` `[C]` |
//! | [`BatchNorm1d`] (PyTorch) | `(N, L)` per channel | biased (running: unbiased) | yes | optional `weight`/`bias` `[C]` |
//! | [`TorchLayerNorm`] (PyTorch `LayerNorm`) | the last dims (`normalized_shape`) | biased | yes | optional per-element `weight`/`bias` |
//! | [`InstanceNorm2d`] (PyTorch) | `(H, W)` per sample, channel | biased | yes | optional `weight`/`bias` `[C]` |
//! | [`BatchRenorm`] (Ioffe 2017) | `(N, H, W)` per channel, corrected by `r`, `d` | biased | through `mu`, `sigma` (`r`, `d` constant) | `weight`/`bias` `[C]` |
//!
//! The PyTorch-style batch and instance norms take [`BatchNormOptions`] (`eps`, `momentum`
//! or `None` for the cumulative average, `affine`, `track_running_stats`), [`GroupNorm`]
//! an `affine` flag; parameter and buffer names and shapes are PyTorch's, and the lesson's
//! own classes use the seed's (`mults`/`adds` `[C,1,1]`, LayerNorm's 0-d `mult`/`add`), so
//! state dicts move between the two in both directions.
//!
//! Every norm computes `(x - mean) / sqrt(var + eps) * scale + shift`. Inputs are NCHW, or
//! any `[N, C, ...]` (spatial dimensions flattened). Layers are created in `f32` on the CPU
//! (`layers::ModuleExt::to_dtype` / `to_device` move them); constructors validate their
//! settings ([`NormError`]), forward passes the input's channel count.
//!
//! [`reference`](mod@reference) holds the same layers composed from primitive autograd
//! ops, written like the lesson's Python, against which the fused layers are tested.
//! [`NormKind`] names the layers for command lines and builds `layers::NormFactory`s.
//!
//! | file | concept |
//! |---|---|
//! | `error.rs`, `config.rs` | [`NormError`], [`NormConfig`] and shared checks |
//! | `fused.rs` | the fused op as an autograd node |
//! | `batch_lesson.rs`, `batch2d.rs`, `layer.rs`, `instance.rs`, `group.rs` | layers |
//! | `options.rs`, `torch_core.rs` | [`BatchNormOptions`] and the shared PyTorch batch/instance forward |
//! | `batch1d.rs`, `torch_layer.rs`, `instance2d.rs` | the other PyTorch layers |
//! | `batch_renorm.rs`, `renorm_fused.rs` | [`BatchRenorm`] and its fused step (with the derivation) |
//! | `running/` | [`RunningBatchNorm`], its statistics, version 2's [`InferenceFactors`] |
//! | `kind.rs` | [`NormKind`] |
//! | `sync_batch.rs` | [`SyncBatchNorm`] over a `collective::Collective` |
//! | `convert.rs` | [`convert_sync_batchnorm`]: BatchNorm2d to SyncBatchNorm in a model tree |
//! | `reference/` | reference implementations |

mod batch1d;
mod batch2d;
mod batch_lesson;
mod batch_renorm;
mod config;
mod convert;
mod error;
pub mod fused;
mod group;
mod instance;
mod instance2d;
mod kind;
mod layer;
mod options;
pub mod reference;
pub mod renorm_fused;
pub mod running;
mod sync_batch;
mod torch_core;
mod torch_layer;

pub use batch1d::BatchNorm1d;
pub use batch2d::BatchNorm2d;
pub use batch_lesson::BatchNorm;
pub use batch_renorm::BatchRenorm;
pub use config::NormConfig;
pub use convert::convert_sync_batchnorm;
pub use error::NormError;
pub use group::GroupNorm;
pub use instance::InstanceNorm;
pub use instance2d::InstanceNorm2d;
pub use kind::NormKind;
pub use layer::LayerNorm;
pub use options::BatchNormOptions;
pub use running::{InferenceFactors, RunningBatchNorm};
pub use sync_batch::{SharedCollective, SyncBatchNorm};
pub use torch_layer::TorchLayerNorm;

// What a user of `norms` alone needs to run a layer: the graph value type, the module
// traits and the tensor type (which converts from and to `ndarray` arrays without copying).
pub use autograd::Var;
pub use layers::{Module, ModuleExt};
pub use tensor::{Device, Tensor};
