//! `#[derive(Message)]`: the `Message` methods of a struct, or of an enum variant by variant.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields, Ident, Member, Path, Variant, parse_quote};

use crate::options::{Options, Place};

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let name = &input.ident;
    let place = match &input.data {
        Data::Struct(_) => Place::Struct,
        Data::Enum(_) => Place::Enum,
        Data::Union(_) => {
            return Err(syn::Error::new_spanned(
                name,
                "#[derive(Message)] works on structs and enums, not unions",
            ));
        }
    };
    let options = Options::parse(&input.attrs, place)?;
    let krate = crate_path(&options);
    let methods = match &input.data {
        Data::Enum(data) => {
            let variants: Vec<&Variant> = data.variants.iter().collect();
            enum_methods(name, &variants, &options, &krate)?
        }
        Data::Struct(data) => struct_methods(name, &data.fields, &options, &krate)?,
        Data::Union(_) => unreachable!("refused above"),
    };
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::Message for #name #type_generics #where_clause {
            #methods
        }
    })
}

fn crate_path(options: &Options) -> Path {
    options
        .krate
        .clone()
        .unwrap_or_else(|| parse_quote!(::tidings))
}

/// The error of an item that does not say which field holds its aggregate's id.
fn missing_aggregate(spanned: impl quote::ToTokens, what: &str) -> syn::Error {
    syn::Error::new_spanned(
        spanned,
        format!(
            "#[derive(Message)] needs `#[tidings(aggregate = field)]` on {what}: the field \
             holding the id of the entity the event is about"
        ),
    )
}

