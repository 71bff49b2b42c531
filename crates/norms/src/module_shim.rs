//! Temporary stand-in for `#[derive(Module)]` (which is landing on main in parallel): the
//! `Forward` trait, `ModuleCore` and a macro writing the structural `Module` methods from
//! the field lists. Removed when the new layers move to the derive.

use autograd::Var;
use layers::{HookList, Named, TrainFlag};

/// The forward pass and description a module writes by hand.
pub trait Forward {
    /// The forward pass.
    fn forward(&self, x: &Var) -> tensor::Result<Var>;
    /// A one-line description.
    fn describe(&self) -> String;
}

/// Train/eval flag and hooks.
#[derive(Debug, Default)]
pub struct ModuleCore {
    pub flag: TrainFlag,
    pub hooks: HookList,
}

/// A tensor slot: a `Var` or an optional one.
pub trait Slot {
    fn push<'a>(&'a self, name: &'static str, out: &mut Vec<Named<'a>>);
}
impl Slot for Var {
    fn push<'a>(&'a self, name: &'static str, out: &mut Vec<Named<'a>>) {
        out.push((name, self));
    }
}
impl Slot for Option<Var> {
    fn push<'a>(&'a self, name: &'static str, out: &mut Vec<Named<'a>>) {
        if let Some(v) = self {
            out.push((name, v));
        }
    }
}

macro_rules! impl_module {
    ($t:ty, params: [$($p:ident),*], buffers: [$($b:ident),*]) => {
        impl layers::Module for $t {
            fn type_name(&self) -> &'static str {
                stringify!($t)
            }
            fn forward(&self, x: &autograd::Var) -> tensor::Result<autograd::Var> {
                <Self as crate::module_shim::Forward>::forward(self, x)
            }
            fn local_parameters(&self) -> Vec<layers::Named<'_>> {
                #[allow(unused_mut)]
                let mut v = Vec::new();
                $( crate::module_shim::Slot::push(&self.$p, stringify!($p), &mut v); )*
                v
            }
            fn local_buffers(&self) -> Vec<layers::Named<'_>> {
                #[allow(unused_mut)]
                let mut v = Vec::new();
                $( crate::module_shim::Slot::push(&self.$b, stringify!($b), &mut v); )*
                v
            }
            fn train_flag(&self) -> &layers::TrainFlag {
                &self.core.flag
            }
            fn hooks(&self) -> &layers::HookList {
                &self.core.hooks
            }
            fn describe(&self) -> String {
                <Self as crate::module_shim::Forward>::describe(self)
            }
            fn as_any(&self) -> Option<&dyn std::any::Any> {
                Some(self)
            }
        }
    };
}
pub(crate) use impl_module;
