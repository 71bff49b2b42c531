//! # layers
//!
//! The [`Module`] abstraction and the lesson's layers.

pub mod hooks;
pub mod module;

pub use hooks::{HookEvent, HookHandle, HookList};
pub use module::{Module, ModuleExt, Named, TrainFlag};
