//! # layers-derive
//!
//! `#[derive(Module)]` for the `layers` crate, re-exported there: write
//! `use layers::Module;` and the trait and the derive come together (as with serde's
//! `Serialize`). Its documentation is on [`Module`](macro@Module).
//!
//! | file | concept |
//! |---|---|
//! | `attrs.rs` | reading the struct: the `ModuleCore` field, field roles, names, checks |
//! | `expand.rs` | the generated `impl layers::Module` |

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

mod attrs;
mod expand;

/// Implements `layers::Module` for a struct from attributes on its fields; you write the
/// forward pass in an `impl layers::Forward`.
///
/// # The design in one paragraph
///
/// A module is a struct. Its fields say what they are: `#[param]` (trained, saved in the
/// state dict, moved between devices), `#[buffer]` (saved and moved, never trained: running
/// statistics, counters), `#[module]` (a child, whose tensors get dotted names), or nothing
/// (a plain field: configuration, or a tensor that is neither trained nor saved). One field
/// of type `layers::ModuleCore` holds the train/eval flag and the forward hooks. The derive
/// writes every structural method of `Module` (`type_name`, `local_parameters`,
/// `local_buffers`, `children`, `train_flag`, `hooks`, `int64_buffer`) and hands
/// `Module::forward` and `Module::describe` to the `layers::Forward` trait, which is the one
/// `impl` block you write. Every module can be downcast (`m.as_any().downcast_ref::<T>()`,
/// through `layers::AsAny`) without writing anything.
///
/// # Example
///
/// The seed notebook's `MyModel`: a plain tensor, a buffer and a parameter.
///
/// ```
/// use autograd::Var;
/// use layers::{state_dict, Forward, Module, ModuleCore, ModuleExt};
/// use tensor::{DType, Device, Result, Tensor};
///
/// #[derive(Module)]
/// struct MyModel {
///     my_tensor: Tensor, // plain: neither trained, saved nor moved
///     #[buffer]
///     my_buffer: Var, // saved and moved, never trained
///     #[param]
///     my_param: Var, // trained, saved and moved
///     core: ModuleCore, // train/eval flag and hooks
/// }
///
/// impl Forward for MyModel {
///     fn forward(&self, x: &Var) -> Result<Var> {
///         x.mul(&self.my_param)?.add(&self.my_buffer)
///     }
/// }
///
/// let t = |v: f64| Tensor::full(&[2], v, DType::F32, Device::Cpu).unwrap();
/// let m = MyModel {
///     my_tensor: t(1.0),
///     my_buffer: Var::constant(t(2.0)),
///     my_param: Var::parameter(t(3.0)),
///     core: ModuleCore::default(),
/// };
/// // Only the parameter is trained ...
/// let params = m.parameters();
/// assert_eq!(params.len(), 1);
/// assert_eq!(params[0].id(), m.my_param.id());
/// // ... the parameter and the buffer are saved (parameters first, as in PyTorch) ...
/// let names: Vec<String> = state_dict(&m).names().map(str::to_string).collect();
/// assert_eq!(names, ["my_param", "my_buffer"]);
/// // ... and moved; the plain tensor stays as it was.
/// m.to_dtype(DType::F64).unwrap();
/// assert_eq!(m.my_param.value().dtype(), DType::F64);
/// assert_eq!(m.my_buffer.value().dtype(), DType::F64);
/// assert_eq!(m.my_tensor.dtype(), DType::F32);
/// // Modes, hooks and downcasting come with the derive.
/// m.eval();
/// assert!(!m.is_training());
/// let as_dyn: &dyn Module = &m;
/// assert!(as_dyn.as_any().downcast_ref::<MyModel>().is_some());
/// let x = Var::constant(Tensor::full(&[2], 1.0, DType::F64, Device::Cpu).unwrap());
/// assert_eq!(m.call(&x).unwrap().value().to_vec_f64().unwrap(), [5.0, 5.0]);
/// ```
///
/// # Attributes
///
/// | attribute | field type | meaning |
/// |---|---|---|
/// | `#[param]` | `Var`, `Option<Var>` | a parameter named after the field (skipped when `None`) |
/// | `#[param(name = "w")]` | the same | ... named `w` instead |
/// | `#[buffer]` | `Var`, `Option<Var>` | a buffer named after the field (skipped when `None`) |
/// | `#[buffer(int64)]` | the same | ... that checkpoints store as `int64` (`num_batches_tracked`); it stays a float in memory |
/// | `#[buffer(name = "n", int64)]` | the same | options combine |
/// | `#[module]` | `T: Module`, `Box<dyn Module>`, `Option<_>`, `Vec<_>` of those | a child named after the field; `None` is skipped; a `Vec`'s elements are `field.0`, `field.1`, ... (like an `nn.ModuleList` attribute) |
/// | `#[module(name = "body")]` | the same | ... named `body` instead |
/// | `#[module(flatten)]` | a `Vec<_>` | the elements are children `0`, `1`, ... themselves (like `nn.Sequential`); once per struct |
/// | none | anything | a plain field |
/// | `#[module(type_name = "X")]` on the struct | | `Module::type_name` (default: the struct's name) |
///
/// Local names come in declaration order: parameters, then buffers, then children, which
/// is the state-dict order (`0.weight`, `0.bias`, `2.running_mean`, ...). The field of type
/// `ModuleCore` (found by its type; exactly one) takes no attribute. The derive refuses,
/// with an error on the field: a field with two roles, an unknown option, an empty or dotted
/// name, two slots of the same name, a missing or second `ModuleCore`, `flatten` on a
/// non-`Vec`. A field whose type does not fit its attribute is an error on that type, with
/// the accepted types (`layers::TensorField`, `layers::ChildField`).
///
/// Generic structs work: the impl requires every type parameter to be `'static` (modules
/// are downcast through `std::any::Any`).
///
/// # Writing `Forward`
///
/// `fn forward(&self, x: &Var) -> Result<Var>`: use `self.is_training()` where train and
/// eval differ, run children with `child.call(x)` (which runs their hooks), update buffers
/// in place (`var.update_value(...)`). Optionally `fn describe(&self) -> String` for a
/// one-line configuration (`"BatchNorm2d(8, eps=0.00001, momentum=0.1)"`); the type name
/// otherwise. Callers use `Module::forward`/`call`/`describe`; with both `Module` and
/// `Forward` imported, `concrete.forward(x)` is ambiguous (E0034), so call children through
/// `call`, or import only `Module` where you call concrete modules.
///
/// # Mistakes it catches
///
/// A parameter that is not a tensor slot is an error on the field's type:
///
/// ```compile_fail,E0277
/// use autograd::Var;
/// use layers::{Forward, Module, ModuleCore};
///
/// #[derive(Module)]
/// struct Bad {
///     #[param]
///     size: usize, // error: a `#[param]` or `#[buffer]` field must be a `Var` or an `Option<Var>`, not `usize`
///     core: ModuleCore,
/// }
/// impl Forward for Bad {
///     fn forward(&self, x: &Var) -> tensor::Result<Var> {
///         Ok(x.clone())
///     }
/// }
/// ```
///
/// A misspelt attribute is unknown to the compiler:
///
/// ```compile_fail
/// use autograd::Var;
/// use layers::{Forward, Module, ModuleCore};
///
/// #[derive(Module)]
/// struct Bad {
///     #[parm] // error: cannot find attribute `parm` in this scope
///     weight: Var,
///     core: ModuleCore,
/// }
/// impl Forward for Bad {
///     fn forward(&self, x: &Var) -> tensor::Result<Var> {
///         Ok(x.clone())
///     }
/// }
/// ```
///
/// and a misspelt option is an error of the derive:
///
/// ```compile_fail
/// use autograd::Var;
/// use layers::{Forward, Module, ModuleCore};
///
/// #[derive(Module)]
/// struct Bad {
///     #[buffer(int46)] // error: unknown option of `#[buffer(...)]`: expected `name = "..."` or `int64`
///     count: Var,
///     core: ModuleCore,
/// }
/// impl Forward for Bad {
///     fn forward(&self, x: &Var) -> tensor::Result<Var> {
///         Ok(x.clone())
///     }
/// }
/// ```
///
/// Forgetting the `ModuleCore` field, or the `impl Forward`, is an error too:
///
/// ```compile_fail,E0277
/// use autograd::Var;
/// use layers::{Module, ModuleCore};
///
/// #[derive(Module)] // error: `NoForward` has no forward pass
/// struct NoForward {
///     #[param]
///     weight: Var,
///     core: ModuleCore,
/// }
/// ```
#[proc_macro_derive(Module, attributes(param, buffer, module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match attrs::parse(&input) {
        Ok(def) => expand::expand(&def).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[cfg(test)]
mod tests;