fn struct_methods(
    ident: &Ident,
    fields: &Fields,
    options: &Options,
    krate: &Path,
) -> syn::Result<TokenStream> {
    let name = ident.to_string();
    options.check_fields(fields, &name)?;
    let Some(aggregate) = &options.aggregate else {
        return Err(missing_aggregate(ident, &format!("`{name}`")));
    };
    let message_type = options
        .message_type
        .as_ref()
        .map_or_else(|| quote!(#name), |t| quote!(#t));
    let field = |member: &Member| quote!(&self.#member);
    let aggregate = field(aggregate);
    let mut methods = quote! {
        fn message_type(&self) -> &str { #message_type }
        fn aggregate_id(&self) -> ::std::string::String {
            ::std::string::ToString::to_string(#aggregate)
        }
    };
    methods.extend(optional_methods(options, krate, field));
    Ok(methods)
}

/// The methods an option overrides, for a struct: nothing where the trait's default stands.
fn optional_methods(
    options: &Options,
    krate: &Path,
    field: impl Fn(&Member) -> TokenStream,
) -> TokenStream {
    let mut methods = TokenStream::new();
    if let Some(key) = &options.key {
        let key = field(key);
        methods.extend(quote! {
            fn partition_key(&self) -> ::std::string::String {
                ::std::string::ToString::to_string(#key)
            }
        });
    }
    if let Some(topic) = &options.topic {
        methods.extend(quote! {
            fn topic(&self) -> ::std::option::Option<&str> { ::std::option::Option::Some(#topic) }
        });
    }
    if let Some(subject) = &options.subject {
        let subject = field(subject);
        methods.extend(quote! {
            fn subject(&self) -> ::std::option::Option<::std::string::String> {
                ::std::option::Option::Some(::std::string::ToString::to_string(#subject))
            }
        });
    }
    if let Some(id) = &options.id {
        let id = field(id);
        methods.extend(quote! {
            fn message_id(&self) -> #krate::MessageId {
                #krate::MessageId::from(::std::clone::Clone::clone(#id))
            }
        });
    }
    methods
}

/// One variant and its options, the enum's filled in.
struct EventVariant<'a> {
    ident: &'a Ident,
    options: Options,
}

fn enum_methods(
    name: &Ident,
    variants: &[&Variant],
    outer: &Options,
    krate: &Path,
) -> syn::Result<TokenStream> {
    if variants.is_empty() {
        return Err(syn::Error::new_spanned(
            name,
            "#[derive(Message)] needs at least one variant: each is an event type",
        ));
    }
    let mut events = Vec::new();
    for variant in variants {
        let options = Options::parse(&variant.attrs, Place::Variant)?.or(outer);
        let owner = format!("{name}::{}", variant.ident);
        options.check_fields(&variant.fields, &owner)?;
        if options.aggregate.is_none() {
            return Err(missing_aggregate(
                &variant.ident,
                &format!("`{owner}` (or on the enum)"),
            ));
        }
        events.push(EventVariant {
            ident: &variant.ident,
            options,
        });
    }
    let types = events.iter().map(|event| {
        let ident = event.ident;
        let name = ident.to_string();
        let message_type = event
            .options
            .message_type
            .as_ref()
            .map_or_else(|| quote!(#name), |t| quote!(#t));
        quote!(Self::#ident { .. } => #message_type,)
    });
    let to_string = |value: TokenStream| quote!(::std::string::ToString::to_string(#value));
    let aggregate = matched(&events, |o| o.aggregate.as_ref(), to_string, quote!());
    let mut methods = quote! {
        fn message_type(&self) -> &str { match self { #(#types)* } }
        fn aggregate_id(&self) -> ::std::string::String { #aggregate }
    };
    methods.extend(optional_enum_methods(&events, krate));
    Ok(methods)
}

/// The methods an option overrides on some variant, for an enum; the others keep the trait's
/// default behaviour.
fn optional_enum_methods(events: &[EventVariant], krate: &Path) -> TokenStream {
    let mut methods = TokenStream::new();
    let to_string = |value: TokenStream| quote!(::std::string::ToString::to_string(#value));
    if events.iter().any(|e| e.options.key.is_some()) {
        let aggregate = quote!(#krate::Message::aggregate_id(self));
        let key = matched(events, |o| o.key.as_ref(), to_string, aggregate);
        methods.extend(quote! { fn partition_key(&self) -> ::std::string::String { #key } });
    }
    if events.iter().any(|e| e.options.topic.is_some()) {
        let arms = events.iter().map(|event| {
            let ident = event.ident;
            match &event.options.topic {
                Some(topic) => quote!(Self::#ident { .. } => ::std::option::Option::Some(#topic),),
                None => quote!(Self::#ident { .. } => ::std::option::Option::None,),
            }
        });
        methods.extend(quote! {
            fn topic(&self) -> ::std::option::Option<&str> { match self { #(#arms)* } }
        });
    }
    if events.iter().any(|e| e.options.subject.is_some()) {
        let some = |value: TokenStream| quote!(::std::option::Option::Some(::std::string::ToString::to_string(#value)));
        let none = quote!(::std::option::Option::None);
        let subject = matched(events, |o| o.subject.as_ref(), some, none);
        methods.extend(quote! {
            fn subject(&self) -> ::std::option::Option<::std::string::String> { #subject }
        });
    }
    if events.iter().any(|e| e.options.id.is_some()) {
        let from = |value: TokenStream| quote!(#krate::MessageId::from(::std::clone::Clone::clone(#value)));
        let id = matched(
            events,
            |o| o.id.as_ref(),
            from,
            quote!(#krate::MessageId::new()),
        );
        methods.extend(quote! { fn message_id(&self) -> #krate::MessageId { #id } });
    }
    methods
}

/// A `match self` that binds, in each variant, the field `pick` names and gives `body` of it,
/// or `fallback` where the variant names none.
fn matched(
    events: &[EventVariant],
    pick: impl Fn(&Options) -> Option<&Member>,
    body: impl Fn(TokenStream) -> TokenStream,
    fallback: TokenStream,
) -> TokenStream {
    let value = format_ident!("__tidings_field");
    let arms = events.iter().map(|event| {
        let ident = event.ident;
        match pick(&event.options) {
            Some(member) => {
                let body = body(quote!(#value));
                quote!(Self::#ident { #member: #value, .. } => #body,)
            }
            None => quote!(Self::#ident { .. } => #fallback,),
        }
    });
    quote!(match self { #(#arms)* })
}
