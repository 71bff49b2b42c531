//! Moving elements without arithmetic: permute (transpose), broadcast materialisation, and
//! gathering rows by index (how batches are cut from a dataset).

mod cpu;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;

use crate::shape::{broadcast_shapes, numel};
use crate::{Result, Tensor, TensorError};

/// Layout kernels a backend provides; arguments are validated by the callers.
pub trait LayoutOps {
    /// Copies `x` so that output dimension `i` is input dimension `axes[i]`.
    fn permute(&self, x: &Tensor, axes: &[usize]) -> Result<Tensor>;
    /// Materialises `x` broadcast to `shape`.
    fn broadcast_to(&self, x: &Tensor, shape: &[usize]) -> Result<Tensor>;
    /// Rows `indices` of `x` along axis 0, in that order (indices are in range).
    fn index_select_rows(&self, x: &Tensor, indices: &[usize]) -> Result<Tensor>;
    /// The adjoint of `index_select_rows`: a `[rows, ...]` tensor of zeros with row `i` of
    /// `src` added onto row `indices[i]` (repeated indices accumulate).
    fn index_add_rows(&self, src: &Tensor, indices: &[usize], rows: usize) -> Result<Tensor>;
}

impl Tensor {
    /// Reorders dimensions: output dimension `i` is input dimension `axes[i]` (a copy).
    pub fn permute(&self, axes: &[usize]) -> Result<Tensor> {
        let mut seen = vec![false; self.rank()];
        if axes.len() != self.rank() {
            return Err(TensorError::InvalidArgument {
                op: "permute",
                reason: format!(
                    "{} axes given for a tensor of rank {}",
                    axes.len(),
                    self.rank()
                ),
            });
        }
        for &a in axes {
            if a >= self.rank() || std::mem::replace(&mut seen[a], true) {
                return Err(TensorError::InvalidArgument {
                    op: "permute",
                    reason: format!("{axes:?} is not a permutation of 0..{}", self.rank()),
                });
            }
        }
        if axes.iter().enumerate().all(|(i, &a)| i == a) {
            return Ok(self.clone());
        }
        self.backend().permute(self, axes)
    }

    /// Swaps the last two dimensions (a copy).
    pub fn transpose_last2(&self) -> Result<Tensor> {
        if self.rank() < 2 {
            return Err(TensorError::InvalidShape {
                op: "transpose_last2",
                reason: format!("needs rank >= 2, got {:?}", self.shape()),
            });
        }
        let mut axes: Vec<usize> = (0..self.rank()).collect();
        axes.swap(self.rank() - 1, self.rank() - 2);
        self.permute(&axes)
    }

    /// Materialises `self` broadcast to `shape` (NumPy rules).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        let full = broadcast_shapes("broadcast_to", self.shape(), shape)?;
        if full.as_slice() != shape {
            return Err(TensorError::ShapeMismatch {
                op: "broadcast_to",
                lhs: self.shape().to_vec(),
                rhs: shape.to_vec(),
            });
        }
        if self.shape() == shape {
            return Ok(self.clone());
        }
        if numel(self.shape()) == numel(shape) {
            return self.reshape(shape);
        }
        self.backend().broadcast_to(self, shape)
    }

    /// Gathers rows `indices` along axis 0 (a batch from a dataset).
    pub fn index_select_rows(&self, indices: &[usize]) -> Result<Tensor> {
        if self.rank() == 0 {
            return Err(TensorError::InvalidShape {
                op: "index_select_rows",
                reason: "a scalar has no rows".to_string(),
            });
        }
        let rows = self.shape()[0];
        if let Some(&bad) = indices.iter().find(|&&i| i >= rows) {
            return Err(TensorError::IndexOutOfRange {
                op: "index_select_rows",
                index: bad,
                size: rows,
            });
        }
        self.backend().index_select_rows(self, indices)
    }

    /// Scatters the rows of `self` onto a zero tensor with `rows` rows: row `i` is added onto
    /// row `indices[i]` (the gradient of [`Tensor::index_select_rows`]).
    pub fn index_add_rows(&self, indices: &[usize], rows: usize) -> Result<Tensor> {
        if self.rank() == 0 || self.shape()[0] != indices.len() {
            return Err(TensorError::InvalidShape {
                op: "index_add_rows",
                reason: format!(
                    "{} indices for a source of shape {:?}",
                    indices.len(),
                    self.shape()
                ),
            });
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= rows) {
            return Err(TensorError::IndexOutOfRange {
                op: "index_add_rows",
                index: bad,
                size: rows,
            });
        }
        self.backend().index_add_rows(self, indices, rows)
    }

    /// Rows `start..start + len` along axis 0 (a copy).
    pub fn narrow_rows(&self, start: usize, len: usize) -> Result<Tensor> {
        let rows = self.shape().first().copied().unwrap_or(0);
        match start.checked_add(len) {
            Some(end) if end <= rows => {
                let idx: Vec<usize> = (start..end).collect();
                self.index_select_rows(&idx)
            }
            _ => Err(TensorError::IndexOutOfRange {
                op: "narrow_rows",
                index: start.saturating_add(len),
                size: rows,
            }),
        }
    }
}
