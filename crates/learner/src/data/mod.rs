//! Data as the lesson uses it: a [`Dataset`] of input rows and class ids held as tensors
//! (on the training device), [`DataLoader`]s that cut batches from it with
//! `index_select_rows` (shuffled per epoch with a seed, last partial batch kept), and a
//! [`DataBunch`] pairing the training and validation loaders.

mod bunch;
mod dataset;
mod loader;
mod mnist;

pub use bunch::{get_dls, DataBunch};
pub use dataset::Dataset;
pub use loader::{epoch_permutation, Batches, DataLoader};
pub use mnist::{mnist_bunch, mnist_dataset};
