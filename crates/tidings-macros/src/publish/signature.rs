//! What the attributes read from the function they go on: is it async, does it return a
//! `Result`, which arguments it has, which of them are sensitive or a unit of work.

use proc_macro2::Span;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use super::options::{EventOptions, Field, Kind, OutboxChoice};

/// The names of the attributes of this module, so that stacked ones leave `#[sensitive]` for
/// each other.
const ATTRIBUTES: [&str; 4] = [
    "audit_event",
    "domain_event",
    "publish_on_success",
    "publish_on_error",
];

/// One argument bound to a name.
pub(crate) struct Param {
    pub(crate) name: Ident,
    pub(crate) sensitive: bool,
    /// `&mut …`: a unit of work or a transaction, never included in the arguments.
    pub(crate) mutable_borrow: bool,
    /// `&mut Work<…>`: where the event is staged unless `outbox` says otherwise.
    pub(crate) is_work: bool,
}

pub(crate) struct Signature {
    pub(crate) name: Ident,
    pub(crate) params: Vec<Param>,
    pub(crate) has_self: bool,
    pub(crate) output: Type,
}

impl Signature {
    /// Reads `function`, refusing one that is not async or returns no `Result`, and removes the
    /// `#[sensitive]` marks once no other attribute of this module is left to read them.
    pub(crate) fn read(kind: Kind, function: &mut ItemFn) -> syn::Result<Self> {
        let attribute = kind.name();
        if function.sig.asyncness.is_none() {
            return Err(syn::Error::new(
                Span::call_site(),
                format!(
                    "#[{attribute}] goes on an `async fn`: it publishes when the function's \
                     future has returned, and `{}` is not async",
                    function.sig.ident
                ),
            ));
        }
        let output = returned_result(kind, &function.sig.output)?;
        let last = !function.attrs.iter().any(|a| {
            a.path()
                .segments
                .last()
                .is_some_and(|s| ATTRIBUTES.iter().any(|name| s.ident == name))
        });
        let mut params = Vec::new();
        let mut has_self = false;
        for input in &mut function.sig.inputs {
            match input {
                FnArg::Receiver(_) => has_self = true,
                FnArg::Typed(typed) => {
                    let sensitive = typed.attrs.iter().any(|a| a.path().is_ident("sensitive"));
                    if last {
                        typed.attrs.retain(|a| !a.path().is_ident("sensitive"));
                    }
                    if let Pat::Ident(binding) = &*typed.pat {
                        params.push(Param {
                            name: binding.ident.clone(),
                            sensitive,
                            mutable_borrow: is_mutable_borrow(&typed.ty),
                            is_work: is_work(&typed.ty),
                        });
                    }
                }
            }
        }
        Ok(Self {
            name: function.sig.ident.clone(),
            params,
            has_self,
            output,
        })
    }

    /// Checks that every field the options name is an argument (or `result`), that the outbox
    /// is an argument, and that a function without `self` says where its publisher is.
    pub(crate) fn check(&self, options: &EventOptions) -> syn::Result<()> {
        let fields = [
            &options.resource_id,
            &options.aggregate_id,
            &options.key,
            &options.user_id,
        ];
        for field in fields.into_iter().flatten() {
            if field.root != "result" {
                self.param(&field.root, true)?;
            }
        }
        for field in &options.sensitive {
            self.param(&field.root, false)?;
        }
        if let Some(OutboxChoice::Argument(name)) = &options.outbox
            && !self.param(name, false)?.mutable_borrow
        {
            return Err(syn::Error::new(
                name.span(),
                format!(
                    "the outbox `{name}` is a `&mut` argument: the unit of work (`&mut Work<…>`)"
                ),
            ));
        }
        let works = self.params.iter().filter(|p| p.is_work).count();
        if options.outbox.is_none() && works > 1 {
            return Err(syn::Error::new(
                Span::call_site(),
                format!(
                    "`{}` takes {works} units of work: say which one the event is staged in \
                     with `outbox = …`",
                    self.name
                ),
            ));
        }
        if options.publisher.is_none() && !self.has_self {
            return Err(syn::Error::new(
                Span::call_site(),
                format!(
                    "#[{}] on `{}`, a function without `self`, needs `publisher = …`: an \
                     expression giving the publisher (`Events`, `Arc<dyn PublishEvents>`); a \
                     method finds it through `HasEvents`",
                    options.kind.name(),
                    self.name
                ),
            ));
        }
        Ok(())
    }

