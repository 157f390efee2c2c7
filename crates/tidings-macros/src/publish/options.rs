//! The options of `#[audit_event(…)]`, `#[domain_event(…)]`, `#[publish_on_success(…)]` and
//! `#[publish_on_error(…)]`, by the names services migrating to Tidings already write.

use proc_macro2::{Span, TokenStream};
use syn::{
    Expr, ExprLit, Ident, Lit, LitBool, LitStr, Member, Path, Token, meta::ParseNestedMeta,
    parse::Parser, punctuated::Punctuated, spanned::Spanned,
};

use crate::options::{set, topic_problem};

/// Which attribute: what it publishes and when.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Audit,
    Domain,
    OnSuccess,
    OnError,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Audit => "audit_event",
            Self::Domain => "domain_event",
            Self::OnSuccess => "publish_on_success",
            Self::OnError => "publish_on_error",
        }
    }

    /// The options it takes, its own first.
    fn options(self) -> String {
        let own = match self {
            Self::Audit => "event_type, action, resource_type, resource_id_field",
            Self::Domain => "aggregate_type, event_type, aggregate_id_field",
            Self::OnSuccess | Self::OnError => "topic, event_type, key_field",
        };
        format!("{own}, user_id_field, include_args, sensitive(…), outbox, publisher, crate")
    }
}

/// A value taken from the function: an argument (`user_id`), or what it returned (`result`:
/// the `Ok` value, or for `publish_on_error` the error), then fields (`result.id`).
pub(crate) struct Field {
    pub(crate) root: Ident,
    pub(crate) path: Vec<Member>,
}

