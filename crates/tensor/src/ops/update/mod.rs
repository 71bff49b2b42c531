//! In-place updates for optimisers and running statistics: `y = a*x + b*y`, from which
//! `add_scaled_` (SGD: `p -= lr * g`), `lerp_` (running stats) and `scale_` are built.

mod cpu;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;

use crate::storage::Storage;
use crate::{Result, Tensor};

/// In-place kernels a backend provides; arguments are validated by the callers.
pub trait UpdateOps {
    /// `y = a * x + b * y`, elementwise over equal-length storages. A zero coefficient drops
    /// its term (so NaN or infinity in the dropped operand does not leak through `0 * x`).
    fn axpby(&self, y: &mut Storage, x: &Storage, a: f64, b: f64) -> Result<()>;
    /// `y = factor * y`.
    fn scale(&self, y: &mut Storage, factor: f64) -> Result<()>;
    /// `y = value` everywhere.
    fn fill(&self, y: &mut Storage, value: f64) -> Result<()>;
}

impl Tensor {
    /// `self = a * x + b * self` in place (copy-on-write if the storage is shared).
    pub fn axpby_(&mut self, x: &Tensor, a: f64, b: f64) -> Result<()> {
        self.check_same_shape("axpby_", x)?;
        let backend = self.backend();
        backend.axpby(self.storage_mut(), x.storage(), a, b)
    }

    /// `self += alpha * x` (an SGD step is `p.add_scaled_(g, -lr)`).
    pub fn add_scaled_(&mut self, x: &Tensor, alpha: f64) -> Result<()> {
        self.axpby_(x, alpha, 1.0)
    }

    /// `self = self + weight * (end - self)`, i.e. PyTorch's `lerp_(end, weight)`.
    pub fn lerp_(&mut self, end: &Tensor, weight: f64) -> Result<()> {
        self.axpby_(end, weight, 1.0 - weight)
    }

    /// `self *= factor`.
    pub fn scale_(&mut self, factor: f64) -> Result<()> {
        let backend = self.backend();
        backend.scale(self.storage_mut(), factor)
    }

    /// Overwrites every element with `value`.
    pub fn fill_(&mut self, value: f64) -> Result<()> {
        let backend = self.backend();
        backend.fill(self.storage_mut(), value)
    }

    /// Overwrites the elements with those of `src` (same shape, dtype and device).
    pub fn copy_from_(&mut self, src: &Tensor) -> Result<()> {
        self.axpby_(src, 1.0, 0.0)
    }
}
