//! The generated `impl ::layers::Module`: structural methods from the fields, `forward`,
//! `describe` and `forward_after_relu` handed to the user's `impl ::layers::Forward`.
//!
//! Each field is handed to a helper trait of `layers` (`TensorField` for parameters and
//! buffers, `ChildField` for children) with the call spanned on the field's type, so a
//! field of the wrong type is reported there, with that trait's message.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::attrs::{ModuleDef, Role, Slot};

/// The whole expansion of one struct.
pub(crate) fn expand(def: &ModuleDef) -> TokenStream {
    let ident = &def.ident;
    let mut generics = def.generics.clone();
    // `Module: AsAny` needs `Self: 'static`, hence every type parameter too.
    let params: Vec<_> = generics.type_params().map(|p| p.ident.clone()).collect();
    if !params.is_empty() {
        let wc = generics.make_where_clause();
        for p in params {
            wc.predicates.push(syn::parse_quote!(#p: 'static));
        }
    }
    let (impl_g, ty_g, where_c) = generics.split_for_impl();
    let type_name = &def.type_name;
    let core = &def.core;
    let private = quote!(::layers::__private);

    let parameters = tensor_method(
        quote!(local_parameters),
        def.with_role(|r| r == Role::Param),
    );
    let buffers = tensor_method(
        quote!(local_buffers),
        def.with_role(|r| matches!(r, Role::Buffer { .. })),
    );
    let children = children_method(def.with_role(|r| matches!(r, Role::Child { .. })));
    let int64: Vec<&str> = def
        .with_role(|r| r == Role::Buffer { int64: true })
        .map(|s| s.name.as_str())
        .collect();
    let int64_body = if int64.is_empty() {
        quote!(false)
    } else {
        quote!(::core::matches!(name, #(#int64)|*))
    };

    quote! {
        #[automatically_derived]
        impl #impl_g ::layers::Module for #ident #ty_g #where_c {
            fn type_name(&self) -> &'static str {
                #type_name
            }

            fn forward(&self, x: &#private::Var) -> #private::Result<#private::Var> {
                <Self as ::layers::Forward>::forward(self, x)
            }

            fn describe(&self) -> ::std::string::String {
                <Self as ::layers::Forward>::describe(self)
            }

            fn forward_after_relu(
                &self,
                z: &#private::Var,
            ) -> ::core::option::Option<#private::Result<#private::Var>> {
                <Self as ::layers::Forward>::forward_after_relu(self, z)
            }

            #parameters
            #buffers
            #children

            fn train_flag(&self) -> &::layers::TrainFlag {
                ::layers::ModuleCore::train_flag(&self.#core)
            }

            fn hooks(&self) -> &::layers::HookList {
                ::layers::ModuleCore::hooks(&self.#core)
            }

            fn int64_buffer(&self, name: &str) -> bool {
                let _ = name;
                #int64_body
            }
        }
    }
}

/// `local_parameters` or `local_buffers` over the given fields (nothing when there are
/// none: the trait's default is the empty list).
fn tensor_method<'a>(method: TokenStream, slots: impl Iterator<Item = &'a Slot>) -> TokenStream {
    let pushes: Vec<TokenStream> = slots
        .map(|s| {
            let (field, ty, name) = (&s.ident, &s.ty, &s.name);
            quote_spanned! {ty.span()=>
                <#ty as ::layers::__private::TensorField>::push_named(&self.#field, #name, &mut out);
            }
        })
        .collect();
    if pushes.is_empty() {
        return TokenStream::new();
    }
    quote! {
        fn #method(&self) -> ::std::vec::Vec<::layers::Named<'_>> {
            let mut out = ::std::vec::Vec::new();
            #(#pushes)*
            out
        }
    }
}

/// `children` over the `#[module]` fields.
fn children_method<'a>(slots: impl Iterator<Item = &'a Slot>) -> TokenStream {
    let pushes: Vec<TokenStream> = slots
        .map(|s| {
            let (field, ty, name) = (&s.ident, &s.ty, &s.name);
            quote_spanned! {ty.span()=>
                <#ty as ::layers::__private::ChildField>::push_children(&self.#field, #name, &mut out);
            }
        })
        .collect();
    if pushes.is_empty() {
        return TokenStream::new();
    }
    quote! {
        fn children(&self) -> ::std::vec::Vec<(::std::string::String, &dyn ::layers::Module)> {
            let mut out = ::std::vec::Vec::new();
            #(#pushes)*
            out
        }
    }
}
