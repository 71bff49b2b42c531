//! [`Learner`]: what is trained (model), how (optimiser, loss) and on what (data).

use autograd::Var;
use layers::{Module, ModuleExt};

use crate::data::DataBunch;
use crate::error::Result;
use crate::optim::Sgd;

/// A loss: predictions and targets to a one-element loss var.
pub type LossFn = Box<dyn Fn(&Var, &Var) -> tensor::Result<Var>>;

/// The lesson's loss: mean cross-entropy of logits against class ids.
pub fn cross_entropy_loss() -> LossFn {
    Box::new(|pred: &Var, target: &Var| pred.cross_entropy(target))
}

/// The lesson's `Learner(model, opt, loss_func, data)`.
pub struct Learner {
    /// The model.
    pub model: Box<dyn Module>,
    /// The optimiser over the model's parameters.
    pub opt: Sgd,
    /// The loss.
    pub loss_fn: LossFn,
    /// The data.
    pub data: DataBunch,
}

impl std::fmt::Debug for Learner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Learner")
            .field("model", &self.model.describe())
            .field("opt", &self.opt)
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

impl Learner {
    /// A learner with plain SGD at `lr` over all of `model`'s parameters and the
    /// cross-entropy loss.
    pub fn new(model: Box<dyn Module>, data: DataBunch, lr: f64) -> Result<Self> {
        let opt = Sgd::new(model.parameters(), lr)?;
        Ok(Learner {
            model,
            opt,
            loss_fn: cross_entropy_loss(),
            data,
        })
    }

    /// Replaces the optimiser (e.g. SGD with momentum over the same parameters).
    pub fn with_opt(mut self, opt: Sgd) -> Self {
        self.opt = opt;
        self
    }

    /// Replaces the loss.
    pub fn with_loss(mut self, loss_fn: LossFn) -> Self {
        self.loss_fn = loss_fn;
        self
    }
}
