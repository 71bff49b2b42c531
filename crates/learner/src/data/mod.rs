//! Data: the [`Dataset`] trait (any type with a length and an index -> sample read),
//! [`TensorDataset`] (input rows and class ids held as tensors on the training device),
//! datasets made from `ndarray` arrays or `.npz` files ([`arrays`]), [`Sampler`]s
//! (sequential, seeded random, explicit order, distributed share), and [`DataLoader`]s that
//! cut batches in a sampler's order (last partial batch kept, optional prefetch thread),
//! and a [`DataBunch`] pairing the training and validation loaders.

pub mod arrays;
mod bunch;
mod dataset;
mod loader;
mod mnist;
mod sampler;
mod tensor_dataset;

pub use bunch::{get_dls, DataBunch};
pub use dataset::{gather_samples, Dataset};
pub use loader::{Batches, DataLoader};
pub use mnist::{mnist_bunch, mnist_dataset};
pub use sampler::{
    epoch_permutation, DistributedSampler, ExplicitSampler, RandomSampler, Sampler,
    SequentialSampler,
};
pub use tensor_dataset::TensorDataset;
