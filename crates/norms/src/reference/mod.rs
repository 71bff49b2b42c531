//! Reference implementations: every norm's forward pass composed from primitive autograd
//! ops (`mean`, `var`, `sum`, `sub`, `div`, `sqrt`, `clamp`, ...), written like the lesson's
//! Python, with `no_grad` where the lesson detaches. They read (and in training update)
//! the parameters and buffers of a layer of the matching type, so a test can run a fused
//! layer and a reference on two identically initialised layers and compare outputs,
//! gradients and buffers. Autograd differentiates them, independently of the hand-derived
//! backward passes of the fused kernels.
//!
//! Inputs `[N, C, spatial...]` are viewed as `[N, C, S]` (the spatial dimensions
//! flattened), so the lesson's reductions over `(0, 2, 3)` become reductions over `(0, 2)`.

mod batch2d;
mod batch_lesson;
mod batch_renorm;
mod group;
mod instance;
mod layer;
mod running;

pub use batch2d::batch_norm_2d;
pub use batch_lesson::batch_norm;
pub use batch_renorm::batch_renorm;
pub use group::group_norm;
pub use instance::instance_norm;
pub use layer::layer_norm;
pub use running::{running_batch_norm, running_batch_norm_v2};

use autograd::Var;
use tensor::{Result, TensorError};

/// `x` viewed as `[N, C, S]`, and its original shape.
pub(crate) fn as_ncs(x: &Var) -> Result<(Var, Vec<usize>)> {
    let shape = x.shape();
    if shape.len() < 2 {
        return Err(TensorError::InvalidShape {
            op: "reference norm",
            reason: format!("expected [N, C, ...], got {shape:?}"),
        });
    }
    let s = shape[2..].iter().product();
    Ok((x.reshape(&[shape[0], shape[1], s])?, shape))
}

/// A per-channel parameter or buffer (any shape with `C` values) viewed as `[1, C, 1]`.
pub(crate) fn per_channel(v: &Var) -> Result<Var> {
    let c = v.value_ref().numel();
    v.reshape(&[1, c, 1])
}
