//! # norms
//!
//! The normalisation layers of fast.ai's lesson "07_batchnorm", each a [`layers::Module`]
//! whose forward pass is one fused autograd node (a `tensor` norm kernel with its
//! hand-derived backward pass, see [`fused`]):
//!
//! | layer | statistics over | variance | gradient through statistics | affine |
//! |---|---|---|---|---|
//! | [`BatchNorm`] (lesson) | `(N, H, W)` per channel | unbiased | no | `mults`/`adds` `[1,C,1,1]` |
//! | [`BatchNorm2d`] (PyTorch) | `(N, H, W)` per channel | biased (running: unbiased) | yes | `weight`/`bias` `[C]` |
//! | [`LayerNorm`] (lesson) | `(C, H, W)` per sample | unbiased | yes | `mult`/`add` `[1]` |
//! | [`InstanceNorm`] (lesson) | `(H, W)` per sample, channel | unbiased | yes | `mults`/`adds` `[1,C,1,1]` |
//! | [`GroupNorm`] (PyTorch) | `(C/G, H, W)` per sample, group | biased | yes | `weight`/`bias` `[C]` |
//! | [`RunningBatchNorm`] (fastai) | running sums per channel | running | this batch's share | `mults`/`adds` `[1,C,1,1]` |
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
//! | `running/` | [`RunningBatchNorm`], its statistics, version 2's [`InferenceFactors`] |
//! | `kind.rs` | [`NormKind`] |
//! | `reference/` | reference implementations |

mod batch2d;
mod batch_lesson;
mod config;
mod error;
pub mod fused;
mod group;
mod instance;
mod kind;
mod layer;
mod options;
pub mod renorm_fused;
mod torch_core;
pub mod reference;
pub mod running;

pub use batch2d::BatchNorm2d;
pub use batch_lesson::BatchNorm;
pub use config::NormConfig;
pub use error::NormError;
pub use group::GroupNorm;
pub use instance::InstanceNorm;
pub use kind::NormKind;
pub use layer::LayerNorm;
pub use options::BatchNormOptions;
pub use running::{InferenceFactors, RunningBatchNorm};

// What a user of `norms` alone needs to run a layer: the graph value type, the module
// traits and the tensor type (which converts from and to `ndarray` arrays without copying).
pub use autograd::Var;
pub use layers::{Module, ModuleExt};
pub use tensor::{Device, Tensor};
