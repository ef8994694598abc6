//! Python's value semantics, which the original applied to what its agent
//! CLI, its own files and its callers handed it: `float(x)` (numeric
//! strings with `_` separators, `true` as 1.0), `int(str)`, truthiness and
//! `round(x, n)`. The one place they live, so every reader agrees with the
//! original and with each other.

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
    fn int_text_reads_what_python_int_reads() {
        assert_eq!(int_text(" 3 \n"), Some(3));
        assert_eq!(int_text("+1"), Some(1));
        assert_eq!(int_text("-1_0"), Some(-10));
        assert_eq!(int_text("99999999999999999999999"), Some(i64::MAX));
        for rejected in ["", "1.5", "abc", "1__0", "_1", "1_", "0x2", "--1", "+"] {
            assert_eq!(int_text(rejected), None, "{rejected:?}");
        }
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
        assert_eq!(round(-0.0, 4), 0.0);
        assert!(round(f64::NAN, 2).is_nan());
    }
}
