//! Fused normalisation kernels (statistics, normalise, affine, and their backward passes),
//! used by the `norms` crate's layers.

mod cpu;

/// Normalisation kernels a backend provides.
pub trait NormOps {}
