//! What the derive reads from a struct, and each refusal with its message.

use syn::{parse_quote, DeriveInput};

use crate::attrs::{parse, ModuleDef, Role};

fn read(input: DeriveInput) -> ModuleDef {
    parse(&input).unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

fn refusal(input: DeriveInput) -> String {
    match parse(&input) {
        Ok(def) => panic!("expected an error, got a module `{}`", def.type_name),
        Err(e) => e.to_string(),
    }
}

fn roles(def: &ModuleDef) -> Vec<(String, Role)> {
    def.slots.iter().map(|s| (s.name.clone(), s.role)).collect()
}

#[test]
fn fields_become_named_slots_in_declaration_order() {
    let def = read(parse_quote! {
        struct Norm {
            channels: usize,
            #[param] weight: Var,
            #[param(name = "b")] r#bias: Option<Var>,
            #[buffer] running_mean: Var,
            #[buffer(int64, name = "n")] num_batches_tracked: Var,
            #[module] head: Option<Linear>,
            #[module(flatten)] layers: Vec<Box<dyn Module>>,
            state: ModuleCore,
        }
    });
    assert_eq!(def.type_name, "Norm");
    assert_eq!(def.core.to_string(), "state");
    assert_eq!(
        roles(&def),
        [
            ("weight".to_string(), Role::Param),
            ("b".to_string(), Role::Param),
            ("running_mean".to_string(), Role::Buffer { int64: false }),
            ("n".to_string(), Role::Buffer { int64: true }),
            ("head".to_string(), Role::Child { flatten: false }),
            (String::new(), Role::Child { flatten: true }),
        ]
    );
}

#[test]
fn the_type_name_can_be_set_on_the_struct() {
    let def = read(parse_quote! {
        #[module(type_name = "BatchNorm")]
        struct Bn { core: layers::ModuleCore }
    });
    assert_eq!(def.type_name, "BatchNorm");
    assert!(def.slots.is_empty());
}

#[test]
fn the_generated_int64_list_holds_exactly_the_marked_buffers() {
    let def = read(parse_quote! {
        struct Bn {
            #[buffer] running_var: Var,
            #[buffer(int64)] num_batches_tracked: Var,
            core: ModuleCore,
        }
    });
    let code = crate::expand::expand(&def).to_string();
    assert!(
        code.contains("matches ! (name , \"num_batches_tracked\")"),
        "{code}"
    );
    assert!(!code.contains("\"running_var\" |"), "{code}");
    let plain = read(parse_quote! { struct P { core: ModuleCore } });
    let code = crate::expand::expand(&plain).to_string();
    assert!(!code.contains("local_parameters"), "{code}");
    assert!(code.contains("let _ = name ; false"), "{code}");
}

#[test]
fn mistakes_are_refused_with_a_reason() {
    let cases: Vec<(DeriveInput, &str)> = vec![
        (
            parse_quote! { struct S { #[param] w: Var } },
            "needs a field of type `layers::ModuleCore`",
        ),
        (
            parse_quote! { struct S { a: ModuleCore, b: ModuleCore } },
            "a second one",
        ),
        (
            parse_quote! { struct S { #[param] core: ModuleCore } },
            "takes no attribute",
        ),
        (
            parse_quote! { struct S { #[param] #[buffer] w: Var, core: ModuleCore } },
            "one of `#[param]`, `#[buffer]`, `#[module]`, once",
        ),
        (
            parse_quote! { struct S { #[param(nmae = "w")] w: Var, core: ModuleCore } },
            "unknown option of `#[param(...)]`: expected `name = \"...\"`",
        ),
        (
            parse_quote! { struct S { #[buffer(int46)] n: Var, core: ModuleCore } },
            "unknown option of `#[buffer(...)]`: expected `name = \"...\"` or `int64`",
        ),
        (
            parse_quote! { struct S { #[param(int64)] w: Var, core: ModuleCore } },
            "unknown option of `#[param(...)]`",
        ),
        (
            parse_quote! { struct S { #[param(name = "")] w: Var, core: ModuleCore } },
            "cannot be empty",
        ),
        (
            parse_quote! { struct S { #[param(name = "a.b")] w: Var, core: ModuleCore } },
            "contains a `.`",
        ),
        (
            parse_quote! { struct S { #[param] w: Var, #[buffer(name = "w")] v: Var, core: ModuleCore } },
            "two fields of this module are named `w`",
        ),
        (
            parse_quote! { struct S { #[module(flatten)] c: Conv2d, core: ModuleCore } },
            "this field is not a `Vec`",
        ),
        (
            parse_quote! { struct S { #[module(flatten)] a: Vec<Conv2d>, #[module(flatten)] b: Vec<Conv2d>, core: ModuleCore } },
            "only one field may be `#[module(flatten)]`",
        ),
        (
            parse_quote! { struct S { #[module(flatten, name = "x")] a: Vec<Conv2d>, core: ModuleCore } },
            "takes no `name`",
        ),
        (
            parse_quote! { #[module(name = "X")] struct S { core: ModuleCore } },
            "expected `type_name = \"...\"`",
        ),
        (
            parse_quote! { struct S(ModuleCore); },
            "a struct with named fields",
        ),
        (parse_quote! { enum S { A } }, "a struct with named fields"),
    ];
    for (input, want) in cases {
        let got = refusal(input);
        assert!(got.contains(want), "`{got}` should say `{want}`");
    }
}
