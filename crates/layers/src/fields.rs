//! The field types `#[derive(Module)]` accepts, as two traits its generated code calls with
//! each attributed field (spanned on the field's type, so a wrong type is reported there):
//!
//! - [`TensorField`] for `#[param]` and `#[buffer]`: `Var`, or `Option<Var>` (absent when
//!   `None`, like a convolution without bias).
//! - [`ChildField`] for `#[module]`: any `T: Module`, `Box<dyn Module>`, and `Option`s
//!   (absent when `None`) and `Vec`s (elements named `name.0`, `name.1`, ..., or `0`, `1`,
//!   ... with an empty name) of those.

use autograd::Var;

use crate::module::{join, Module, Named};

/// A `#[param]` or `#[buffer]` field: zero or one tensor slot.
#[diagnostic::on_unimplemented(
    message = "a `#[param]` or `#[buffer]` field must be a `Var` or an `Option<Var>`, not `{Self}`",
    label = "not a tensor slot",
    note = "leave configuration (sizes, eps, flags) and plain tensors without an attribute: they are neither trained nor saved"
)]
pub trait TensorField {
    /// Appends `(name, var)` to `out` when there is a var.
    fn push_named<'a>(&'a self, name: &'static str, out: &mut Vec<Named<'a>>);
}

impl TensorField for Var {
    fn push_named<'a>(&'a self, name: &'static str, out: &mut Vec<Named<'a>>) {
        out.push((name, self));
    }
}

impl TensorField for Option<Var> {
    fn push_named<'a>(&'a self, name: &'static str, out: &mut Vec<Named<'a>>) {
        if let Some(v) = self {
            out.push((name, v));
        }
    }
}

/// A `#[module]` field: zero or more named children.
#[diagnostic::on_unimplemented(
    message = "a `#[module]` field must be a module (`T: Module` or `Box<dyn Module>`), or an `Option` or `Vec` of them, not `{Self}`",
    label = "not a child module"
)]
pub trait ChildField {
    /// Appends this field's children to `out`, named from `name`.
    fn push_children<'a>(&'a self, name: &str, out: &mut Vec<(String, &'a dyn Module)>);
}

impl<T: Module> ChildField for T {
    fn push_children<'a>(&'a self, name: &str, out: &mut Vec<(String, &'a dyn Module)>) {
        out.push((name.to_string(), self));
    }
}

impl ChildField for Box<dyn Module> {
    fn push_children<'a>(&'a self, name: &str, out: &mut Vec<(String, &'a dyn Module)>) {
        out.push((name.to_string(), self.as_ref()));
    }
}

impl<T: ChildField> ChildField for Option<T> {
    fn push_children<'a>(&'a self, name: &str, out: &mut Vec<(String, &'a dyn Module)>) {
        if let Some(c) = self {
            c.push_children(name, out);
        }
    }
}

impl<T: ChildField> ChildField for Vec<T> {
    fn push_children<'a>(&'a self, name: &str, out: &mut Vec<(String, &'a dyn Module)>) {
        for (i, c) in self.iter().enumerate() {
            c.push_children(&join(name, &i.to_string()), out);
        }
    }
}
