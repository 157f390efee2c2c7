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
//! [`Message`]: https://docs.rs/tidings/latest/tidings/trait.Message.html

mod message;
mod options;

use proc_macro::TokenStream;

/// Implements `Message` from `#[tidings(…)]` options: see the [crate] documentation.
#[proc_macro_derive(Message, attributes(tidings))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    message::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
