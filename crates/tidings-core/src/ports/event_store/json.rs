//! Which payloads a store keeps as queryable JSON. One rule for every store, so an event is
//! kept as JSON on all of them or on none, and only where the store gives back the same value:
//! every number must survive a trip through an `f64` or an `i64` (MongoDB) and DynamoDB's
//! number range, and no key may be one MongoDB reads as an operator or a path.

use serde_json::Value;

use crate::cloudevents::is_json;

/// DynamoDB refuses documents nested deeper than this.
const MAX_DEPTH: usize = 32;
/// Significant digits an `f64` keeps exactly (`DBL_DIG`).
const EXACT_DIGITS: usize = 15;

/// `payload` as a JSON value, if `content_type` is JSON and every store keeps it unchanged.
pub(super) fn queryable(content_type: &str, payload: &[u8]) -> Option<Value> {
    if !is_json(content_type) || !numbers_are_exact(payload) {
        return None;
    }
    let value: Value = serde_json::from_slice(payload).ok()?;
    storable(&value, 0).then_some(value)
}

/// Whether every number literal in `json` is an `i64` or a decimal of at most 15 significant
/// digits: read lexically, because a parsed `f64` no longer shows the digits it lost.
fn numbers_are_exact(json: &[u8]) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    let mut start = None;
    for (index, &byte) in json.iter().enumerate() {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        let in_number = byte.is_ascii_digit() || matches!(byte, b'-' | b'+' | b'.' | b'e' | b'E');
        match (in_number, start) {
            (true, None) => start = Some(index),
            (false, Some(from)) => {
                if !exact_number(&json[from..index]) {
                    return false;
                }
                start = None;
            }
            _ => {}
        }
        in_string = byte == b'"';
    }
    start.is_none_or(|from| exact_number(&json[from..]))
}

/// Whether one number literal (or the letters of `true`/`false`, harmlessly) is exact.
fn exact_number(literal: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(literal) else {
        return false;
    };
    if !text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        return text == "e" || text.parse::<i64>().is_ok();
    }
    let mantissa = text.split(['e', 'E']).next().unwrap_or("");
    let digits = mantissa.trim_start_matches('-').replace('.', "");
    digits.trim_start_matches('0').trim_end_matches('0').len() <= EXACT_DIGITS
}

/// Whether `value`, `depth` levels down, has only keys, strings and numbers every store keeps.
fn storable(value: &Value, depth: usize) -> bool {
    match value {
        Value::Null | Value::Bool(_) => true,
        Value::Number(number) => number.as_f64().is_some_and(in_dynamodb_range),
        Value::String(text) => !text.contains('\0'),
        Value::Array(items) => depth < MAX_DEPTH && items.iter().all(|v| storable(v, depth + 1)),
        Value::Object(fields) => {
            depth < MAX_DEPTH
                && fields
                    .iter()
                    .all(|(key, v)| plain_key(key) && storable(v, depth + 1))
        }
    }
}

/// DynamoDB numbers lie between 1e-130 and 1e126 in magnitude (or are zero).
fn in_dynamodb_range(number: f64) -> bool {
    number == 0.0 || (1e-129..1e125).contains(&number.abs())
}

/// A key MongoDB stores as a plain field: not empty, no `$` operator prefix, no `.` path,
/// no NUL.
fn plain_key(key: &str) -> bool {
    !key.is_empty() && !key.starts_with('$') && !key.contains(['.', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(payload: &str) -> bool {
        queryable("application/json", payload.as_bytes()).is_some()
    }

    #[test]
    fn plain_json_documents_are_kept_as_json() {
        assert!(kept(
            r#"{"order": "o-1", "total": 12.5, "items": [1, 2, -3], "ok": true}"#
        ));
        assert!(kept(
            r#"{"e": "1234567890123456789012", "x": 1e10, "n": null}"#
        ));
        assert!(kept("[1, 2]"));
        assert!(kept("9223372036854775807"));
        assert!(queryable("application/cloudevents+json", b"{}").is_some());
    }

    #[test]
    fn payloads_a_store_would_change_stay_bytes() {
        assert!(!kept(r#"{"n": 12345678901234567890123}"#), "beyond i64");
        assert!(
            !kept(r#"{"n": 0.1234567890123456789}"#),
            "beyond an f64's digits"
        );
        assert!(!kept(r#"{"n": 1e300}"#), "beyond DynamoDB's range");
        assert!(!kept(r#"{"$set": 1}"#), "an operator key");
        assert!(!kept(r#"{"a.b": 1}"#), "a path key");
        assert!(!kept(r#"{"": 1}"#), "an empty key");
        assert!(!kept(r#"{"a": "x\u0000y"}"#), "NUL in a string");
        assert!(
            !kept(&format!("{}1{}", "[".repeat(40), "]".repeat(40))),
            "too deep"
        );
        assert!(!kept("{not json"));
        assert!(queryable("text/plain", b"{}").is_none());
    }
}
