//! The macros of Tidings, re-exported by the `tidings` crate (feature `macros`, on by default).
//! Use them through `tidings`: the code they write names `::tidings::…`.
//!
//! `#[derive(Message)]` implements [`Message`] for a struct, or for an enum with one event type
//! per variant, from `#[tidings(…)]` options:
//!
//! | option | on | gives | default |
//! |---|---|---|---|
//! | `type = "user.created"` | struct, variant | `message_type` | the struct's or the variant's name |
//! | `aggregate = field` | struct, enum, variant | `aggregate_id` (the field's `to_string()`) | required |
//! | `key = field` | struct, enum, variant | `partition_key` (`to_string()`) | the aggregate id |
//! | `topic = "users"` | struct, enum, variant | `topic`, checked as a Kafka topic name | the topic router's choice |
//! | `subject = field` | struct, enum, variant | `subject` (`to_string()`) | none |
//! | `id = field` | struct, enum, variant | `message_id` (`MessageId::from` a clone) | a new UUIDv7 |
//! | `crate = path` | struct, enum | where `Message` and `MessageId` are | `::tidings` |
//!
//! A field is named, or numbered for a tuple struct or variant (`aggregate = 0`). An option on
//! a variant wins over the enum's. Misuse — an unknown option, a field that is not there, a
//! missing `aggregate`, an invalid topic name — is a compile error at the option.
//!
//! ## Publishing when a function returns
//!
//! `#[audit_event]`, `#[domain_event]`, `#[publish_on_success]` and `#[publish_on_error]` go on
//! an `async fn` (or method) that returns a `Result` whose error converts from `EventError`.
//! The body runs as written; when it returns `Ok` (`Err` for `publish_on_error`), the
//! attribute builds its event and publishes it through `tidings::events::PublishEvents`:
//!
//! - **staged** in the function's unit of work — the argument `outbox = work` names, or else
//!   its only `&mut Work<…>` argument (two of them: say which) — so the event commits or rolls
//!   back with the function's writes.
//! - with no unit of work (or `outbox = none`), **sent at once** through the publisher — which
//!   `Events` refuses while the outbox is on (`USE_OUTBOX_PATTERN`, the default) with
//!   `EventError::OutboxRequired`, so that no event escapes a transaction by mistake.
//! - the publisher is the one `publisher = expr` gives (an `Events`, an
//!   `Arc<dyn PublishEvents>`), or for a method the one `self` has through `HasEvents`.
//!
//! | attribute | event | options (the names of the framework users migrate from) |
//! |---|---|---|
//! | `audit_event` | `AuditEvent`; details = the arguments with `include_args` | `event_type` (a variant, `"DATA_CREATED"`, or an expression), `action`, `resource_type`, `resource_id_field` |
//! | `domain_event` | `DomainEvent`; data = the `Ok` value (with `include_args`: `{"result", "args"}`) | `aggregate_type`, `event_type`, `aggregate_id_field` |
//! | `publish_on_success` | `CustomEvent` to `{prefix}.{topic}`; data `{"result", "args"?}` | `topic`, `event_type`, `key_field` |
//! | `publish_on_error` | the same, on `Err`; data `{"error": the error's text, "args"?}` | `topic`, `event_type`, `key_field` |
//!
//! Every one also takes `user_id_field` (the metadata's user id), `include_args`,
//! `sensitive(password, user.ssn)`, `outbox`, `publisher` and `crate` (the path of
//! `tidings::events`). A field is an argument's name or `result` (the `Ok` value; the error for
//! `publish_on_error`), then `.field`s, written bare or as text (`"user_id"`), and read with
//! `to_string()`. The names (`event_type`, `action`, …) and the fields of arguments are read
//! before the body runs, the fields of `result` after. `include_args` includes every argument
//! but `self`, `&mut` ones (a unit of work, a transaction), the one `publisher` names, pattern
//! arguments, and those marked `#[sensitive]` or named in `sensitive(…)` — never serialized,
//! so they need not be `Serialize`. `sensitive(user.ssn)` leaves a key out of an argument's
//! JSON; a path that finds no such key is an error (paths are JSON keys: name a field serde
//! renames as serde writes it). A bare UpperCamelCase `event_type` of `audit_event` is a
//! variant (`DataCreated`); anything else is an expression.
//!
//! Stacked attributes publish in the order they are written; the first is nearest the body.
//! Put `publish_on_error` before `publish_on_success`, so that it sees the body's errors and
//! not a failure to publish the success. Keep the attributes' own names (not renamed on
//! import): each finds the others by name to leave `#[sensitive]` marks for the last. A failure to publish after `Ok` becomes the function's error (so its unit of work rolls
//! back); after `Err`, the function's own error is returned and the failure is logged. A
//! failure event staged in a unit of work commits only if the caller commits it — as a caller
//! that counts failed logins does; `outbox = none` sends it at once whatever the caller does.
//!
//! [`Message`]: https://docs.rs/tidings/latest/tidings/trait.Message.html

mod message;
mod options;
mod publish;

use proc_macro::TokenStream;

/// Implements `Message` from `#[tidings(…)]` options: see the [crate] documentation.
#[proc_macro_derive(Message, attributes(tidings))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    message::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Publishes an `AuditEvent` when the function returns `Ok`: see the [crate] documentation.
#[proc_macro_attribute]
pub fn audit_event(args: TokenStream, item: TokenStream) -> TokenStream {
    publishing(publish::Kind::Audit, args, item)
}

/// Publishes a `DomainEvent` when the function returns `Ok`: see the [crate] documentation.
#[proc_macro_attribute]
pub fn domain_event(args: TokenStream, item: TokenStream) -> TokenStream {
    publishing(publish::Kind::Domain, args, item)
}

/// Publishes a `CustomEvent` to `{prefix}.{topic}` when the function returns `Ok`: see the
/// [crate] documentation.
#[proc_macro_attribute]
pub fn publish_on_success(args: TokenStream, item: TokenStream) -> TokenStream {
    publishing(publish::Kind::OnSuccess, args, item)
}

/// Publishes a `CustomEvent` to `{prefix}.{topic}` when the function returns `Err`: see the
/// [crate] documentation.
#[proc_macro_attribute]
pub fn publish_on_error(args: TokenStream, item: TokenStream) -> TokenStream {
    publishing(publish::Kind::OnError, args, item)
}

/// The function `item`, or on misuse the error and the function as it was (so that the error
/// is the only one rustc reports).
fn publishing(kind: publish::Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let original = proc_macro2::TokenStream::from(item.clone());
    match publish::expand(kind, args.into(), item.into()) {
        Ok(expanded) => expanded.into(),
        Err(error) => {
            let error = error.into_compile_error();
            let original = publish::unmarked(original);
            quote::quote!(#error #original).into()
        }
    }
}
