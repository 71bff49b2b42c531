//! [`Flatten`]: merges every axis after the batch axis, `[N, d1, d2, ...] -> [N, d1 d2 ...]`
//! (the lesson's `Lambda(flatten)` after the pool turns `[N, C, 1, 1]` into `[N, C]`). A pure
//! reshape: the gradient is reshaped back.

use autograd::Var;
use tensor::{Result, TensorError};

use crate::{Forward, Module, ModuleCore};

/// Flattens all axes from 1 on (PyTorch's `nn.Flatten()`).
#[derive(Debug, Default, Module)]
pub struct Flatten {
    core: ModuleCore,
}

impl Flatten {
    /// A flatten from axis 1.
    pub fn new() -> Self {
        Flatten::default()
    }
}

impl Forward for Flatten {
    /// `x: [N, ...]` (rank at least 1) -> `[N, prod(...)]`.
    fn forward(&self, x: &Var) -> Result<Var> {
        if x.shape().is_empty() {
            return Err(TensorError::InvalidShape {
                op: "Flatten",
                reason: "a scalar has no batch axis to keep".to_string(),
            });
        }
        x.flatten_from(1)
    }
}
