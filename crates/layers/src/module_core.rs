//! [`ModuleCore`]: the per-module state every module has and no module writes by hand, the
//! train/eval flag and the forward hooks. `#[derive(Module)]` finds the field of this type
//! and answers [`Module::train_flag`](crate::Module::train_flag) and
//! [`Module::hooks`](crate::Module::hooks) from it.

use crate::hooks::HookList;
use crate::module::TrainFlag;

/// The train/eval flag (training at first, as in PyTorch) and the forward hooks of one
/// module. Give a derived module one field of this type, set to `ModuleCore::default()`.
#[derive(Debug, Default)]
pub struct ModuleCore {
    flag: TrainFlag,
    hooks: HookList,
}

impl ModuleCore {
    /// A core in training mode without hooks (the same as `default()`).
    pub fn new() -> Self {
        ModuleCore::default()
    }

    /// The train/eval flag.
    pub fn train_flag(&self) -> &TrainFlag {
        &self.flag
    }

    /// The forward hooks.
    pub fn hooks(&self) -> &HookList {
        &self.hooks
    }
}
