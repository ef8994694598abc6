//! Python's value semantics, which the original applied to what its agent
//! CLI, its own files and its callers handed it: `float(x)` (numeric
//! strings with `_` separators, `true` as 1.0), `int(x)` and `int(str)`,
//! truthiness, `round(x, n)`, and the `repr()` and type name its error
//! messages showed. The one place they live, so every reader agrees with
//! the original and with each other.

use serde_json::Value;

use crate::pyfmt::{repr_float, repr_str};

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

/// `x` rounded to `digits` decimals the way Python's `round(x, digits)`
/// does: to the nearest representable decimal, ties to even. Formatting
/// with a precision rounds the exact binary value correctly, which is what
/// Python does too (checked against Python for every ratio with a
/// denominator up to 1200); non-finite values come back unchanged.
pub fn round(x: f64, digits: usize) -> f64 {
    if !x.is_finite() {
        return x;
    }
    format!("{x:.digits$}").parse().unwrap_or(x)
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

/// Python's `int(value)` on a decoded JSON value, saturated to `i64` (every
/// caller clamps far below that): integers; floats truncated toward zero;
/// booleans as 0/1; strings of decimal digits with optional surrounding
/// whitespace, sign and single underscores between digits. Everything else
/// (`"9.5"`, `""`, lists, objects) is `None`, as Python raises for it.
pub fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            // `as` saturates, and serde_json numbers are always finite.
            .or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
        Value::String(text) => int_text(text),
        _ => None,
    }
}

/// Python's `int(str)` for decimal text: surrounding whitespace, a sign and
/// single `_` between digits are accepted; anything else (`"1.5"`, `""`,
/// `"0x2"`) is `None`, as Python raises for it. Saturates at the `i64`
/// bounds.
pub fn int_text(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut magnitude: i64 = 0;
    for ch in digits.chars().filter(|c| *c != '_') {
        let digit = ch.to_digit(10)?;
        magnitude = magnitude
            .saturating_mul(10)
            .saturating_add(i64::from(digit));
    }
    Some(if negative { -magnitude } else { magnitude })
}

/// Python's `repr()` of what `json.loads` would have produced.
pub fn repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) if n.is_f64() => repr_float(n.as_f64().unwrap_or(f64::NAN)),
        Value::Number(n) => n.to_string(),
        Value::String(text) => repr_str(text),
        Value::Array(list) => {
            let parts: Vec<String> = list.iter().map(repr).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(key, value)| format!("{}: {}", repr_str(key), repr(value)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

/// The Python type name `json.loads` would have produced for `value`.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
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

    #[test]
    fn int_accepts_what_python_int_accepts() {
        for (value, expected) in [
            (json!(900), 900),
            (json!("900"), 900),
            (json!(" -42\n"), -42),
            (json!("+7"), 7),
            (json!("1_000"), 1000),
            (json!(9.9), 9),
            (json!(-9.9), -9),
            (json!(true), 1),
            (json!(false), 0),
            (json!("99999999999999999999999"), i64::MAX),
        ] {
            assert_eq!(int(&value), Some(expected), "{value}");
        }
    }

    #[test]
    fn int_rejects_what_python_int_rejects() {
        for value in [
            json!("abc"),
            json!("9.5"),
            json!(""),
            json!("  "),
            json!("1__0"),
            json!("_1"),
            json!("1_"),
            json!("--1"),
            json!("1e3"),
            json!([1]),
            json!({"a": 1}),
        ] {
            assert_eq!(int(&value), None, "{value}");
        }
    }

    #[test]
    fn repr_and_type_names_read_like_python() {
        assert_eq!(repr(&json!("abc")), "'abc'");
        assert_eq!(repr(&json!([1, "a", null, true])), "[1, 'a', None, True]");
        assert_eq!(repr(&json!({"k": 1.5})), "{'k': 1.5}");
        assert_eq!(type_name(&json!(1)), "int");
        assert_eq!(type_name(&json!(1.0)), "float");
        assert_eq!(type_name(&json!(null)), "NoneType");
        assert_eq!(type_name(&json!({})), "dict");
    }

    #[test]
    fn round_matches_python_round() {
        // round(1/16, 3) == 0.062 in Python: an exact tie goes to even.
        assert_eq!(round(1.0 / 16.0, 3), 0.062);
        assert_eq!(round(2.0 / 3.0, 3), 0.667);
        assert_eq!(round(1.0 / 2000.0, 3), 0.001);
        assert_eq!(round(0.123456789, 6), 0.123457);
        assert_eq!(round(1.000_05, 4), 1.0001); // 1.00005 is 1.0000500…01
        assert_eq!(round(2.675, 2), 2.67); // 2.675 is 2.67499… in binary
        assert_eq!(round(0.125, 2), 0.12); // an exact tie goes to even
        // Python keeps the sign: round(-0.0, 4) is -0.0.
        assert_eq!(round(-0.0, 4).to_bits(), (-0.0f64).to_bits());
        assert_eq!(round(0.0123 * 3.0, 4), 0.0369);
        assert_eq!(round(1.23456, 4), 1.2346);
        assert!(round(f64::NAN, 2).is_nan());
    }
}
