//! Parses JSON the way the original's Python parser accepted it, so a paid
//! answer is never lost to a strict parser: undecodable bytes become U+FFFD,
//! `\uXXXX` escapes of unpaired UTF-16 surrogates become `\uFFFD`, and the
//! bare tokens `NaN`, `Infinity` and `-Infinity` become `null`. The text is
//! rewritten before `serde_json` sees it; nothing here can panic on input.
//! Used for agent CLI output and for answers parsed as JSON.

use std::borrow::Cow;

use serde_json::Value;

/// Parses raw bytes, replacing invalid UTF-8 with U+FFFD first.
pub fn parse_bytes(bytes: &[u8]) -> serde_json::Result<Value> {
    parse(&String::from_utf8_lossy(bytes))
}

/// The text under `key` of an event, if it is text.
pub fn str_field<'m>(event: &'m serde_json::Map<String, Value>, key: &str) -> Option<&'m str> {
    event.get(key).and_then(Value::as_str)
}

/// One line of a CLI's JSON-lines output as an object: `None` for a blank,
/// unparsable or non-object line, which readers skip (a malformed event
/// must never cost the final result).
pub fn event_object(line: &[u8]) -> Option<serde_json::Map<String, Value>> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return None;
    }
    match parse_bytes(line) {
        Ok(Value::Object(event)) => Some(event),
        _ => None,
    }
}

/// Parses text after the lenient rewrites described in the module docs.
pub fn parse(text: &str) -> serde_json::Result<Value> {
    serde_json::from_str(&rewrite(text))
}

const REPLACEMENT_ESCAPE: &str = "\\uFFFD";

