//! [`Sequential`]: a chain of modules, `y = f_k(... f_1(f_0(x)))`, each child run through
//! [`Module::call`] so its hooks fire. Children are named `"0"`, `"1"`, ... so parameter
//! names follow PyTorch's `nn.Sequential` (`0.2.running_mean`).

use autograd::Var;
use tensor::Result;

use crate::{Forward, Module, ModuleCore};

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

impl Forward for Sequential {
    fn forward(&self, x: &Var) -> Result<Var> {
        let mut y = x.clone();
        for layer in &self.layers {
            y = layer.call(&y)?;
        }
        Ok(y)
    }

    fn describe(&self) -> String {
        format!("Sequential({} layers)", self.layers.len())
    }
}
