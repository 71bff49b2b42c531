//! Reading a `#[derive(Module)]` struct: which field is the `ModuleCore`, which are
//! parameters, buffers and children (with their local names), and the type name. Every
//! mistake is a `syn::Error` spanned on the attribute or field at fault.

use std::collections::HashSet;

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Field, Fields, Generics, Ident, LitStr, Type};

/// The type whose field holds the train/eval flag and the hooks.
pub(crate) const CORE_TYPE: &str = "ModuleCore";

/// What a field is to the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// `#[param]`: trained, saved, moved.
    Param,
    /// `#[buffer]`: saved and moved, never trained; `int64`: stored as int64 in files.
    Buffer { int64: bool },
    /// `#[module]`: a child (or several); `flatten`: a `Vec`'s elements named `0`, `1`, ...
    /// with no field prefix.
    Child { flatten: bool },
}

/// One attributed field.
pub(crate) struct Slot {
    pub ident: Ident,
    pub ty: Type,
    /// The local name (`""` for a flattened `Vec` of children).
    pub name: String,
    pub role: Role,
}

/// Everything the expansion needs.
pub(crate) struct ModuleDef {
    pub ident: Ident,
    pub generics: Generics,
    pub type_name: String,
    pub core: Ident,
    pub slots: Vec<Slot>,
}

impl ModuleDef {
    /// The slots of one kind of role, in declaration order.
    pub fn with_role(&self, keep: impl Fn(Role) -> bool) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter(move |s| keep(s.role))
    }
}

/// Reads the struct, or says precisely what is wrong with it.
pub(crate) fn parse(input: &DeriveInput) -> syn::Result<ModuleDef> {
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(f) => &f.named,
            _ => return Err(not_a_struct(input.ident.span())),
        },
        _ => return Err(not_a_struct(input.ident.span())),
    };
    let type_name = struct_type_name(&input.attrs)?.unwrap_or_else(|| input.ident.to_string());
    let mut core: Option<Ident> = None;
    let mut slots = Vec::new();
    for field in fields {
        let ident = field.ident.clone().expect("named fields have names");
        let role = field_role(field)?;
        if is_core_type(&field.ty) {
            if let Some((_, span)) = role {
                return Err(syn::Error::new(
                    span,
                    "the `ModuleCore` field holds the train/eval flag and hooks; it takes no attribute",
                ));
            }
            if core.is_some() {
                return Err(syn::Error::new(
                    field.ty.span(),
                    "a module has one `ModuleCore` field; this is a second one",
                ));
            }
            core = Some(ident);
            continue;
        }
        if let Some(((role, name), _)) = role {
            let name = name.unwrap_or_else(|| {
                if matches!(role, Role::Child { flatten: true }) {
                    String::new()
                } else {
                    ident.unraw().to_string()
                }
            });
            if matches!(role, Role::Child { flatten: true }) && !is_vec(&field.ty) {
                return Err(syn::Error::new(
                    field.ty.span(),
                    "`#[module(flatten)]` names the elements of a `Vec` field `0`, `1`, ...; this field is not a `Vec`",
                ));
            }
            slots.push(Slot {
                ident,
                ty: field.ty.clone(),
                name,
                role,
            });
        }
    }
    let core = core.ok_or_else(|| {
        syn::Error::new(
            input.ident.span(),
            "`#[derive(Module)]` needs a field of type `layers::ModuleCore` (the train/eval flag \
             and forward hooks): add `core: ModuleCore` and set it to `ModuleCore::default()`",
        )
    })?;
    check_names(&slots)?;
    Ok(ModuleDef {
        ident: input.ident.clone(),
        generics: input.generics.clone(),
        type_name,
        core,
        slots,
    })
}

fn not_a_struct(span: Span) -> syn::Error {
    syn::Error::new(
        span,
        "`#[derive(Module)]` works on a struct with named fields",
    )
}

