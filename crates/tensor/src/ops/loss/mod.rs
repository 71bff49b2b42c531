//! Row-wise log-softmax and the fused log-softmax + cross-entropy loss with its gradient.
//!
//! For logits `z[n, :]` and class ids `t[n]`:
//! `loss = (1/N) sum_n (logsumexp(z[n,:]) - z[n, t[n]])`,
//! `d loss / d z[n,c] = (softmax(z[n,:])[c] - [c == t[n]]) / N`.

mod cpu;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;

use crate::{Result, Tensor, TensorError};

/// Loss kernels a backend provides; arguments are validated by the callers.
pub trait LossOps {
    /// `log_softmax` over the last axis of a 2-D tensor.
    fn log_softmax(&self, x: &Tensor) -> Result<Tensor>;
    /// Its backward, given its output `y` and the output gradient `dy`:
    /// `dx = dy - exp(y) * sum_c dy`.
    fn log_softmax_backward(&self, y: &Tensor, dy: &Tensor) -> Result<Tensor>;
    /// Mean cross-entropy of `logits [N, C]` against float class ids `targets [N]`, shape `[]`.
    /// Class ids that are not integers in `0..C` are a typed error.
    fn cross_entropy(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor>;
    /// `d loss / d logits`, scaled by the upstream gradient `dloss` (shape `[]`).
    fn cross_entropy_backward(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        dloss: &Tensor,
    ) -> Result<Tensor>;
}

fn check_logits(op: &'static str, logits: &Tensor, targets: &Tensor) -> Result<()> {
    logits.check_compatible(op, targets)?;
    match (logits.shape(), targets.shape()) {
        ([n, c], [m]) if n == m && *c > 0 && *n > 0 => Ok(()),
        ([0, _], _) => Err(TensorError::EmptyDimension { op, axis: 0 }),
        ([_, 0], _) => Err(TensorError::EmptyDimension { op, axis: 1 }),
        _ => Err(TensorError::ShapeMismatch {
            op,
            lhs: logits.shape().to_vec(),
            rhs: targets.shape().to_vec(),
        }),
    }
}

impl Tensor {
    /// Log-softmax over the last axis of a `[N, C]` tensor.
    pub fn log_softmax(&self) -> Result<Tensor> {
        match self.shape() {
            [_, c] if *c > 0 => self.backend().log_softmax(self),
            _ => Err(TensorError::InvalidShape {
                op: "log_softmax",
                reason: format!("expected [N, C] with C > 0, got {:?}", self.shape()),
            }),
        }
    }

    /// Backward of [`Tensor::log_softmax`]: `self` is its output, `dy` the output gradient.
    pub fn log_softmax_backward(&self, dy: &Tensor) -> Result<Tensor> {
        self.check_same_shape("log_softmax_backward", dy)?;
        self.backend().log_softmax_backward(self, dy)
    }

    /// Mean cross-entropy of logits `self` (`[N, C]`) against class ids `targets` (`[N]`,
    /// stored as floats of the same dtype).
    pub fn cross_entropy(&self, targets: &Tensor) -> Result<Tensor> {
        check_logits("cross_entropy", self, targets)?;
        self.backend().cross_entropy(self, targets)
    }

    /// Gradient of [`Tensor::cross_entropy`] with respect to the logits `self`, times `dloss`.
    pub fn cross_entropy_backward(&self, targets: &Tensor, dloss: &Tensor) -> Result<Tensor> {
        check_logits("cross_entropy_backward", self, targets)?;
        self.check_compatible("cross_entropy_backward", dloss)?;
        if dloss.numel() != 1 {
            return Err(TensorError::InvalidShape {
                op: "cross_entropy_backward",
                reason: format!(
                    "the loss gradient must be a scalar, got {:?}",
                    dloss.shape()
                ),
            });
        }
        self.backend().cross_entropy_backward(self, targets, dloss)
    }

    /// Fraction of rows whose argmax equals the target class id, as a `[]` tensor (computed
    /// on the tensor's device, no host synchronisation).
    pub fn accuracy(&self, targets: &Tensor) -> Result<Tensor> {
        check_logits("accuracy", self, targets)?;
        self.argmax(-1, false)?.eq(targets)?.mean_all()
    }
}
