//! # autograd
//!
//! Reverse-mode automatic differentiation over [`tensor`]. A [`Var`] is a tensor in a
//! recorded graph: leaves are parameters (`Var::parameter`, gradients wanted) or constants;
//! every op on vars records a node with its inputs and a backward function, unless grad mode
//! is off ([`no_grad`]) or no input needs a gradient. [`Var::backward`] walks the graph in
//! reverse topological order, accumulates gradients into the leaves ([`Var::grad`]) and
//! returns them ([`Gradients`]).
//!
//! Fused ops with hand-written backward passes (the norms, the loss) are registered with
//! [`Var::from_op`] (a [`BackwardOp`] value) or [`Var::from_fn`] (a closure): one node, one
//! forward kernel, one backward kernel.
//!
//! [`GradCheck`] compares every backward pass with central finite differences in `f64`.

mod gradcheck;
mod graph;
mod ops;
mod var;

pub use gradcheck::{GradCheck, GradCheckError};
pub use graph::{grad_enabled, no_grad, no_grad_guard, GradModeGuard, Gradients};
pub use var::{BackwardOp, Var};
