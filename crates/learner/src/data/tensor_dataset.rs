//! [`TensorDataset`]: inputs `x` (one row per sample) and targets `y` (one class id per
//! sample), both tensors on one device, so batches are gathered where they are used.

use tensor::{Device, Tensor};

use crate::data::Dataset;
use crate::error::{LearnerError, Result};

/// The lesson's `Dataset(x, y)`: a length and `(x[i], y[i])`.
///
/// Both tensors live on the same device; moving a dataset to the GPU once and gathering
/// batches there is how the loaders avoid a host-to-device copy per batch.
#[derive(Clone, Debug)]
pub struct TensorDataset {
    x: Tensor,
    y: Tensor,
}

impl TensorDataset {
    /// Pairs inputs `x` (`[n, ...]`) with targets `y` (`[n]`, class ids stored as floats of
    /// `x`'s element type, which is what the loss expects).
    pub fn new(x: Tensor, y: Tensor) -> Result<Self> {
        if x.rank() == 0 {
            return Err(LearnerError::Data(
                "inputs must have one row per sample, got a scalar".into(),
            ));
        }
        if y.rank() != 1 {
            return Err(LearnerError::Data(format!(
                "targets must be a vector of class ids, got shape {:?}",
                y.shape()
            )));
        }
        if x.shape()[0] != y.shape()[0] {
            return Err(LearnerError::Data(format!(
                "{} input rows but {} targets",
                x.shape()[0],
                y.shape()[0]
            )));
        }
        x.check_compatible("TensorDataset::new", &y)?;
        Ok(TensorDataset { x, y })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.y.shape()[0]
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All inputs.
    pub fn x(&self) -> &Tensor {
        &self.x
    }

    /// All targets.
    pub fn y(&self) -> &Tensor {
        &self.y
    }

    /// Where the data lives.
    pub fn device(&self) -> Device {
        self.x.device()
    }

    /// Sample `i` as `(x[i], y[i])`, each keeping a leading dimension of 1.
    pub fn get(&self, i: usize) -> Result<(Tensor, Tensor)> {
        self.gather(&[i])
    }

    /// Rows `indices` of both tensors: one batch.
    pub fn gather(&self, indices: &[usize]) -> Result<(Tensor, Tensor)> {
        Ok((
            self.x.index_select_rows(indices)?,
            self.y.index_select_rows(indices)?,
        ))
    }

    /// A copy on `device` (a cheap clone when it is already there).
    pub fn to_device(&self, device: Device) -> Result<Self> {
        Ok(TensorDataset {
            x: self.x.to_device(device)?,
            y: self.y.to_device(device)?,
        })
    }

    /// The largest class id plus one (the lesson's `c = y.max() + 1`), read from the host.
    pub fn n_classes(&self) -> Result<usize> {
        let ys = self.y.to_vec_f64()?;
        let mut max = -1.0f64;
        for &v in &ys {
            if !(v >= 0.0 && v.fract() == 0.0) {
                return Err(LearnerError::Data(format!(
                    "class ids must be non-negative integers, found {v}"
                )));
            }
            max = max.max(v);
        }
        Ok((max + 1.0) as usize)
    }
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        TensorDataset::len(self)
    }

    fn sample_shape(&self) -> Vec<usize> {
        self.x.shape()[1..].to_vec()
    }

    fn read_sample(&self, index: usize, x: &mut [f32]) -> Result<usize> {
        let (xi, yi) = self.gather(&[index])?;
        x.copy_from_slice(&xi.to_vec_f32()?);
        let class = yi.to_scalar()?;
        if !(class >= 0.0 && class.fract() == 0.0) {
            return Err(LearnerError::Data(format!(
                "sample {index}: class id {class} is not a non-negative integer"
            )));
        }
        Ok(class as usize)
    }

    fn device(&self) -> Device {
        TensorDataset::device(self)
    }

    /// Rows of both tensors, gathered on their device (one kernel each, no per-sample
    /// work on the host).
    fn gather(&self, indices: &[usize]) -> Result<(Tensor, Tensor)> {
        TensorDataset::gather(self, indices)
    }

    fn as_tensor_dataset(&self) -> Option<&TensorDataset> {
        Some(self)
    }
}
