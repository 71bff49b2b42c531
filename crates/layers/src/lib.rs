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
//! | `module.rs` | the `Module` trait, `AsAny`, tree walks, device and dtype moves |
//! | `forward.rs`, `module_core.rs`, `fields.rs` | what `#[derive(Module)]` builds on: `Forward`, `ModuleCore`, the accepted field types |
//! | `hooks.rs` | removable forward hooks |
//! | `conv.rs`, `linear.rs`, `activation.rs`, `pool.rs`, `flatten.rs` | layers |
//! | `sequential.rs`, `lambda.rs` | containers and function modules |
//! | `init.rs` | Kaiming and PyTorch-default initialisation, `init_cnn` |
//! | `model.rs` | `NormFactory`, `conv_layer`, `get_cnn_model` |
//! | `state.rs` | `StateDict`, `state_dict`, `load_state_dict` |
//! | `checkpoint.rs` | safetensors files (written atomically by the `atomic-file` crate) |
//! | `error.rs` | `LayersError` |

// The derive's generated code names `::layers::...`, here as in every other crate.
extern crate self as layers;

mod activation;
mod checkpoint;
mod conv;
mod error;
mod fields;
mod flatten;
mod forward;
pub mod hooks;
pub mod init;
mod lambda;
mod linear;
mod model;
pub mod module;
mod module_core;
mod npz_state;
mod pool;
mod sequential;
mod state;

pub use activation::GeneralRelu;
pub use checkpoint::{
    from_safetensors_bytes, load_safetensors, save_safetensors, to_safetensors_bytes,
};
pub use conv::Conv2d;
pub use error::LayersError;
pub use fields::{ChildField, TensorField};
pub use flatten::Flatten;
pub use forward::Forward;
pub use hooks::{HookEvent, HookHandle, HookList};
pub use init::{init_cnn, init_cnn_with, Kaiming};
pub use lambda::{Lambda, LambdaFn};
/// `#[derive(Module)]`: see the [`layers_derive`] crate for the attributes.
pub use layers_derive::Module;
pub use linear::Linear;
pub use model::{cnn_model, conv_layer, get_cnn_model, NormFactory, NormFn};
pub use module::{AsAny, Module, ModuleExt, Named, TrainFlag};
pub use module_core::ModuleCore;
pub use npz_state::{load_npz, save_npz};
pub use pool::{adaptive_bin, AdaptiveAvgPool2d};
pub use sequential::Sequential;
pub use state::{load_state_dict, state_dict, Encoding, LoadReport, StateDict, StateEntry};

/// What `#[derive(Module)]`'s generated code names; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::fields::{ChildField, TensorField};
    pub use autograd::Var;
    pub use tensor::Result;
}
