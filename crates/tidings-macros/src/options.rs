//! The `#[tidings(…)]` options of a struct, an enum or a variant.

use syn::{Attribute, Fields, LitStr, Member, Path, meta::ParseNestedMeta, spanned::Spanned};

/// The options of one item; `None` where left out.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) message_type: Option<LitStr>,
    pub(crate) topic: Option<LitStr>,
    pub(crate) aggregate: Option<Member>,
    pub(crate) key: Option<Member>,
    pub(crate) subject: Option<Member>,
    pub(crate) id: Option<Member>,
    pub(crate) krate: Option<Path>,
}

/// What an item may carry: the container's options differ from a variant's.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Struct,
    Enum,
    Variant,
}

const OPTIONS: &str = "type, topic, aggregate, key, subject, id, crate";

impl Options {
    /// Reads every `#[tidings(…)]` of `attrs`.
    pub(crate) fn parse(attrs: &[Attribute], place: Place) -> syn::Result<Self> {
        let mut options = Self::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("tidings")) {
            attr.parse_nested_meta(|meta| options.parse_one(&meta, place))?;
        }
        Ok(options)
    }

    fn parse_one(&mut self, meta: &ParseNestedMeta, place: Place) -> syn::Result<()> {
        let path = &meta.path;
        let name = path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match name.as_str() {
            "type" if place == Place::Enum => {
                Err(meta.error("`type` names one event type: on an enum, give it on each variant"))
            }
            "type" => set(&mut self.message_type, meta, &name, |m| m.value()?.parse()),
            "topic" => {
                let topic: LitStr = meta.value()?.parse()?;
                check_topic(&topic)?;
                set(&mut self.topic, meta, &name, |_| Ok(topic))
            }
            "aggregate" => set(&mut self.aggregate, meta, &name, |m| m.value()?.parse()),
            "key" => set(&mut self.key, meta, &name, |m| m.value()?.parse()),
            "subject" => set(&mut self.subject, meta, &name, |m| m.value()?.parse()),
            "id" => set(&mut self.id, meta, &name, |m| m.value()?.parse()),
            "crate" if place == Place::Variant => {
                Err(meta.error("`crate` belongs on the enum, not on a variant"))
            }
            "crate" => set(&mut self.krate, meta, &name, |m| m.value()?.parse()),
            _ => Err(meta.error(format!(
                "unknown option `{}` of #[tidings(…)]; the options are {OPTIONS}",
                quote::ToTokens::to_token_stream(path)
            ))),
        }
    }

    /// `self`, with what it leaves out taken from `outer` (a variant's options over its enum's).
    pub(crate) fn or(self, outer: &Self) -> Self {
        Self {
            message_type: self.message_type,
            topic: self.topic.or_else(|| outer.topic.clone()),
            aggregate: self.aggregate.or_else(|| outer.aggregate.clone()),
            key: self.key.or_else(|| outer.key.clone()),
            subject: self.subject.or_else(|| outer.subject.clone()),
            id: self.id.or_else(|| outer.id.clone()),
            krate: None,
        }
    }

    /// Checks that every field the options name is one of `fields`.
    pub(crate) fn check_fields(&self, fields: &Fields, owner: &str) -> syn::Result<()> {
        for member in [&self.aggregate, &self.key, &self.subject, &self.id]
            .into_iter()
            .flatten()
        {
            if !has_member(fields, member) {
                return Err(syn::Error::new(
                    member.span(),
                    format!(
                        "`{owner}` has no field `{}`",
                        quote::ToTokens::to_token_stream(member)
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Sets `slot` to what `parse` reads, refusing an option given twice.
pub(crate) fn set<T>(
    slot: &mut Option<T>,
    meta: &ParseNestedMeta,
    name: &str,
    parse: impl FnOnce(&ParseNestedMeta) -> syn::Result<T>,
) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error(format!("`{name}` is given twice")));
    }
    *slot = Some(parse(meta)?);
    Ok(())
}

fn has_member(fields: &Fields, member: &Member) -> bool {
    match (fields, member) {
        (Fields::Named(named), Member::Named(ident)) => named
            .named
            .iter()
            .any(|field| field.ident.as_ref() == Some(ident)),
        (Fields::Unnamed(unnamed), Member::Unnamed(index)) => {
            (index.index as usize) < unnamed.unnamed.len()
        }
        _ => false,
    }
}

/// Kafka's rules for a topic name: 1 to 249 of `[a-zA-Z0-9._-]`, and not `.` or `..`.
fn check_topic(topic: &LitStr) -> syn::Result<()> {
    let name = topic.value();
    match topic_problem(&name) {
        Some(problem) => Err(syn::Error::new(
            topic.span(),
            format!("topic {name:?} is not a valid Kafka topic name: it {problem}"),
        )),
        None => Ok(()),
    }
}

/// What breaks Kafka's rules for a topic name in `name`, if anything.
pub(crate) fn topic_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("is empty".to_owned())
    } else if name.len() > 249 {
        Some(format!(
            "is {} characters long; Kafka takes 249",
            name.len()
        ))
    } else if name == "." || name == ".." {
        Some("is `.` or `..`".to_owned())
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .map(|c| format!("holds {c:?}; Kafka takes letters, digits, `.`, `_` and `-`"))
    }
}
