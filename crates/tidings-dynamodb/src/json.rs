//! JSON values as DynamoDB attribute values and back, for payloads the event store keeps as
//! maps: objects are `M`, arrays `L`, strings `S`, numbers `N`, booleans `BOOL`, null `NULL`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value};
use tidings_core::Result;

use crate::error::corrupt;

/// `value` as an attribute value.
pub(crate) fn to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(number) => AttributeValue::N(number.to_string()),
        Value::String(text) => AttributeValue::S(text.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attribute).collect()),
        Value::Object(fields) => AttributeValue::M(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_attribute(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

/// The JSON value an attribute holds.
pub(crate) fn from_attribute(attribute: &AttributeValue) -> Result<Value> {
    Ok(match attribute {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(number) => serde_json::from_str::<serde_json::Number>(number)
            .map(Value::Number)
            .map_err(|_| corrupt("stored event", format!("payload number {number:?}")))?,
        AttributeValue::S(text) => Value::String(text.clone()),
        AttributeValue::L(items) => {
            Value::Array(items.iter().map(from_attribute).collect::<Result<_>>()?)
        }
        AttributeValue::M(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), from_attribute(v)?)))
                .collect::<Result<Map<_, _>>>()?,
        ),
        _ => return Err(corrupt("stored event", "payload of an unknown type")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_survives_the_trip() {
        let value = serde_json::json!({
            "s": "x", "n": -12.5, "i": 9_007_199_254_740_993_i64, "b": true, "z": null,
            "l": [1, "two", { "three": [] }], "m": {}
        });
        assert_eq!(from_attribute(&to_attribute(&value)).unwrap(), value);
    }
}
