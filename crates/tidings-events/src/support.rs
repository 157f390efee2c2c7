//! What the code of the publishing attributes (`#[audit_event]` and the rest, in
//! `tidings-macros`) calls. Not an API: it changes with the macros.

use serde::Serialize;
use serde_json::Map;
pub use serde_json::Value;

use crate::{EventError, Outbox};

/// `work` as the outbox the publisher takes.
pub fn outbox<O: Outbox>(work: &mut O) -> &mut dyn Outbox {
    work
}

/// `value` as JSON.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, EventError> {
    serde_json::to_value(value).map_err(|e| EventError::Unserializable {
        reason: e.to_string(),
    })
}

/// The arguments as one object, each sensitive path (`["user", "ssn"]`) left out. A path
/// that finds nothing to leave out is an error — a secret must not go out because its field
/// is named differently in JSON (a serde `rename`) — unless it runs into a `null` (an absent
/// optional value, which holds no secret).
pub fn arguments(
    given: Vec<(&'static str, Result<Value, EventError>)>,
    sensitive: &[&[&str]],
) -> Result<Map<String, Value>, EventError> {
    let mut arguments = Map::new();
    for (name, value) in given {
        arguments.insert(name.to_owned(), value?);
    }
    for path in sensitive {
        if !remove(&mut arguments, path) {
            return Err(EventError::InvalidSetting {
                setting: "sensitive",
                value: path.join("."),
                reason: "no such key in the serialized arguments (paths name JSON keys: a field \
                         serde renames is named as serde writes it)"
                    .to_owned(),
            });
        }
    }
    Ok(arguments)
}

/// Removes `path` from `object`; false when there was nothing at `path` to remove.
fn remove(object: &mut Map<String, Value>, path: &[&str]) -> bool {
    match path {
        [] => true,
        [last] => object.remove(*last).is_some(),
        [first, rest @ ..] => match object.get_mut(*first) {
            Some(Value::Object(inner)) => remove(inner, rest),
            Some(Value::Null) => true,
            _ => false,
        },
    }
}

/// `{ name: value }`, with `"args"` when the arguments are included.
pub fn outcome(name: &str, value: Value, args: Option<Map<String, Value>>) -> Value {
    let mut object = Map::new();
    object.insert(name.to_owned(), value);
    if let Some(args) = args {
        object.insert("args".to_owned(), Value::Object(args));
    }
    Value::Object(object)
}

/// Reports a failure event that could not be published: the function's own error is what it
/// returns.
pub fn unpublished(function: &str, error: &EventError) {
    tracing::warn!(function, %error, "the failure event of this call was not published");
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sensitive_arguments_and_paths_inside_them_are_left_out() {
        let given = vec![
            ("user_id", to_value("u-1")),
            (
                "profile",
                to_value(&json!({"email": "a@b", "ssn": "123", "tags": ["x"]})),
            ),
            ("password", to_value("hunter2")),
        ];
        let args = arguments(given, &[&["password"], &["profile", "ssn"]]).expect("serializes");
        assert_eq!(
            Value::Object(args),
            json!({"user_id": "u-1", "profile": {"email": "a@b", "tags": ["x"]}})
        );
    }

    #[test]
    fn a_sensitive_path_that_finds_nothing_is_an_error_unless_it_meets_null() {
        let profile = || to_value(&json!({"email": "a@b", "socialSecurity": "123", "card": null}));
        let error = arguments(vec![("profile", profile())], &[&["profile", "ssn"]])
            .expect_err("renamed in JSON");
        assert!(error.to_string().contains("profile.ssn"), "{error}");
        let args = arguments(
            vec![("profile", profile())],
            &[&["profile", "card", "number"]],
        )
        .expect("nothing behind null");
        assert_eq!(args["profile"]["socialSecurity"], "123");
    }

    #[test]
    fn an_argument_that_does_not_serialize_is_an_error_naming_why() {
        let map = std::collections::HashMap::from([((1, 2), "tuple keys")]);
        let error = arguments(vec![("map", to_value(&map))], &[]).expect_err("tuple keys");
        assert!(
            error.to_string().contains("key must be a string"),
            "{error}"
        );
    }
}