/// Local names must be non-empty, dot-free and distinct (a flattened `Vec` may stand once).
fn check_names(slots: &[Slot]) -> syn::Result<()> {
    let mut seen = HashSet::new();
    let mut flattened = false;
    for s in slots {
        if s.name.is_empty() {
            if flattened {
                return Err(syn::Error::new(
                    s.ident.span(),
                    "only one field may be `#[module(flatten)]`: their elements' names `0`, `1`, ... would collide",
                ));
            }
            flattened = true;
            continue;
        }
        if s.name.contains('.') {
            return Err(syn::Error::new(
                s.ident.span(),
                format!(
                    "the name `{}` contains a `.`, which separates levels of dotted names",
                    s.name
                ),
            ));
        }
        if !seen.insert(s.name.clone()) {
            return Err(syn::Error::new(
                s.ident.span(),
                format!("two fields of this module are named `{}`", s.name),
            ));
        }
    }
    Ok(())
}

/// `#[module(type_name = "...")]` on the struct.
fn struct_type_name(attrs: &[Attribute]) -> syn::Result<Option<String>> {
    let mut out = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("type_name") {
                let lit: LitStr = meta.value()?.parse()?;
                if out.replace(lit.value()).is_some() {
                    return Err(meta.error("`type_name` is given twice"));
                }
                Ok(())
            } else {
                Err(meta.error(
                    "unknown option of `#[module(...)]` on a struct: expected `type_name = \"...\"`",
                ))
            }
        })?;
    }
    Ok(out)
}

/// The field's role and optional name, with the attribute's span; `None` for a plain field.
type FieldRole = Option<((Role, Option<String>), Span)>;

fn field_role(field: &Field) -> syn::Result<FieldRole> {
    let mut found: FieldRole = None;
    for attr in &field.attrs {
        let kind = if attr.path().is_ident("param") {
            "param"
        } else if attr.path().is_ident("buffer") {
            "buffer"
        } else if attr.path().is_ident("module") {
            "module"
        } else {
            continue;
        };
        if found.is_some() {
            return Err(syn::Error::new(
                attr.span(),
                "a field takes one of `#[param]`, `#[buffer]`, `#[module]`, once",
            ));
        }
        found = Some((field_options(attr, kind)?, attr.span()));
    }
    Ok(found)
}

/// The options of one field attribute (`name = "..."`; `int64` on buffers; `flatten` on
/// children).
fn field_options(attr: &Attribute, kind: &str) -> syn::Result<(Role, Option<String>)> {
    let mut name: Option<String> = None;
    let (mut int64, mut flatten) = (false, false);
    if !matches!(attr.meta, syn::Meta::Path(_)) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value().is_empty() {
                    return Err(syn::Error::new(lit.span(), "a name cannot be empty"));
                }
                if name.replace(lit.value()).is_some() {
                    return Err(meta.error("`name` is given twice"));
                }
            } else if kind == "buffer" && meta.path.is_ident("int64") {
                int64 = true;
            } else if kind == "module" && meta.path.is_ident("flatten") {
                flatten = true;
            } else {
                let expected = match kind {
                    "buffer" => "`name = \"...\"` or `int64`",
                    "module" => "`name = \"...\"` or `flatten`",
                    _ => "`name = \"...\"`",
                };
                return Err(meta.error(format!(
                    "unknown option of `#[{kind}(...)]`: expected {expected}"
                )));
            }
            Ok(())
        })?;
    }
    if flatten && name.is_some() {
        return Err(syn::Error::new(
            attr.span(),
            "`flatten` names the elements `0`, `1`, ... without a prefix, so it takes no `name`",
        ));
    }
    let role = match kind {
        "param" => Role::Param,
        "buffer" => Role::Buffer { int64 },
        _ => Role::Child { flatten },
    };
    Ok((role, name))
}

/// The last segment of a path type, if it is one.
fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

fn is_core_type(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == CORE_TYPE)
}

fn is_vec(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == "Vec")
}
