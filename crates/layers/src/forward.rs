//! [`Forward`]: the part of a module its author writes by hand, the forward pass and an
//! optional one-line description. `#[derive(Module)]` writes the rest of
//! [`Module`](crate::Module) and hands `Module::forward` and `Module::describe` to this
//! trait, so a module is a struct with attributes plus one small `impl Forward` block.

use autograd::Var;
use tensor::Result;

use crate::module::Module;

/// The forward pass of a `#[derive(Module)]` struct.
///
/// Inside `forward`, `self.is_training()` tells train from eval, and children are run with
/// `child.call(x)` (which also runs their hooks, like PyTorch's `self.child(x)`).
///
/// ```
/// use autograd::Var;
/// use layers::{Forward, Module, ModuleCore, ModuleExt};
/// use tensor::{DType, Device, Result, Tensor};
///
/// /// `y = x * scale`, with a trained scalar `scale`.
/// #[derive(Module)]
/// struct Scale {
///     #[param]
///     scale: Var,
///     core: ModuleCore,
/// }
///
/// impl Forward for Scale {
///     fn forward(&self, x: &Var) -> Result<Var> {
///         x.mul(&self.scale)
///     }
/// }
///
/// let two = Tensor::full(&[], 2.0, DType::F64, Device::Cpu).unwrap();
/// let m = Scale { scale: Var::parameter(two), core: ModuleCore::default() };
/// let x = Var::constant(Tensor::full(&[3], 1.5, DType::F64, Device::Cpu).unwrap());
/// assert_eq!(m.call(&x).unwrap().value().to_vec_f64().unwrap(), [3.0, 3.0, 3.0]);
/// assert_eq!(m.named_parameters()[0].0, "scale");
/// // With `Forward` in scope too, name the trait: both define `describe`.
/// assert_eq!(Module::describe(&m), "Scale");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no forward pass",
    label = "`#[derive(Module)]` hands `forward` to `layers::Forward`",
    note = "add `impl layers::Forward for {Self} {{ fn forward(&self, x: &Var) -> Result<Var> {{ ... }} }}`"
)]
pub trait Forward: Module {
    /// The forward pass (callers use [`Module::call`], which also runs the hooks).
    fn forward(&self, x: &Var) -> Result<Var>;

    /// A one-line description of the configuration (`"Conv2d(1, 8, ks=5, ...)"`); the type
    /// name by default.
    fn describe(&self) -> String {
        self.type_name().to_string()
    }

    /// `forward(relu(z))` computed from the pre-activation `z` without materialising
    /// `relu(z)`, for a module that has such a fused form (the norms: statistics, normalise
    /// and the ReLU's gradient mask in the same passes); `None`, the default, when it has
    /// none. [`Sequential`](crate::Sequential) calls it for a plain ReLU followed by this
    /// module; the result must equal `forward(&z.relu()?)`, bit for bit.
    fn forward_after_relu(&self, z: &Var) -> Option<Result<Var>> {
        let _ = z;
        None
    }
}
