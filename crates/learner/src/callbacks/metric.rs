//! Metrics: functions of predictions and targets averaged per epoch by
//! [`AvgStats`](crate::callbacks::AvgStats).

use tensor::Tensor;

/// A named metric, computed on the device as a one-element tensor.
#[derive(Clone, Copy)]
pub struct Metric {
    /// Its name in reports (`"accuracy"`).
    pub name: &'static str,
    /// `f(predictions, targets)`.
    pub f: fn(&Tensor, &Tensor) -> tensor::Result<Tensor>,
}

impl std::fmt::Debug for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Metric({})", self.name)
    }
}

/// The lesson's accuracy: `mean(argmax(logits) == label)`. With all-NaN logits argmax
/// gives class 0, as in PyTorch.
pub fn accuracy() -> Metric {
    Metric {
        name: "accuracy",
        f: |pred, target| pred.accuracy(target),
    }
}
