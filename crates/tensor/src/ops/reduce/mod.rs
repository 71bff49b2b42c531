//! Reductions over any set of axes (sum, mean, biased/unbiased variance, max, min), argmax,
//! and `sum_to_shape`, the adjoint of broadcasting.

mod cpu;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;

use crate::shape::{broadcast_shapes, normalize_axes, normalize_axis, reduced_shape};
use crate::{Result, Tensor, TensorError};

/// What a reduction computes over the reduced elements `x_1..x_n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    /// `sum x_i`
    Sum,
    /// `sum x_i / n`
    Mean,
    /// `max x_i` (NaN wins: a NaN anywhere gives NaN)
    Max,
    /// `min x_i` (NaN wins)
    Min,
    /// `sum (x_i - mean)^2 / (n - 1)` when `unbiased`, else `/ n`. With `n = 1` the unbiased
    /// variance is `0/0 = NaN`, as in PyTorch.
    Var { unbiased: bool },
}

/// Reduction kernels a backend provides. `axes` are valid, sorted and unique.
pub trait ReduceOps {
    /// Reduces `x` over `axes`; the result has `x`'s rank with the reduced axes set to 1.
    fn reduce(&self, op: ReduceOp, x: &Tensor, axes: &[usize]) -> Result<Tensor>;
    /// Index of the first maximum along `axis` (NaN counts as the maximum), as a float
    /// tensor of `x`'s dtype with `axis` set to size 1.
    fn argmax(&self, x: &Tensor, axis: usize) -> Result<Tensor>;
}

impl Tensor {
    /// Reduces over `axes` (negative counts from the end; empty means all axes).
    pub fn reduce(&self, op: ReduceOp, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let axes = normalize_axes("reduce", axes, self.rank())?;
        for &a in &axes {
            let empty_ok = matches!(op, ReduceOp::Sum);
            if self.shape()[a] == 0 && !empty_ok {
                return Err(TensorError::EmptyDimension {
                    op: "reduce",
                    axis: a,
                });
            }
        }
        let kept = self.backend().reduce(op, self, &axes)?;
        if keepdim {
            Ok(kept)
        } else {
            kept.reshape(&reduced_shape(self.shape(), &axes, false))
        }
    }

    /// Sum over `axes`.
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Sum, axes, keepdim)
    }
    /// Sum of every element, as a 0-dimensional tensor.
    pub fn sum_all(&self) -> Result<Tensor> {
        self.sum(&[], false)
    }
    /// Mean over `axes`.
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Mean, axes, keepdim)
    }
    /// Mean of every element, as a 0-dimensional tensor.
    pub fn mean_all(&self) -> Result<Tensor> {
        self.mean(&[], false)
    }
    /// Variance over `axes`, unbiased (`n - 1`) or biased (`n`).
    pub fn var(&self, axes: &[isize], unbiased: bool, keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Var { unbiased }, axes, keepdim)
    }
    /// Maximum over `axes`.
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Max, axes, keepdim)
    }
    /// Minimum over `axes`.
    pub fn min(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Min, axes, keepdim)
    }

    /// Index of the first maximum along `axis`.
    pub fn argmax(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        let axis = normalize_axis("argmax", axis, self.rank())?;
        if self.shape()[axis] == 0 {
            return Err(TensorError::EmptyDimension { op: "argmax", axis });
        }
        let kept = self.backend().argmax(self, axis)?;
        if keepdim {
            Ok(kept)
        } else {
            kept.reshape(&reduced_shape(self.shape(), &[axis], false))
        }
    }

    /// Sums a broadcast result back to `shape`, the shape it was broadcast from: the adjoint
    /// of broadcasting, used by the backward of every broadcasting op.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let full = broadcast_shapes("sum_to_shape", shape, self.shape())?;
        if full.as_slice() != self.shape() {
            return Err(TensorError::ShapeMismatch {
                op: "sum_to_shape",
                lhs: self.shape().to_vec(),
                rhs: shape.to_vec(),
            });
        }
        let lead = self.rank() - shape.len();
        let axes: Vec<isize> = (0..self.rank())
            .filter(|&i| i < lead || (shape[i - lead] == 1 && self.shape()[i] != 1))
            .map(|i| i as isize)
            .collect();
        if axes.is_empty() {
            return self.reshape(shape);
        }
        self.sum(&axes, true)?.reshape(shape)
    }
}