/// Rewrites what Python accepts and `serde_json` rejects into equivalent
/// standard JSON. Borrows when there is nothing to change (the usual case).
pub fn rewrite(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    // `text[copied..i]` is still to be copied verbatim. Every index used to
    // slice is the position of an ASCII byte (or the end), so it is always
    // a char boundary.
    let mut copied = 0;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if in_string {
            match byte {
                b'"' => in_string = false,
                b'\\' if bytes.get(i + 1) == Some(&b'u') => {
                    let Some(unit) = hex_unit(bytes, i + 2) else {
                        // A malformed escape: left for serde_json to reject.
                        i += 2;
                        continue;
                    };
                    if is_high_surrogate(unit) && followed_by_low_surrogate(bytes, i + 6) {
                        i += 12;
                        continue;
                    }
                    if is_high_surrogate(unit) || is_low_surrogate(unit) {
                        out.push_str(&text[copied..i]);
                        out.push_str(REPLACEMENT_ESCAPE);
                        copied = i + 6;
                    }
                    i += 6;
                    continue;
                }
                // Any other escape, `\\` and `\"` included, covers the next
                // byte: `\\ud800` is a backslash followed by text.
                b'\\' => {
                    i += 2;
                    continue;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        if byte == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        let token = [&b"NaN"[..], b"Infinity", b"-Infinity"]
            .into_iter()
            .find(|token| bytes[i..].starts_with(token));
        match token {
            Some(token) => {
                out.push_str(&text[copied..i]);
                out.push_str("null");
                i += token.len();
                copied = i;
            }
            None => i += 1,
        }
    }
    // Every rewrite moves `copied` past its token, so 0 means unchanged.
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The code unit of the four hex digits at `start`, if they are there.
fn hex_unit(bytes: &[u8], start: usize) -> Option<u16> {
    let digits = bytes.get(start..start + 4)?;
    let digits = std::str::from_utf8(digits).ok()?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(digits, 16).ok()
}

fn followed_by_low_surrogate(bytes: &[u8], at: usize) -> bool {
    bytes.get(at) == Some(&b'\\')
        && bytes.get(at + 1) == Some(&b'u')
        && hex_unit(bytes, at + 2).is_some_and(is_low_surrogate)
}

fn is_high_surrogate(unit: u16) -> bool {
    (0xD800..=0xDBFF).contains(&unit)
}

fn is_low_surrogate(unit: u16) -> bool {
    (0xDC00..=0xDFFF).contains(&unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lone_surrogate_becomes_replacement_char() {
        let value = parse(r#"{"result": "a\ud800b"}"#).unwrap();
        assert_eq!(value, json!({"result": "a\u{FFFD}b"}));
        let value = parse(r#"["\uDC00", "\udbff"]"#).unwrap();
        assert_eq!(value, json!(["\u{FFFD}", "\u{FFFD}"]));
    }

    #[test]
    fn valid_surrogate_pair_is_kept() {
        assert_eq!(parse(r#""\ud83d\ude00""#).unwrap(), json!("😀"));
    }

    #[test]
    fn high_surrogate_before_a_pair_is_replaced_alone() {
        assert_eq!(
            parse(r#""\ud83d\ud83d\ude00""#).unwrap(),
            json!("\u{FFFD}😀")
        );
    }

    #[test]
    fn reversed_pair_becomes_two_replacement_chars() {
        assert_eq!(
            parse(r#""\ude00\ud83d""#).unwrap(),
            json!("\u{FFFD}\u{FFFD}")
        );
    }

    #[test]
    fn escaped_backslash_before_u_is_text_not_an_escape() {
        assert_eq!(parse(r#""\\ud800""#).unwrap(), json!("\\ud800"));
        assert_eq!(parse(r#""\\\\ud800""#).unwrap(), json!("\\\\ud800"));
        assert_eq!(parse(r#""\\\ud800""#).unwrap(), json!("\\\u{FFFD}"));
    }

    #[test]
    fn non_finite_tokens_become_null() {
        assert_eq!(
            parse(r#"{"a": NaN, "b": Infinity, "c": -Infinity, "d": [NaN]}"#).unwrap(),
            json!({"a": null, "b": null, "c": null, "d": [null]})
        );
    }

    #[test]
    fn token_after_a_string_ending_in_escaped_backslash_is_rewritten() {
        assert_eq!(parse(r#"["\\", NaN]"#).unwrap(), json!(["\\", null]));
    }

    #[test]
    fn nan_inside_a_string_stays_text() {
        assert_eq!(
            parse(r#"{"t": "NaN and -Infinity"}"#).unwrap(),
            json!({"t": "NaN and -Infinity"})
        );
    }

    #[test]
    fn escaped_quote_does_not_end_the_string() {
        assert_eq!(parse(r#""say \"NaN\"""#).unwrap(), json!("say \"NaN\""));
    }

    #[test]
    fn invalid_utf8_becomes_replacement_char() {
        let value = parse_bytes(b"{\"result\":\"caf\xe9 ok\",\"is_error\":false}").unwrap();
        assert_eq!(value["result"], json!("caf\u{FFFD} ok"));
    }

    #[test]
    fn standard_json_is_not_copied() {
        assert!(matches!(rewrite(r#"{"a": "\u00e9"}"#), Cow::Borrowed(_)));
    }

    #[test]
    fn truncated_escapes_fail_cleanly() {
        for text in [
            r#""\"#,
            r#""\u"#,
            r#""\ud8"#,
            r#""\ud800"#,
            r#""\ud800\"#,
            r#""\ud800\u"#,
            r#""\ud800\udc"#,
            r#""\uZZZZ""#,
            "\\",
            "-Inf",
            "Na",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // Every short sequence over the alphabet that drives the rewriter.
        let alphabet: &[u8] = b"\"\\ud8cDC0N-I\xff";
        let mut input = Vec::new();
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    for d in alphabet {
                        input.clear();
                        input.extend_from_slice(&[*a, *b, *c, *d, b'0', b'0']);
                        let _ = parse_bytes(&input);
                    }
                }
            }
        }
    }

    #[test]
    fn huge_and_deep_inputs_fail_or_parse_without_panicking() {
        let big = format!("\"{}\"", "\\ud800x".repeat(200_000));
        let value = parse(&big).unwrap();
        assert_eq!(value.as_str().unwrap().chars().count(), 400_000);
        let deep = "[".repeat(100_000);
        assert!(parse(&deep).is_err());
    }
}
