//! Python's view of decoded JSON values, which the original applied to what
//! `claude`, its own files and its callers handed it: `float(x)` (numeric
//! strings with `_` separators, `true` as 1.0) and truthiness. Used wherever
//! we read the same inputs, so both tools read them alike.

use serde_json::Value;

/// `float(x)` for a JSON value, kept only when finite; `None` for what
/// Python would reject (or turn into nan/inf).
pub fn float(value: &Value) -> Option<f64> {
    let number = match value {
        Value::Bool(flag) => Some(f64::from(u8::from(*flag))),
        Value::Number(number) => number.as_f64(),
        Value::String(text) => parse_float(text),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }?;
    number.is_finite().then_some(number)
}

/// Python's `float(str)`: surrounding whitespace and single `_` separators
/// between digits are accepted, which Rust's parser rejects.
fn parse_float(text: &str) -> Option<f64> {
    let text = text.trim();
    if !text.contains('_') {
        return text.parse().ok();
    }
    let bytes = text.as_bytes();
    let separators_ok = bytes.iter().enumerate().all(|(i, byte)| {
        *byte != b'_'
            || (i > 0
                && bytes[i - 1].is_ascii_digit()
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
    });
    if !separators_ok {
        return None;
    }
    text.replace('_', "").parse().ok()
}

/// Python truthiness: `false`, `null`, zero, and empty strings, arrays and
/// objects are false; everything else (the string `"false"` too) is true.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_reads_what_python_float_reads() {
        assert_eq!(float(&json!(12)), Some(12.0));
        assert_eq!(float(&json!(0.42)), Some(0.42));
        assert_eq!(float(&json!(" 1.5 ")), Some(1.5));
        assert_eq!(float(&json!("1_000.5")), Some(1000.5));
        assert_eq!(float(&json!(true)), Some(1.0));
        for rejected in [
            json!("1__0"),
            json!("_1"),
            json!("1_"),
            json!("nan"),
            json!("inf"),
            json!("abc"),
            json!(null),
            json!([1]),
        ] {
            assert_eq!(float(&rejected), None, "{rejected}");
        }
    }

    #[test]
    fn truthiness_follows_python() {
        for value in [
            json!(1),
            json!(-0.5),
            json!("x"),
            json!("false"),
            json!([0]),
            json!({"a": 1}),
            json!(true),
        ] {
            assert!(truthy(&value), "{value}");
        }
        for value in [
            json!(0),
            json!(0.0),
            json!(""),
            json!([]),
            json!({}),
            json!(null),
            json!(false),
        ] {
            assert!(!truthy(&value), "{value}");
        }
    }
}
