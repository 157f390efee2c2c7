//! `#[audit_event]`, `#[domain_event]`, `#[publish_on_success]`, `#[publish_on_error]`: the
//! function's body runs as written; when it returns `Ok` (or `Err`), an event built from its
//! arguments and what it returned is published — staged in its unit of work when it has one.

mod options;
mod signature;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Expr, Ident, ItemFn, Path, parse_quote};

pub(crate) use options::Kind;
use options::{EventOptions, Field, literal};
use signature::Signature;

/// The function of `item`, publishing as `args` say.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let options = EventOptions::parse(kind, args)?;
    let mut function: ItemFn = syn::parse2(item)?;
    let signature = Signature::read(kind, &mut function)?;
    signature.check(&options)?;
    let krate: Path = options
        .krate
        .clone()
        .unwrap_or_else(|| parse_quote!(::tidings::events));
    let generate = Generate {
        options: &options,
        signature: &signature,
        krate: &krate,
    };
    let block = &function.block;
    let output = &signature.output;
    let before = generate.before();
    let after = generate.after();
    // The body gets a reborrow of the unit of work, so that it may move it and the event can
    // still be staged in it afterwards.
    let reborrow = signature
        .outbox(&options)
        .map(|work| quote!(let #work = &mut *#work;));
    function.block = parse_quote!({
        #before
        let __tidings_result: #output = async {
            // Fixes the block's output, so that `?` and `return` in the body mean what they
            // meant in the function.
            #[allow(unreachable_code)]
            if false {
                let __tidings_never: #output = loop {};
                return __tidings_never;
            }
            #reborrow
            #block
        }
        .await;
        #after
        __tidings_result
    });
    Ok(quote!(#function))
}

/// `item` without its `#[sensitive]` marks, which only these attributes understand.
pub(crate) fn unmarked(item: TokenStream) -> TokenStream {
    let Ok(mut function) = syn::parse2::<ItemFn>(item.clone()) else {
        return item;
    };
    for input in &mut function.sig.inputs {
        if let syn::FnArg::Typed(typed) = input {
            typed.attrs.retain(|a| !a.path().is_ident("sensitive"));
        }
    }
    quote!(#function)
}

struct Generate<'a> {
    options: &'a EventOptions,
    signature: &'a Signature,
    krate: &'a Path,
}

impl Generate<'_> {
    /// What is read from the arguments before the body runs (and may move them).
    fn before(&self) -> TokenStream {
        let mut code = TokenStream::new();
        for (field, var) in self.fields() {
            if !self.signature.is_returned(field) {
                let (root, path) = (&field.root, &field.path);
                code.extend(quote! {
                    let #var = ::std::string::ToString::to_string(&#root #(.#path)*);
                });
            }
        }
        if self.options.include_args {
            code.extend(self.arguments());
        }
        code.extend(self.names());
        code
    }

    /// The event's names (type, action, resource or aggregate type), evaluated before the
    /// body as the fields are, so that they may read arguments the body moves.
    fn names(&self) -> TokenStream {
        let o = self.options;
        let event_type = o.event_type.as_ref().expect("checked when parsed");
        let event_type = match o.kind {
            Kind::Audit => audit_type(event_type, self.krate),
            _ => quote!(#event_type),
        };
        let others = [
            (&o.action, "action"),
            (&o.resource_type, "resource_type"),
            (&o.aggregate_type, "aggregate_type"),
        ];
        let mut code = quote!(let __tidings_event_type = #event_type;);
        for (given, name) in others {
            if let Some(given) = given {
                let var = format_ident!("__tidings_{name}");
                code.extend(quote!(let #var = #given;));
            }
        }
        code
    }

    /// The fields the options name, each with the variable that holds it as text.
    fn fields(&self) -> Vec<(&Field, Ident)> {
        let o = self.options;
        [
            (&o.resource_id, "resource_id"),
            (&o.aggregate_id, "aggregate_id"),
            (&o.key, "key"),
            (&o.user_id, "user_id"),
        ]
        .into_iter()
        .filter_map(|(field, name)| Some((field.as_ref()?, format_ident!("__tidings_{name}"))))
        .collect()
    }

    /// The arguments as a JSON object: not `self`, not a `&mut` (a unit of work, a
    /// transaction), not a sensitive one; sensitive fields inside them left out.
    fn arguments(&self) -> TokenStream {
        let outbox = self.signature.outbox(self.options);
        let publisher = self.options.publisher.as_ref().and_then(single_ident);
        // A sensitive argument as a whole is never serialized: a secret type need not be
        // `Serialize`.
        let whole: Vec<&Ident> = self
            .options
            .sensitive
            .iter()
            .filter(|f| f.path.is_empty())
            .map(|f| &f.root)
            .collect();
        let included = self.signature.params.iter().filter(|p| {
            !p.sensitive
                && !p.mutable_borrow
                && Some(&p.name) != outbox
                && Some(&p.name) != publisher
                && !whole.contains(&&p.name)
        });
        let krate = self.krate;
        let pairs = included.map(|p| {
            let (name, text) = (&p.name, syn::ext::IdentExt::unraw(&p.name).to_string());
            quote!((#text, #krate::__private::to_value(&#name)))
        });
        let sensitive = self
            .options
            .sensitive
            .iter()
            .filter(|f| !f.path.is_empty())
            .map(|field| {
                let names = field.names();
                quote!(&[#(#names),*])
            });
        quote! {
            let __tidings_args = #krate::__private::arguments(
                ::std::vec![#(#pairs),*],
                &[#(#sensitive),*],
            );
        }
    }

    /// Builds and publishes the event once the body has returned.
    fn after(&self) -> TokenStream {
        let krate = self.krate;
        let returned: TokenStream = self
            .fields()
            .into_iter()
            .filter(|(field, _)| self.signature.is_returned(field))
            .map(|(field, var)| {
                let path = &field.path;
                quote!(let #var = ::std::string::ToString::to_string(&__tidings_value #(.#path)*);)
            })
            .collect();
        let (event_type, build, method, topic) = self.event();
        let user_id = self.options.user_id.as_ref().map(|_| {
            quote!(__tidings_event.metadata.user_id = ::std::option::Option::Some(__tidings_user_id);)
        });
        let publisher = self.publisher();
        let outbox = match self.signature.outbox(self.options) {
            Some(work) => {
                quote!(::std::option::Option::Some(#krate::__private::outbox(&mut *#work)))
            }
            None => quote!(::std::option::Option::None),
        };
        let on = if self.options.kind == Kind::OnError {
            quote!(::core::result::Result::Err)
        } else {
            quote!(::core::result::Result::Ok)
        };
        let failed = self.failed();
        quote! {
            if let #on(__tidings_value) = &__tidings_result {
                #returned
                let __tidings_event = (|| -> ::core::result::Result<#event_type, #krate::EventError> {
                    #[allow(unused_mut)]
                    let mut __tidings_event = #build;
                    #user_id
                    ::core::result::Result::Ok(__tidings_event)
                })();
                let __tidings_published = match __tidings_event {
                    ::core::result::Result::Ok(__tidings_event) => {
                        use #krate::PublishEvents as _;
                        (#publisher).#method(#outbox, #topic __tidings_event).await
                    }
                    ::core::result::Result::Err(__tidings_error) => {
                        ::core::result::Result::Err(__tidings_error)
                    }
                };
                #failed
            }
        }
    }

    /// What a failure to publish does: the function's error after `Ok`; after `Err`, a warning
    /// (the function's own error is the one to return).
    fn failed(&self) -> TokenStream {
        let krate = self.krate;
        if self.options.kind == Kind::OnError {
            let function = self.signature.name.to_string();
            quote! {
                if let ::core::result::Result::Err(__tidings_error) = &__tidings_published {
                    #krate::__private::unpublished(#function, __tidings_error);
                }
            }
        } else {
            quote! {
                if let ::core::result::Result::Err(__tidings_error) = __tidings_published {
                    return ::core::result::Result::Err(::core::convert::From::from(__tidings_error));
                }
            }
        }
    }

    /// The publisher: as given, or the one `self` has through `HasEvents`.
    fn publisher(&self) -> TokenStream {
        let krate = self.krate;
        match &self.options.publisher {
            Some(publisher) => quote!(#publisher),
            None => quote!(<Self as #krate::HasEvents>::events(&self)),
        }
    }

    /// The event's type, the expression that builds it (with `?` on `EventError`), the
    /// publisher's method, and the topic argument `publish` takes before the event.
    fn event(&self) -> (TokenStream, TokenStream, TokenStream, TokenStream) {
        let (o, krate) = (self.options, self.krate);
        let event_type = quote!(__tidings_event_type);
        let args = quote!(__tidings_args?);
        match o.kind {
            Kind::Audit => {
                let mut build = quote!(#krate::AuditEvent::new(
                    __tidings_event_type, __tidings_action, __tidings_resource_type
                ));
                if o.resource_id.is_some() {
                    build = quote!(#build.with_resource_id(__tidings_resource_id));
                }
                if o.include_args {
                    build = quote!(#build.with_details(#args));
                }
                (
                    quote!(#krate::AuditEvent),
                    build,
                    quote!(publish_audit_event),
                    quote!(),
                )
            }
            Kind::Domain => {
                let aggregate_type = quote!(__tidings_aggregate_type);
                let data = self.data(
                    "result",
                    quote!(#krate::__private::to_value(__tidings_value)?),
                );
                let build = quote!(#krate::DomainEvent::new(
                    #aggregate_type, __tidings_aggregate_id, #event_type, #data
                ));
                (
                    quote!(#krate::DomainEvent),
                    build,
                    quote!(publish_domain_event),
                    quote!(),
                )
            }
            Kind::OnSuccess | Kind::OnError => {
                let (name, value) = if o.kind == Kind::OnError {
                    (
                        "error",
                        quote!(#krate::__private::Value::String(::std::string::ToString::to_string(__tidings_value))),
                    )
                } else {
                    (
                        "result",
                        quote!(#krate::__private::to_value(__tidings_value)?),
                    )
                };
                let data = self.object(name, value);
                let topic = &o.topic;
                let build = quote!(#krate::CustomEvent::new(#event_type, __tidings_key, #data));
                (
                    quote!(#krate::CustomEvent),
                    build,
                    quote!(publish),
                    quote!(#topic,),
                )
            }
        }
    }

    /// A domain event's data: what the function returned, or with `include_args` an object of
    /// it and the arguments.
    fn data(&self, name: &str, value: TokenStream) -> TokenStream {
        if self.options.include_args {
            self.object(name, value)
        } else {
            value
        }
    }

    /// `{ name: value, "args": {…} }`, the arguments only with `include_args`.
    fn object(&self, name: &str, value: TokenStream) -> TokenStream {
        let krate = self.krate;
        let args = if self.options.include_args {
            quote!(::std::option::Option::Some(__tidings_args?))
        } else {
            quote!(::std::option::Option::None)
        };
        quote!(#krate::__private::outcome(#name, #value, #args))
    }
}

/// An audit event type: a variant's name (`DataCreated`), a name as text (`"DATA_CREATED"`,
/// or a custom one), or any expression of the type.
fn audit_type(given: &Expr, krate: &Path) -> TokenStream {
    if let Some(text) = literal(given) {
        return quote!(#krate::AuditEventType::from(#text));
    }
    match given {
        Expr::Path(path) if single_ident(given).is_some_and(is_variant_name) => {
            quote!(#krate::AuditEventType::#path)
        }
        other => quote!(#other),
    }
}

/// The identifier `expr` is, if it is a bare one.
fn single_ident(expr: &Expr) -> Option<&Ident> {
    match expr {
        Expr::Path(path) if path.qself.is_none() => path.path.get_ident(),
        _ => None,
    }
}

/// `DataCreated`, not `kind`: an UpperCamelCase name is a variant, anything else a value.
fn is_variant_name(ident: &Ident) -> bool {
    let name = ident.to_string();
    name.chars().next().is_some_and(char::is_uppercase) && !name.contains('_')
}