    /// The argument called `name`, or an error at `name` listing the arguments (and `result`
    /// where what the function returned may be named instead).
    fn param(&self, name: &Ident, or_result: bool) -> syn::Result<&Param> {
        self.params.iter().find(|p| &p.name == name).ok_or_else(|| {
            let mut names: Vec<String> = self.params.iter().map(|p| p.name.to_string()).collect();
            if names.is_empty() {
                names.push("none bound to a name (a pattern argument cannot be named)".to_owned());
            }
            let result = if or_result {
                " (and `result`, for what it returns)"
            } else {
                ""
            };
            syn::Error::new(
                name.span(),
                format!(
                    "`{name}` is not an argument of `{}`; its arguments are {}{result}",
                    self.name,
                    names.join(", ")
                ),
            )
        })
    }

    /// Whether `field` is read from what the function returned.
    pub(crate) fn is_returned(&self, field: &Field) -> bool {
        field.root == "result" && self.params.iter().all(|p| p.name != "result")
    }

    /// The unit of work the event is staged in: the one `outbox` names, else the only
    /// `&mut Work<…>` argument, else none.
    pub(crate) fn outbox<'a>(&'a self, options: &'a EventOptions) -> Option<&'a Ident> {
        match &options.outbox {
            Some(OutboxChoice::Argument(name)) => Some(name),
            Some(OutboxChoice::Direct) => None,
            None => {
                let mut works = self.params.iter().filter(|p| p.is_work);
                match (works.next(), works.next()) {
                    (Some(work), None) => Some(&work.name),
                    _ => None,
                }
            }
        }
    }
}

/// The function's return type, refused unless it is a `…Result<…>`.
fn returned_result(kind: Kind, output: &ReturnType) -> syn::Result<Type> {
    let failure = if kind == Kind::OnError {
        "it publishes on `Err`, and a failure to publish is logged (the function's own error \
         is returned)"
    } else {
        "it publishes on `Ok`, and a failure to publish becomes the function's error (through \
         `From<EventError>`)"
    };
    let refuse = || {
        syn::Error::new(
            Span::call_site(),
            format!(
                "#[{}] goes on a function that returns a `Result`: {failure}",
                kind.name()
            ),
        )
    };
    let ReturnType::Type(_, ty) = output else {
        return Err(refuse());
    };
    if contains_impl_trait(ty) {
        return Err(syn::Error::new(
            Span::call_site(),
            format!(
                "#[{}] needs the function's return type written out: it holds the result in a \
                 variable of that type, and `impl Trait` cannot name one",
                kind.name()
            ),
        ));
    }
    match &**ty {
        Type::Path(path)
            if path
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident.to_string().ends_with("Result")) =>
        {
            Ok((**ty).clone())
        }
        _ => Err(refuse()),
    }
}

fn is_mutable_borrow(ty: &Type) -> bool {
    matches!(ty, Type::Reference(reference) if reference.mutability.is_some())
}

fn is_work(ty: &Type) -> bool {
    let Type::Reference(reference) = ty else {
        return false;
    };
    let Type::Path(path) = &*reference.elem else {
        return false;
    };
    reference.mutability.is_some() && path.path.segments.last().is_some_and(|s| s.ident == "Work")
}

/// Whether `ty` has an `impl Trait` anywhere in it.
fn contains_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    syn::visit::Visit::visit_type(&mut finder, ty);
    finder.0
}
