//! [`InferenceFactors`]: version 2 of the course's RunningBatchNorm, which folds the
//! statistics and the affine into one multiply-add per channel:
//! `factor = mults / sqrt(var + eps)`, `offset = adds - mean factor`,
//! `y = x factor + offset` (= `(x - mean)/sqrt(var + eps) mults + adds`).

use tensor::{Result, Tensor, TensorError};

/// Per-channel `factor` and `offset`, `[1, C, 1, 1]`.
#[derive(Clone, Debug)]
pub struct InferenceFactors {
    pub factor: Tensor,
    pub offset: Tensor,
}

impl InferenceFactors {
    /// Folds `mults`, `adds` and the statistics `mean`, `invstd = 1/sqrt(var + eps)` (all
    /// with one value per channel, broadcast-compatible shapes).
    pub fn new(mults: &Tensor, adds: &Tensor, mean: &Tensor, invstd: &Tensor) -> Result<Self> {
        let factor = mults.mul(invstd)?;
        let offset = adds.sub(&mean.mul(&factor)?)?;
        Ok(InferenceFactors { factor, offset })
    }

    /// `x factor + offset` for `x` of shape `[N, C, ...]`.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let c = self.factor.numel();
        if x.rank() < 2 || x.shape()[1] != c {
            return Err(TensorError::InvalidShape {
                op: "InferenceFactors::apply",
                reason: format!("expected [N, {c}, ...], got {:?}", x.shape()),
            });
        }
        let mut shape = vec![1; x.rank()];
        shape[1] = c;
        x.mul(&self.factor.reshape(&shape)?)?
            .add(&self.offset.reshape(&shape)?)
    }
}
