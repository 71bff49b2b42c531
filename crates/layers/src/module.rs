//! The [`Module`] trait: a forward pass in train or eval mode, named parameters (trained),
//! named buffers (saved and moved, never optimised) and named children, from which dotted
//! PyTorch-style names (`0.2.running_mean`) follow.
//!
//! Plain struct fields that are neither parameters nor buffers are neither saved nor
//! optimised: this is the seed's `register_buffer` lesson expressed in types.
//!
//! Modules are written with `#[derive(Module)]` (see [`crate::Forward`]); the trait is
//! object safe and every module can be downcast through [`AsAny`].

use std::any::Any;
use std::cell::Cell;

use autograd::Var;
use tensor::{DType, Device, Result, Tensor};

use crate::hooks::{HookEvent, HookList};

/// Train or eval mode, shared by a module and (through `set_training`) its children.
#[derive(Debug)]
pub struct TrainFlag(Cell<bool>);

impl Default for TrainFlag {
    /// Modules start in training mode, as in PyTorch.
    fn default() -> Self {
        TrainFlag(Cell::new(true))
    }
}

impl TrainFlag {
    /// Current mode.
    pub fn get(&self) -> bool {
        self.0.get()
    }
    /// Sets the mode.
    pub fn set(&self, training: bool) {
        self.0.set(training)
    }
}

/// A named tensor slot of a module: a parameter (a leaf that requires a gradient) or a
/// buffer (a constant leaf updated in place, e.g. running statistics).
pub type Named<'a> = (&'a str, &'a Var);

/// Downcasting to the concrete type: `m.as_any().downcast_ref::<Conv2d>()` on any
/// `&dyn Module`. Every module has it (a blanket impl), so tree walks such as `init_cnn`
/// find every layer of the type they look for.
///
/// Call it on a `&dyn Module` (or a concrete module); a `Box<dyn Module>` is not a module,
/// so `boxed.as_any()` reaches the module inside it, never the box.
///
/// `as_any_mut` serves tree rewrites (e.g. the norms crate's `convert_sync_batchnorm`): it
/// reaches into a container to replace its children (e.g. [`crate::Sequential::map_layers`]).
pub trait AsAny {
    /// `self` as `&dyn Any`.
    fn as_any(&self) -> &dyn Any;
    /// `self` as `&mut dyn Any`.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Module + 'static> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A layer or a container of layers.
///
/// Write one with `#[derive(Module)]` and an `impl Forward` (see [`crate::Forward`]): the
/// derive lists the parameters, buffers and children from field attributes and takes the
/// train flag and hooks from a [`crate::ModuleCore`] field; everything else (recursion,
/// dotted names, mode switches, device moves, hooks) is provided here.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a module",
    note = "add `#[derive(Module)]` to `{Self}` (with a `ModuleCore` field) and implement `layers::Forward` for it"
)]
pub trait Module: AsAny {
    /// A short type name for messages (`"Conv2d"`, `"BatchNorm"`).
    fn type_name(&self) -> &'static str;

    /// The forward pass. Call [`Module::call`] instead, which also runs forward hooks.
    fn forward(&self, x: &Var) -> Result<Var>;

    /// This module's own parameters (not its children's), in a fixed order.
    fn local_parameters(&self) -> Vec<Named<'_>> {
        Vec::new()
    }

    /// This module's own buffers (not its children's), in a fixed order.
    fn local_buffers(&self) -> Vec<Named<'_>> {
        Vec::new()
    }

    /// Direct children with their names (`"0"`, `"1"`, ... in a `Sequential`).
    fn children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// The train/eval flag of this module.
    fn train_flag(&self) -> &TrainFlag;

    /// The forward hooks registered on this module.
    fn hooks(&self) -> &HookList;

    /// A one-line description of the configuration (`"Conv2d(1, 8, ks=5, stride=2)"`).
    fn describe(&self) -> String {
        self.type_name().to_string()
    }

    /// The forward pass applied to `relu(z)`, fused, where the module has such a form
    /// (see [`Forward::forward_after_relu`](crate::Forward::forward_after_relu)); `None`
    /// otherwise. Hooks do not run (the caller fuses only modules without hooks).
    fn forward_after_relu(&self, z: &Var) -> Option<Result<Var>> {
        let _ = z;
        None
    }

    /// Whether the buffer `name` (a local name, as listed by [`Module::local_buffers`]) holds
    /// an integer that checkpoints store as `int64`. Values stay floats in memory; only the
    /// file encoding changes, so that PyTorch reads the tensor with its own dtype.
    ///
    /// `#[derive(Module)]` answers from the buffers marked `#[buffer(int64)]`. The default,
    /// for hand-written modules, follows PyTorch's convention: `num_batches_tracked` (the one
    /// integer buffer of `torch.nn`'s standard layers) is an integer, everything else a float.
    fn int64_buffer(&self, name: &str) -> bool {
        name == "num_batches_tracked"
    }

    /// Runs `forward`, then every forward hook with the input and output.
    fn call(&self, x: &Var) -> Result<Var> {
        let y = self.forward(x)?;
        self.hooks().run(&HookEvent {
            module: self.type_name(),
            input: x,
            output: &y,
        })?;
        Ok(y)
    }

    /// Whether the module is in training mode.
    fn is_training(&self) -> bool {
        self.train_flag().get()
    }

    /// Sets training mode on this module and all descendants.
    fn set_training(&self, training: bool) {
        self.train_flag().set(training);
        for (_, c) in self.children() {
            c.set_training(training);
        }
    }

    /// Training mode for the whole tree.
    fn train(&self) {
        self.set_training(true)
    }

    /// Eval mode for the whole tree.
    fn eval(&self) {
        self.set_training(false)
    }
}

