//! Running the recorded graph backwards, and the no-grad scope.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};

use tensor::{Result, Tensor, TensorError};

use crate::Var;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops currently record the graph (false inside [`no_grad`]).
pub fn grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Restores the previous grad mode when dropped.
#[derive(Debug)]
pub struct GradModeGuard {
    previous: bool,
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// Disables graph recording until the guard is dropped.
pub fn no_grad_guard() -> GradModeGuard {
    let previous = GRAD_ENABLED.with(|g| g.replace(false));
    GradModeGuard { previous }
}

/// Runs `f` without recording the graph (validation, statistics updates).
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = no_grad_guard();
    f()
}

/// Gradients of the leaves reached by one backward pass, by leaf identity.
#[derive(Debug, Default)]
pub struct Gradients {
    by_id: HashMap<usize, Tensor>,
}

impl Gradients {
    /// The gradient of `leaf` from this pass, if it was reached.
    pub fn get(&self, leaf: &Var) -> Option<&Tensor> {
        self.by_id.get(&leaf.id())
    }
    /// Number of leaves that got a gradient.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }
    /// True when no leaf got a gradient.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// Vars reachable from `root` through recorded ops, each after all vars it feeds
/// (reverse topological order: `root` first).
fn reverse_topological(root: &Var) -> Vec<Var> {
    let hint = GRAPH_LEN_HINT.with(Cell::get);
    let mut order = Vec::with_capacity(hint);
    let mut visited = HashSet::with_capacity(hint);
    // Iterative post-order DFS: (var, children pushed?)
    let mut stack = Vec::with_capacity(hint);
    stack.push((root.clone(), false));
    while let Some((v, expanded)) = stack.pop() {
        if expanded {
            order.push(v);
            continue;
        }
        if !visited.insert(v.id()) {
            continue;
        }
        stack.push((v.clone(), true));
        if let Some(g) = &v.0.grad_fn {
            for input in &g.inputs {
                if input.requires_grad() && !visited.contains(&input.id()) {
                    stack.push((input.clone(), false));
                }
            }
        }
    }
    order.reverse();
    GRAPH_LEN_HINT.with(|h| h.set(order.len()));
    order
}

thread_local! {
    /// The size of the last graph walked on this thread: training steps walk graphs of one
    /// size, so the walk's collections start at the size they will reach instead of
    /// growing (and reallocating) several times per step.
    static GRAPH_LEN_HINT: Cell<usize> = const { Cell::new(0) };
}

impl Var {
    /// Backpropagates from a one-element var (a loss), seeding its gradient with 1.
    /// Gradients are added to every reached leaf's [`Var::grad`] and also returned.
    pub fn backward(&self) -> Result<Gradients> {
        let value = self.value();
        if value.numel() != 1 {
            return Err(TensorError::InvalidShape {
                op: "backward",
                reason: format!(
                    "backward() needs a one-element output, got {:?}; use backward_with",
                    value.shape()
                ),
            });
        }
        self.backward_with(value.ones_like()?)
    }

    /// Backpropagates with an explicit output gradient of the output's shape.
    pub fn backward_with(&self, grad_output: Tensor) -> Result<Gradients> {
        let value = self.value();
        value.check_same_shape("backward_with", &grad_output)?;
        if !self.requires_grad() {
            return Err(TensorError::InvalidArgument {
                op: "backward",
                reason: "the output does not depend on any var that requires a gradient"
                    .to_string(),
            });
        }
        drop(value);
        let order = reverse_topological(self);
        let mut pending: HashMap<usize, Tensor> = HashMap::with_capacity(order.len());
        pending.insert(self.id(), grad_output);
        // Sized for every leaf up front (one allocation, not one per doubling).
        let leaves = order.iter().filter(|v| v.0.grad_fn.is_none()).count();
        let mut result = Gradients {
            by_id: HashMap::with_capacity(leaves),
        };
        for v in order {
            let Some(g) = pending.remove(&v.id()) else {
                continue;
            };
            match &v.0.grad_fn {
                None => {
                    v.accumulate_grad(g.clone())?;
                    result.by_id.insert(v.id(), g);
                }
                Some(grad_fn) => {
                    tensor::profile::lap("backward", "graph walk", [0; 3]);
                    let input_grads = grad_fn.op.backward(&g)?;
                    tensor::profile::lap("backward", grad_fn.op.name(), [0; 3]);
                    if input_grads.len() != grad_fn.inputs.len() {
                        return Err(TensorError::InvalidArgument {
                            op: "backward",
                            reason: format!(
                                "{} returned {} gradients for {} inputs",
                                grad_fn.op.name(),
                                input_grads.len(),
                                grad_fn.inputs.len()
                            ),
                        });
                    }
                    for (input, ig) in grad_fn.inputs.iter().zip(input_grads) {
                        let Some(ig) = ig else { continue };
                        if !input.requires_grad() {
                            continue;
                        }
                        if ig.shape() != input.value_ref().shape() {
                            return Err(TensorError::ShapeMismatch {
                                op: grad_fn.op.name(),
                                lhs: ig.shape().to_vec(),
                                rhs: input.shape(),
                            });
                        }
                        match pending.get_mut(&input.id()) {
                            Some(acc) => acc.add_scaled_(&ig, 1.0)?,
                            None => {
                                pending.insert(input.id(), ig);
                            }
                        }
                    }
                }
            }
        }
        Ok(result)
    }
}
