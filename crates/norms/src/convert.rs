//! [`convert_sync_batchnorm`]: PyTorch's `nn.SyncBatchNorm.convert_sync_batchnorm`, a
//! tree rewrite that puts a [`SyncBatchNorm`] wherever a model has a [`BatchNorm2d`].
//!
//! The rewrite walks the tree by value: a boxed module that is a `BatchNorm2d` (found with
//! `layers::AsAny::as_any` and a downcast) becomes `SyncBatchNorm::from_batch_norm`, which
//! holds the *same* parameter and buffer handles (an optimiser built over the original
//! parameters keeps training the converted model), the same eps and momentum and the same
//! train/eval mode; a [`Sequential`] (reached with `AsAny::as_any_mut`) has its children rewritten in
//! place ([`Sequential::map_layers`], keeping its own mode and hooks), so the dotted names, and
//! with them the state dict, are unchanged. Any other module is kept as it is.
//!
//! Containers other than `Sequential` are not entered: their children are concrete fields
//! whose type cannot change (the lesson's models are `Sequential`s throughout). Forward hooks
//! registered on a converted BatchNorm2d are not carried over (nor are they in PyTorch).

use std::rc::Rc;

use collective::Collective;
use layers::{Module, ModuleExt, Sequential};

use crate::{BatchNorm2d, NormError, SyncBatchNorm};

/// `model` with every [`BatchNorm2d`] of its tree replaced by a [`SyncBatchNorm`] over
/// `comm` holding the same parameters, buffers and options (see the module documentation).
/// With `collective::SingleProcess` the converted model computes exactly what `model` did.
/// A BatchNorm2d with an option SyncBatchNorm lacks (`affine=false`,
/// `track_running_stats=false`, `momentum=None`) is [`NormError::UnsupportedOption`], and
/// nothing is converted.
pub fn convert_sync_batchnorm(
    model: Box<dyn Module>,
    comm: &Rc<dyn Collective>,
) -> Result<Box<dyn Module>, NormError> {
    // Refuse before rewriting anything, so an error never leaves a half-converted tree.
    for (_, m) in model.named_modules() {
        if let Some(bn) = m.as_any().downcast_ref::<BatchNorm2d>() {
            SyncBatchNorm::from_batch_norm(bn, comm.clone())?;
        }
    }
    Ok(convert_checked(model, comm))
}

/// The rewrite itself, on a tree whose every BatchNorm2d converts.
fn convert_checked(mut model: Box<dyn Module>, comm: &Rc<dyn Collective>) -> Box<dyn Module> {
    if let Some(bn) = model.as_any().downcast_ref::<BatchNorm2d>() {
        if let Ok(sync) = SyncBatchNorm::from_batch_norm(bn, comm.clone()) {
            return Box::new(sync);
        }
    }
    if let Some(seq) = model.as_any_mut().downcast_mut::<Sequential>() {
        seq.map_layers(|child| convert_checked(child, comm));
    }
    model
}
