//! [`Var`]: a tensor in the recorded graph. Leaves are created by the user (parameters with
//! `requires_grad`, or constants); every op on vars that need gradients records a node that
//! holds its inputs and a [`BackwardOp`].

use std::cell::{Ref, RefCell};
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use smallvec::SmallVec;
use tensor::{Dims, Result, Tensor};

use crate::graph::grad_enabled;

/// The backward pass of one recorded op: given the gradient of the op's output, the
/// gradients of its inputs (in input order; `None` where an input gets no gradient).
pub trait BackwardOp {
    /// A short name for error messages and debugging.
    fn name(&self) -> &'static str;
    /// Input gradients from the output gradient.
    fn backward(&self, grad_output: &Tensor) -> Result<Vec<Option<Tensor>>>;
}

/// A [`BackwardOp`] made from a closure.
pub(crate) struct FnBackward<F> {
    pub name: &'static str,
    pub f: F,
}

impl<F> BackwardOp for FnBackward<F>
where
    F: Fn(&Tensor) -> Result<Vec<Option<Tensor>>>,
{
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, grad_output: &Tensor) -> Result<Vec<Option<Tensor>>> {
        (self.f)(grad_output)
    }
}

/// The inputs of a recorded op, inline up to three (every op of the lesson's model), so
/// that recording one allocates nothing for the list.
pub(crate) type Inputs = SmallVec<[Var; 3]>;

pub(crate) struct GradFn {
    pub inputs: Inputs,
    pub op: Box<dyn BackwardOp>,
}

pub(crate) struct VarNode {
    pub id: usize,
    pub value: RefCell<Tensor>,
    pub grad: RefCell<Option<Tensor>>,
    pub requires_grad: bool,
    pub grad_fn: Option<GradFn>,
}

impl Drop for VarNode {
    /// Frees a chain of recorded ops iteratively: the default recursive drop through
    /// `grad_fn.inputs` would overflow the stack on graphs tens of thousands of ops deep.
    fn drop(&mut self) {
        let Some(grad_fn) = self.grad_fn.take() else {
            return;
        };
        let mut stack = grad_fn.inputs;
        while let Some(var) = stack.pop() {
            // Only a node whose last handle this is gets dropped now; detach its inputs
            // first so its own drop does not recurse.
            if let Ok(mut node) = Rc::try_unwrap(var.0) {
                if let Some(inner) = node.grad_fn.take() {
                    stack.extend(inner.inputs);
                }
            }
        }
    }
}

/// A node of the autograd graph: a value and, unless it is a leaf, how it was computed.
/// Cloning is cheap and shares the node (the identity used for gradients).
#[derive(Clone)]
pub struct Var(pub(crate) Rc<VarNode>);

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.0.grad_fn {
            Some(g) => g.op.name(),
            None if self.0.requires_grad => "leaf",
            None => "constant",
        };
        write!(f, "Var#{}({kind}, {:?})", self.0.id, self.0.value.borrow())
    }
}

impl Var {
    fn make(value: Tensor, requires_grad: bool, grad_fn: Option<GradFn>) -> Var {
        Var(Rc::new(VarNode {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            value: RefCell::new(value),
            grad: RefCell::new(None),
            requires_grad,
            grad_fn,
        }))
    }

    /// A leaf whose gradient is wanted (a trainable parameter).
    pub fn parameter(value: Tensor) -> Var {
        Self::make(value, true, None)
    }

    /// A leaf that never gets a gradient (inputs, targets, buffers).
    pub fn constant(value: Tensor) -> Var {
        Self::make(value, false, None)
    }

    /// Records the result of an op. When gradients are disabled or no input needs one, the
    /// result is a constant and nothing is kept alive.
    pub fn from_op(value: Tensor, inputs: &[&Var], op: Box<dyn BackwardOp>) -> Var {
        // Profiling: the time since the previous lap was spent computing this op's value.
        tensor::profile::lap("forward", op.name(), [0; 3]);
        if grad_enabled() && inputs.iter().any(|v| v.requires_grad()) {
            let inputs = inputs.iter().map(|v| (*v).clone()).collect();
            Self::make(value, true, Some(GradFn { inputs, op }))
        } else {
            Self::constant(value)
        }
    }

    /// [`Var::from_op`] with a closure as the backward pass.
    pub fn from_fn<F>(value: Tensor, inputs: &[&Var], name: &'static str, backward: F) -> Var
    where
        F: Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + 'static,
    {
        if grad_enabled() && inputs.iter().any(|v| v.requires_grad()) {
            Self::from_op(value, inputs, Box::new(FnBackward { name, f: backward }))
        } else {
            Self::constant(value)
        }
    }

    /// A stable identity, unique for the process's lifetime.
    pub fn id(&self) -> usize {
        self.0.id
    }

    /// Whether gradients flow to or through this var.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// Whether this var is a leaf (made by the user, not by an op).
    pub fn is_leaf(&self) -> bool {
        self.0.grad_fn.is_none()
    }

    /// The value (a cheap clone sharing storage).
    pub fn value(&self) -> Tensor {
        self.0.value.borrow().clone()
    }

    /// Borrows the value.
    pub fn value_ref(&self) -> Ref<'_, Tensor> {
        self.0.value.borrow()
    }

    /// Updates a leaf's value in place (optimisers, running statistics, checkpoint loads).
    /// The closure gets the tensor mutably; other vars are unaffected (copy-on-write).
    pub fn update_value<R>(&self, f: impl FnOnce(&mut Tensor) -> R) -> R {
        debug_assert!(self.is_leaf(), "only leaves are updated in place");
        f(&mut self.0.value.borrow_mut())
    }

    /// Replaces a leaf's value.
    pub fn set_value(&self, value: Tensor) {
        self.update_value(|t| *t = value);
    }

    /// The accumulated gradient of a leaf, if any backward pass reached it.
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.borrow().clone()
    }

    /// Clears the accumulated gradient.
    pub fn zero_grad(&self) {
        *self.0.grad.borrow_mut() = None;
    }

    /// Replaces the accumulated gradient (data-parallel training writes the average over the
    /// ranks back this way).
    pub fn set_grad(&self, grad: Option<Tensor>) {
        *self.0.grad.borrow_mut() = grad;
    }

    /// Adds `g` to the accumulated gradient.
    pub(crate) fn accumulate_grad(&self, g: Tensor) -> Result<()> {
        let mut slot = self.0.grad.borrow_mut();
        *slot = Some(match slot.take() {
            None => g,
            Some(mut old) => {
                old.add_scaled_(&g, 1.0)?;
                old
            }
        });
        Ok(())
    }

    /// A constant with the same value, cut from the graph.
    pub fn detach(&self) -> Var {
        Var::constant(self.value())
    }

    /// The shape of the value.
    pub fn shape(&self) -> Vec<usize> {
        self.0.value.borrow().shape().to_vec()
    }

    /// The value's shape held inline up to rank 4: [`Var::shape`] without an allocation,
    /// for checks on every forward pass.
    pub fn dims(&self) -> Dims {
        Dims::from_slice(self.0.value.borrow().shape())
    }
}
