//! Seeded random tensors (normal and uniform), drawn on the host with `ndarray-rand` and
//! copied to the target device, so a seed gives the same numbers on every device.

use ndarray::Array;
use ndarray_rand::rand_distr::{Normal, Uniform};
use ndarray_rand::RandomExt;
use rand::Rng;

use crate::{DType, Device, Result, Tensor, TensorError};

impl Tensor {
    /// Samples of `N(mean, std^2)`, drawn in `f64` and rounded to `dtype`.
    pub fn randn<R: Rng + ?Sized>(
        shape: &[usize],
        mean: f64,
        std: f64,
        dtype: DType,
        device: Device,
        rng: &mut R,
    ) -> Result<Tensor> {
        if !mean.is_finite() || !std.is_finite() || std < 0.0 {
            return Err(TensorError::InvalidArgument {
                op: "randn",
                reason: format!(
                    "needs a finite mean and a finite std >= 0, got N({mean}, {std}^2)"
                ),
            });
        }
        let dist = Normal::new(mean, std).map_err(|e| TensorError::InvalidArgument {
            op: "randn",
            reason: format!("N({mean}, {std}^2): {e}"),
        })?;
        let a = Array::random_using(crate::shape::checked_numel("randn", shape)?, dist, rng);
        Self::from_f64_vec(a.into_raw_vec_and_offset().0, shape, dtype, device)
    }

    /// Samples of `U[low, high)`, drawn in `f64` and rounded to `dtype`.
    pub fn rand_uniform<R: Rng + ?Sized>(
        shape: &[usize],
        low: f64,
        high: f64,
        dtype: DType,
        device: Device,
        rng: &mut R,
    ) -> Result<Tensor> {
        if !low.is_finite() || !high.is_finite() || low >= high {
            return Err(TensorError::InvalidArgument {
                op: "rand_uniform",
                reason: format!("needs finite low < high, got [{low}, {high})"),
            });
        }
        let a = Array::random_using(
            crate::shape::checked_numel("rand_uniform", shape)?,
            Uniform::new(low, high),
            rng,
        );
        Self::from_f64_vec(a.into_raw_vec_and_offset().0, shape, dtype, device)
    }

    /// A tensor from `f64` host data converted to `dtype`.
    pub fn from_f64_vec(
        data: Vec<f64>,
        shape: &[usize],
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        match dtype {
            DType::F64 => Tensor::from_vec(data, shape, device),
            DType::F32 => {
                Tensor::from_vec(data.into_iter().map(|v| v as f32).collect(), shape, device)
            }
        }
    }
}
