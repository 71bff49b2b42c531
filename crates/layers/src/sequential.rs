//! [`Sequential`]: a chain of modules, `y = f_k(... f_1(f_0(x)))`, each child run through
//! [`Module::call`] so its hooks fire. Children are named `"0"`, `"1"`, ... so parameter
//! names follow PyTorch's `nn.Sequential` (`0.2.running_mean`).
//!
//! **ReLU fusion.** A plain ReLU ([`GeneralRelu::relu`]) followed by a module with a fused
//! form ([`Module::forward_after_relu`], the norms) runs as that one fused call on the
//! ReLU's input, when neither of the two has a hook: the same values and gradients, bit
//! for bit, without materialising `relu(z)` or running the ReLU's backward as a pass of
//! its own (the lesson's `conv, ReLU, norm` layers). With a hook on either, both run as
//! written, so every hook sees what it would without fusion.

use autograd::Var;
use tensor::Result;

use crate::{Forward, GeneralRelu, Module, ModuleCore};

/// Modules applied in order. An empty `Sequential` is the identity.
#[derive(Default, Module)]
pub struct Sequential {
    #[module(flatten)]
    layers: Vec<Box<dyn Module>>,
    core: ModuleCore,
}

impl std::fmt::Debug for Sequential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.layers.iter().map(|l| l.describe()))
            .finish()
    }
}

impl Sequential {
    /// An empty chain.
    pub fn new() -> Self {
        Sequential::default()
    }

    /// A chain of the given modules, in order.
    pub fn from_layers(layers: Vec<Box<dyn Module>>) -> Self {
        Sequential {
            layers,
            ..Sequential::default()
        }
    }

    /// Appends a module (named by its index).
    pub fn push(&mut self, layer: impl Module + 'static) {
        self.layers.push(Box::new(layer));
    }

    /// Appends an already boxed module.
    pub fn push_boxed(&mut self, layer: Box<dyn Module>) {
        self.layers.push(layer);
    }

    /// Builder form of [`Sequential::push`].
    pub fn with(mut self, layer: impl Module + 'static) -> Self {
        self.push(layer);
        self
    }

    /// Number of children.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True without children.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The `i`-th child.
    pub fn get(&self, i: usize) -> Option<&dyn Module> {
        self.layers.get(i).map(|l| l.as_ref())
    }

    /// The children in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Module> {
        self.layers.iter().map(|l| l.as_ref())
    }

    /// Replaces every child `l_i` by `f(l_i)`, in order, keeping this container's train flag
    /// and hooks (the hook for tree rewrites such as swapping one layer type for another;
    /// children are named by index, so the names stay `"0"`, `"1"`, ...).
    pub fn map_layers(&mut self, f: impl FnMut(Box<dyn Module>) -> Box<dyn Module>) {
        self.layers = std::mem::take(&mut self.layers)
            .into_iter()
            .map(f)
            .collect();
    }
}

impl Sequential {
    /// `layers[i + 1](relu(z))` as one fused call, when `layers[i]` is a plain ReLU,
    /// `layers[i + 1]` has a fused form, and neither has a hook (see the module docs).
    fn fused_relu_pair(&self, i: usize, z: &Var) -> Option<Result<Var>> {
        let (relu, next) = (self.layers.get(i)?, self.layers.get(i + 1)?);
        let plain = relu
            .as_any()
            .downcast_ref::<GeneralRelu>()
            .is_some_and(GeneralRelu::is_plain_relu);
        if !plain || !relu.hooks().is_empty() || !next.hooks().is_empty() {
            return None;
        }
        next.forward_after_relu(z)
    }
}

impl Forward for Sequential {
    fn forward(&self, x: &Var) -> Result<Var> {
        let mut y = x.clone();
        let mut i = 0;
        while i < self.layers.len() {
            if let Some(fused) = self.fused_relu_pair(i, &y) {
                y = fused?;
                i += 2;
            } else {
                y = self.layers[i].call(&y)?;
                i += 1;
            }
        }
        Ok(y)
    }

    fn describe(&self) -> String {
        format!("Sequential({} layers)", self.layers.len())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use autograd::Var;
    use tensor::{Device, Result, Tensor};

    use crate::{Forward, GeneralRelu, Module, ModuleCore, Sequential};

    /// `x + 1`, with a fused form `relu(z) + 100` that counts its calls, so a test sees
    /// which path ran.
    #[derive(Default, Module)]
    struct Marker {
        fused_calls: Rc<Cell<usize>>,
        core: ModuleCore,
    }

    impl Forward for Marker {
        fn forward(&self, x: &Var) -> Result<Var> {
            x.add_scalar(1.0)
        }
        fn forward_after_relu(&self, z: &Var) -> Option<Result<Var>> {
            self.fused_calls.set(self.fused_calls.get() + 1);
            Some(z.relu().and_then(|r| r.add_scalar(100.0)))
        }
    }

    fn run(seq: &Sequential) -> Vec<f64> {
        let x = Var::constant(Tensor::from_slice(&[-2.0, 3.0], &[2], Device::Cpu).unwrap());
        seq.call(&x).unwrap().value().to_vec_f64().unwrap()
    }

    #[test]
    fn a_plain_relu_before_a_fusable_module_runs_fused_unless_hooked() {
        let calls = Rc::new(Cell::new(0));
        let marker = || Marker {
            fused_calls: Rc::clone(&calls),
            ..Marker::default()
        };
        let seq = Sequential::new().with(GeneralRelu::relu()).with(marker());
        assert_eq!(run(&seq), [100.0, 103.0]);
        assert_eq!(calls.get(), 1);
        // A leaky ReLU has no fused form; neither does a hooked pair.
        let leaky = GeneralRelu::new(Some(0.5), None, None).unwrap();
        let seq2 = Sequential::new().with(leaky).with(marker());
        assert_eq!(run(&seq2), [0.0, 4.0]);
        let _hook = seq.get(1).unwrap().hooks().register(|_| Ok(()));
        assert_eq!(run(&seq), [1.0, 4.0]);
        assert_eq!(calls.get(), 1);
        // The marker first, then a trailing ReLU: nothing to fuse.
        let seq3 = Sequential::new().with(marker()).with(GeneralRelu::relu());
        assert_eq!(run(&seq3), [0.0, 4.0]);
        assert_eq!(calls.get(), 1);
    }
}
