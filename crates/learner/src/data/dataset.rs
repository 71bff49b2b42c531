//! The [`Dataset`] trait: anything with a length and a way to read sample `i` (its input
//! elements and its class id). Batches are gathered by [`Dataset::gather`]: by default one
//! buffer per batch filled sample by sample (no per-sample allocation); tensor-backed
//! datasets override it to gather rows where the tensors live.

use std::fmt;

use tensor::{Device, Tensor};

use crate::data::TensorDataset;
use crate::error::{LearnerError, Result};

/// A classification dataset: `len()` samples, sample `i` = (input of
/// [`Dataset::sample_shape`], class id).
///
/// Implement `len`, `sample_shape` and `read_sample` for any type; the loader does the
/// rest.
pub trait Dataset: Send + Sync + fmt::Debug {
    /// Number of samples.
    fn len(&self) -> usize;

    /// True when there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shape of one sample's input (e.g. `[784]` or `[1, 28, 28]`).
    fn sample_shape(&self) -> Vec<usize>;

    /// Writes sample `index`'s input into `x` (row-major, `sample_shape`'s product of
    /// elements) and returns its class id. `index < len()` is checked by the caller.
    fn read_sample(&self, index: usize, x: &mut [f32]) -> Result<usize>;

    /// Where gathered batches live (the CPU unless the dataset says otherwise).
    fn device(&self) -> Device {
        Device::Cpu
    }

    /// The batch of samples `indices`: inputs `[indices.len(), sample_shape...]` and
    /// targets `[indices.len()]` (class ids as `f32`, what the loss expects).
    fn gather(&self, indices: &[usize]) -> Result<(Tensor, Tensor)> {
        gather_samples(self, indices)
    }

    /// The tensors behind a [`TensorDataset`] (`None` for other datasets).
    fn as_tensor_dataset(&self) -> Option<&TensorDataset> {
        None
    }
}

/// The default [`Dataset::gather`]: one input buffer and one target buffer for the whole
/// batch, each sample read into its slot.
pub fn gather_samples<D: Dataset + ?Sized>(ds: &D, indices: &[usize]) -> Result<(Tensor, Tensor)> {
    let sample = ds.sample_shape();
    let per: usize = sample.iter().product();
    let n = indices.len();
    let total = n.checked_mul(per).ok_or_else(|| {
        LearnerError::Data(format!("a batch of {n} samples of {sample:?} overflows"))
    })?;
    let mut x = vec![0f32; total];
    let mut y = Vec::with_capacity(n);
    for (k, &i) in indices.iter().enumerate() {
        if i >= ds.len() {
            return Err(LearnerError::Data(format!(
                "sample index {i} is out of range for a dataset of {} samples",
                ds.len()
            )));
        }
        let class = ds.read_sample(i, &mut x[k * per..(k + 1) * per])?;
        y.push(class as f32);
    }
    let mut shape = vec![n];
    shape.extend(&sample);
    let xb = Tensor::from_vec(x, &shape, Device::Cpu)?.to_device(ds.device())?;
    let yb = Tensor::from_vec(y, &[n], Device::Cpu)?.to_device(ds.device())?;
    Ok((xb, yb))
}
