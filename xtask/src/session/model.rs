//! The lesson's CNN with the chosen norm, initialised as the lesson does.

use std::rc::Rc;

use collective::Collective;
use layers::{get_cnn_model, init_cnn, Module, NormFactory};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::session::NormChoice;

/// The lesson's layer widths.
pub const NFS: [usize; 5] = [8, 16, 32, 64, 64];

/// `get_cnn_model(nfs, norm)` followed by `init_cnn` (Kaiming normal, a = 0.1), all drawn
/// from one generator seeded with `seed`.
pub fn build_model(norm: NormChoice, seed: u64) -> tensor::Result<Box<dyn Module>> {
    let factory = match norm.0 {
        None => NormFactory::none(),
        Some(kind) => kind.factory(),
    };
    build_model_with(&factory, seed)
}

/// [`build_model`] with BatchNorm2d, then every BatchNorm2d made a SyncBatchNorm over `comm`
/// (`norms::convert_sync_batchnorm`, as PyTorch users do): the same initialisation and state
/// dict as with BatchNorm2d.
pub fn build_sync_model(comm: Rc<dyn Collective>, seed: u64) -> tensor::Result<Box<dyn Module>> {
    let model = build_model(NormChoice(Some(norms::NormKind::Batch)), seed)?;
    Ok(norms::convert_sync_batchnorm(model, &comm)?)
}

fn build_model_with(factory: &NormFactory, seed: u64) -> tensor::Result<Box<dyn Module>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let model = get_cnn_model(&NFS, factory, &mut rng)?;
    init_cnn(&model, &mut rng)?;
    Ok(Box::new(model))
}