impl Field {
    fn parse(expr: &Expr) -> syn::Result<Self> {
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Str(text),
                ..
            }) => Self::parse(&text.parse::<Expr>()?),
            Expr::Path(path) if path.qself.is_none() => match path.path.get_ident() {
                Some(root) => Ok(Self {
                    root: root.clone(),
                    path: Vec::new(),
                }),
                None => Err(Self::error(expr)),
            },
            Expr::Field(field) => {
                let mut inner = Self::parse(&field.base)?;
                inner.path.push(field.member.clone());
                Ok(inner)
            }
            _ => Err(Self::error(expr)),
        }
    }

    fn error(expr: &Expr) -> syn::Error {
        syn::Error::new(
            expr.span(),
            "a field is an argument's name or `result` (what the function returned), then \
             `.field`s: e.g. `user_id`, `user.id`, `result.id`",
        )
    }

    /// The JSON path of a sensitive field inside the arguments: `["user", "ssn"]`.
    pub(crate) fn names(&self) -> Vec<String> {
        let rest = self.path.iter().map(|m| quote::quote!(#m).to_string());
        std::iter::once(self.root.to_string()).chain(rest).collect()
    }
}

/// Where the event goes: staged in an argument (a unit of work), or sent at once.
pub(crate) enum OutboxChoice {
    Argument(Ident),
    Direct,
}

/// The options of one attribute; `None` where left out.
pub(crate) struct EventOptions {
    pub(crate) kind: Kind,
    pub(crate) event_type: Option<Expr>,
    pub(crate) action: Option<Expr>,
    pub(crate) resource_type: Option<Expr>,
    pub(crate) resource_id: Option<Field>,
    pub(crate) aggregate_type: Option<Expr>,
    pub(crate) aggregate_id: Option<Field>,
    pub(crate) topic: Option<LitStr>,
    pub(crate) key: Option<Field>,
    pub(crate) user_id: Option<Field>,
    pub(crate) include_args: bool,
    include_args_given: bool,
    pub(crate) sensitive: Vec<Field>,
    pub(crate) outbox: Option<OutboxChoice>,
    pub(crate) publisher: Option<Expr>,
    pub(crate) krate: Option<Path>,
}

impl EventOptions {
    /// Reads the attribute's arguments and checks that the ones `kind` needs are there.
    pub(crate) fn parse(kind: Kind, args: TokenStream) -> syn::Result<Self> {
        let mut options = Self::empty(kind);
        let parser = syn::meta::parser(|meta| options.parse_one(&meta));
        parser.parse2(args)?;
        options.check_required()?;
        Ok(options)
    }

    fn empty(kind: Kind) -> Self {
        Self {
            kind,
            event_type: None,
            action: None,
            resource_type: None,
            resource_id: None,
            aggregate_type: None,
            aggregate_id: None,
            topic: None,
            key: None,
            user_id: None,
            include_args: false,
            include_args_given: false,
            sensitive: Vec::new(),
            outbox: None,
            publisher: None,
            krate: None,
        }
    }

    fn parse_one(&mut self, meta: &ParseNestedMeta) -> syn::Result<()> {
        let name = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let kind = self.kind;
        match (name.as_str(), kind) {
            ("event_type", _) => set(&mut self.event_type, meta, &name, |m| m.value()?.parse()),
            ("action", Kind::Audit) => set(&mut self.action, meta, &name, expr),
            ("resource_type", Kind::Audit) => set(&mut self.resource_type, meta, &name, expr),
            ("resource_id_field", Kind::Audit) => set(&mut self.resource_id, meta, &name, field),
            ("aggregate_type", Kind::Domain) => set(&mut self.aggregate_type, meta, &name, expr),
            ("aggregate_id_field", Kind::Domain) => set(&mut self.aggregate_id, meta, &name, field),
            ("topic", Kind::OnSuccess | Kind::OnError) => {
                set(&mut self.topic, meta, &name, |m| m.value()?.parse())
            }
            ("key_field", Kind::OnSuccess | Kind::OnError) => {
                set(&mut self.key, meta, &name, field)
            }
            ("user_id_field", _) => set(&mut self.user_id, meta, &name, field),
            ("include_args", _) => {
                if self.include_args_given {
                    return Err(meta.error("`include_args` is given twice"));
                }
                self.include_args_given = true;
                self.include_args = flag(meta)?;
                Ok(())
            }
            ("sensitive", _) => {
                self.sensitive.extend(fields_in_parentheses(meta)?);
                Ok(())
            }
            ("outbox", _) => set(&mut self.outbox, meta, &name, outbox),
            ("publisher", _) => set(&mut self.publisher, meta, &name, expr),
            ("crate", _) => set(&mut self.krate, meta, &name, |m| m.value()?.parse()),
            _ => Err(meta.error(format!(
                "unknown option `{}` of #[{}(…)]; its options are {}",
                quote::ToTokens::to_token_stream(&meta.path),
                kind.name(),
                kind.options()
            ))),
        }
    }

    /// Refuses an attribute without an option its event needs, and literal names that would
    /// not make a valid topic.
    fn check_required(&self) -> syn::Result<()> {
        let needed: &[(&str, bool)] = match self.kind {
            Kind::Audit => &[
                ("event_type", self.event_type.is_some()),
                ("action", self.action.is_some()),
                ("resource_type", self.resource_type.is_some()),
            ],
            Kind::Domain => &[
                ("aggregate_type", self.aggregate_type.is_some()),
                ("event_type", self.event_type.is_some()),
                ("aggregate_id_field", self.aggregate_id.is_some()),
            ],
            Kind::OnSuccess | Kind::OnError => &[
                ("topic", self.topic.is_some()),
                ("event_type", self.event_type.is_some()),
                ("key_field", self.key.is_some()),
            ],
        };
        if let Some((missing, _)) = needed.iter().find(|(_, given)| !given) {
            return Err(syn::Error::new(
                Span::call_site(),
                format!(
                    "#[{}(…)] needs `{missing} = …`; its options are {}",
                    self.kind.name(),
                    self.kind.options()
                ),
            ));
        }
        self.check_topic_parts()
    }

    /// The parts of a topic given as literals: the topic of `publish_on_*`, the aggregate and
    /// event types of a domain event (each a segment of its topic).
    fn check_topic_parts(&self) -> syn::Result<()> {
        let topic = self.topic.as_ref().map(|t| ("topic", t.value(), t.span()));
        let domain = [
            ("aggregate_type", &self.aggregate_type),
            ("event_type", &self.event_type),
        ]
        .into_iter()
        .filter(|_| self.kind == Kind::Domain)
        .filter_map(|(name, given)| literal(given.as_ref()?).map(|l| (name, l.value(), l.span())));
        for (name, value, span) in topic.into_iter().chain(domain) {
            if let Some(problem) = topic_problem(&value) {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "{name} {value:?} would not make a valid Kafka topic name: it {problem}"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The string literal `expr` is, if it is one.
pub(crate) fn literal(expr: &Expr) -> Option<&LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => Some(text),
        _ => None,
    }
}

fn expr(meta: &ParseNestedMeta) -> syn::Result<Expr> {
    meta.value()?.parse()
}

fn field(meta: &ParseNestedMeta) -> syn::Result<Field> {
    Field::parse(&meta.value()?.parse()?)
}

/// `include_args` alone, or `include_args = true|false`.
fn flag(meta: &ParseNestedMeta) -> syn::Result<bool> {
    if meta.input.peek(Token![=]) {
        Ok(meta.value()?.parse::<LitBool>()?.value)
    } else {
        Ok(true)
    }
}

/// `sensitive(password, user.ssn)`.
fn fields_in_parentheses(meta: &ParseNestedMeta) -> syn::Result<Vec<Field>> {
    let content;
    syn::parenthesized!(content in meta.input);
    let exprs = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
    exprs.iter().map(Field::parse).collect()
}

/// `outbox = work` (an argument), or `outbox = none` (send at once).
fn outbox(meta: &ParseNestedMeta) -> syn::Result<OutboxChoice> {
    let name: Ident = meta.value()?.parse()?;
    Ok(if name == "none" {
        OutboxChoice::Direct
    } else {
        OutboxChoice::Argument(name)
    })
}