/// Extension methods over the whole module tree.
pub trait ModuleExt: Module {
    /// Every parameter of the tree with its dotted name, depth first in declaration order.
    fn named_parameters(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        walk(self.as_dyn(), "", &mut |prefix, m| {
            for (n, v) in m.local_parameters() {
                out.push((join(prefix, n), v.clone()));
            }
        });
        out
    }

    /// Every buffer of the tree with its dotted name.
    fn named_buffers(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        walk(self.as_dyn(), "", &mut |prefix, m| {
            for (n, v) in m.local_buffers() {
                out.push((join(prefix, n), v.clone()));
            }
        });
        out
    }

    /// The parameters (shared handles: updating them updates the module).
    fn parameters(&self) -> Vec<Var> {
        self.named_parameters()
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    }

    /// Every module of the tree with its dotted path (`""` for the root), pre-order.
    fn named_modules(&self) -> Vec<(String, &dyn Module)> {
        let mut out = Vec::new();
        collect_modules(self.as_dyn(), String::new(), &mut out);
        out
    }

    /// Moves every parameter and buffer to `device` in place. All or nothing: every tensor
    /// is copied first, and the module is only changed when every copy succeeded (so an
    /// unavailable device leaves the module untouched).
    fn to_device(&self, device: Device) -> Result<()> {
        replace_all(self.as_dyn(), |t| t.to_device(device))
    }

    /// Converts every parameter and buffer to `dtype` in place (PyTorch's `.double()` and
    /// `.float()`), all or nothing like [`ModuleExt::to_device`].
    fn to_dtype(&self, dtype: DType) -> Result<()> {
        replace_all(self.as_dyn(), |t| t.to_dtype(dtype))
    }

    /// Total number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.parameters()
            .iter()
            .map(|p| p.value_ref().numel())
            .sum()
    }

    /// Clears every parameter's gradient.
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// `&self` as a trait object.
    fn as_dyn(&self) -> &dyn Module;
}

impl<M: Module> ModuleExt for M {
    fn as_dyn(&self) -> &dyn Module {
        self
    }
}

impl ModuleExt for dyn Module + '_ {
    fn as_dyn(&self) -> &dyn Module {
        self
    }
}

/// Computes a new value for every parameter and buffer, then installs them all.
fn replace_all(m: &dyn Module, f: impl Fn(&Tensor) -> Result<Tensor>) -> Result<()> {
    let slots: Vec<(String, Var)> = m
        .named_parameters()
        .into_iter()
        .chain(m.named_buffers())
        .collect();
    let mut fresh = Vec::with_capacity(slots.len());
    for (_, v) in &slots {
        fresh.push(f(&v.value_ref())?);
    }
    for ((_, v), t) in slots.iter().zip(fresh) {
        v.set_value(t);
    }
    Ok(())
}

/// `prefix.name`, or `name` at the root.
pub(crate) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn walk(m: &dyn Module, prefix: &str, f: &mut dyn FnMut(&str, &dyn Module)) {
    f(prefix, m);
    for (name, child) in m.children() {
        walk(child, &join(prefix, &name), f);
    }
}

fn collect_modules<'a>(m: &'a dyn Module, path: String, out: &mut Vec<(String, &'a dyn Module)>) {
    let children = m.children();
    out.push((path.clone(), m));
    for (name, child) in children {
        collect_modules(child, join(&path, &name), out);
    }
}
