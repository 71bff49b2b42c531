//! # layers
//!
//! The [`Module`] abstraction and the lesson's layers: [`Conv2d`], [`Linear`],
//! [`GeneralRelu`], [`AdaptiveAvgPool2d`], [`Flatten`], [`Sequential`], [`Lambda`]; the
//! lesson's CNN ([`get_cnn_model`], [`conv_layer`], with the norm layer from a
//! [`NormFactory`]); initialisation ([`init`], [`init_cnn`]); state dicts with PyTorch's
//! names ([`state_dict`], [`load_state_dict`]); and safetensors checkpoints that PyTorch
//! reads and writes ([`save_safetensors`], [`load_safetensors`]).
//!
//! | file | concept |
//! |---|---|
//! | `module.rs` | the `Module` trait, tree walks, device and dtype moves |
//! | `hooks.rs` | removable forward hooks |
//! | `conv.rs`, `linear.rs`, `activation.rs`, `pool.rs`, `flatten.rs` | layers |
//! | `sequential.rs`, `lambda.rs` | containers and function modules |
//! | `init.rs` | Kaiming and PyTorch-default initialisation, `init_cnn` |
//! | `model.rs` | `NormFactory`, `conv_layer`, `get_cnn_model` |
//! | `state.rs` | `StateDict`, `state_dict`, `load_state_dict` |
//! | `checkpoint.rs`, `atomic.rs` | safetensors files, atomic writes |
//! | `error.rs` | `LayersError` |

mod activation;
mod atomic;
mod checkpoint;
mod conv;
mod error;
mod flatten;
pub mod hooks;
pub mod init;
mod lambda;
mod linear;
mod model;
mod npz_state;
pub mod module;
mod pool;
mod sequential;
mod state;

pub use activation::GeneralRelu;
pub use checkpoint::{
    from_safetensors_bytes, load_safetensors, save_safetensors, to_safetensors_bytes,
};
pub use conv::Conv2d;
pub use error::LayersError;
pub use flatten::Flatten;
pub use hooks::{HookEvent, HookHandle, HookList};
pub use init::{init_cnn, init_cnn_with, Kaiming};
pub use lambda::{Lambda, LambdaFn};
pub use linear::Linear;
pub use npz_state::{load_npz, save_npz};
pub use model::{cnn_model, conv_layer, get_cnn_model, NormFactory, NormFn};
pub use module::{Module, ModuleExt, Named, TrainFlag};
pub use pool::{adaptive_bin, AdaptiveAvgPool2d};
pub use sequential::Sequential;
pub use state::{load_state_dict, state_dict, Encoding, LoadReport, StateDict, StateEntry};
