//! [`Lambda`]: a parameter-free module from a function `y = f(x)`, like the course's
//! `Lambda(flatten)` or `Lambda(lambda x: x.view(-1, 1, 28, 28))`. Its gradient is whatever
//! the ops inside `f` record.

use autograd::Var;
use tensor::{Result, TensorError};

use crate::{Forward, Module, ModuleCore};

/// The function a [`Lambda`] applies.
pub type LambdaFn = dyn Fn(&Var) -> Result<Var>;

/// A module that applies a function and owns no tensors.
#[derive(Module)]
pub struct Lambda {
    name: String,
    f: Box<LambdaFn>,
    core: ModuleCore,
}

impl std::fmt::Debug for Lambda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lambda({})", self.name)
    }
}

impl Lambda {
    /// A module applying `f`; `name` appears in [`Module::describe`].
    pub fn new(name: impl Into<String>, f: impl Fn(&Var) -> Result<Var> + 'static) -> Self {
        Lambda {
            name: name.into(),
            f: Box::new(f),
            core: ModuleCore::default(),
        }
    }

    /// PyTorch's `x.view(-1, *shape)`: the input's elements viewed as `[b, shape...]`, with
    /// `b = numel / prod(shape)` (e.g. `[bs, 784] -> [bs, 1, 28, 28]` with
    /// `view(&[1, 28, 28])`); a typed error when `prod(shape)` does not divide `numel`.
    pub fn view(shape: &[usize]) -> Self {
        let tail = shape.to_vec();
        Lambda::new(format!("view(-1, {tail:?})"), move |x: &Var| {
            let numel = x.value_ref().numel();
            let per_item = tail.iter().product::<usize>();
            if numel.checked_rem(per_item) != Some(0) {
                return Err(TensorError::ShapeMismatch {
                    op: "view",
                    lhs: x.shape(),
                    rhs: tail.clone(),
                });
            }
            let mut full = vec![numel / per_item];
            full.extend_from_slice(&tail);
            x.reshape(&full)
        })
    }
}

impl Forward for Lambda {
    fn forward(&self, x: &Var) -> Result<Var> {
        (self.f)(x)
    }

    fn describe(&self) -> String {
        format!("Lambda({})", self.name)
    }
}
