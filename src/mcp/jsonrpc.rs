//! JSON-RPC 2.0 over newline-delimited JSON: reading one bounded line,
//! classifying it (request, notification, response, batch, or garbage), and
//! the error codes MCP uses. No I/O policy and no MCP semantics live here.

use std::io::{self, BufRead};

use serde_json::{Map, Value, json};

/// A line longer than this is refused with an error instead of buffered.
/// The largest legitimate message is far smaller: a prompt cannot exceed
/// one command-line argument (128 KiB), and even a `dispatch_parallel` at
/// its item limit with long tasks fits.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;
/// A line holding more JSON values than this is refused before parsing:
/// a parsed value costs far more memory than its bytes on the line (`0,`
/// is two bytes, its `Value` about seventy), so the byte bound alone would
/// let one 4 MiB line cost hundreds of MiB. The largest legitimate message,
/// a `dispatch_parallel` at its item limit (5,120 items of a dozen fields
/// each), stays well below.
pub const MAX_LINE_VALUES: usize = 200_000;
/// An object counts as this many values against `MAX_LINE_VALUES`: its
/// hash table makes a small object cost about eight times a scalar.
pub const OBJECT_WEIGHT: usize = 8;

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;

/// One line from the client, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
    /// A response to a request of ours; we send none, so these are ignored.
    Response,
    Batch(Vec<Value>),
    /// Not a valid message: answer with this error (id null when unknown).
    Invalid {
        id: Value,
        code: i64,
        message: String,
    },
}

/// What reading one line produced.
#[derive(Debug)]
pub enum Line {
    Text(Vec<u8>),
    TooLong,
    Eof,
}

/// Reads one `\n`-terminated line of at most `MAX_LINE_BYTES`. An overlong
/// line is consumed to its end and reported as `TooLong`.
pub fn read_line(input: &mut impl BufRead) -> io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let available = match input.fill_buf() {
            Ok(buf) => buf,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if available.is_empty() {
            return Ok(match (too_long, line.is_empty()) {
                (true, _) => Line::TooLong,
                (false, true) => Line::Eof,
                (false, false) => Line::Text(line),
            });
        }
        let (chunk, found) = match available.iter().position(|b| *b == b'\n') {
            Some(end) => (&available[..end], Some(end + 1)),
            None => (available, None),
        };
        if !too_long {
            if line.len() + chunk.len() > MAX_LINE_BYTES {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let consumed = found.unwrap_or(available.len());
        input.consume(consumed);
        if found.is_some() {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Text(line)
            });
        }
    }
}

/// Whether `line` holds more than `MAX_LINE_VALUES` JSON values.
pub fn holds_too_many_values(line: &[u8]) -> bool {
    count_values_up_to(line, MAX_LINE_VALUES) > MAX_LINE_VALUES
}

/// Counts the JSON values in `line` without parsing, objects weighted by
/// `OBJECT_WEIGHT`, stopping once past `limit`: the top-level value, plus
/// one for every array or object opened (its first member) and every
/// separator outside a string (the next member). Never fewer than the
/// parser would build.
fn count_values_up_to(line: &[u8], limit: usize) -> usize {
    let mut values = 1;
    let mut in_string = false;
    let mut escaped = false;
    for byte in line {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' | b',' => {
                values += if *byte == b'{' { OBJECT_WEIGHT } else { 1 };
                if values > limit {
                    break;
                }
            }
            _ => {}
        }
    }
    values
}

/// Classifies one message value (a batch element or a whole line).
pub fn classify(value: Value) -> Incoming {
    let mut message = match value {
        Value::Object(message) => message,
        Value::Array(items) => return Incoming::Batch(items),
        _ => return invalid(Value::Null, "a message must be a JSON object"),
    };
    let id = message.remove("id");
    let id_ok = matches!(&id, Some(Value::String(_)))
        || id.as_ref().is_some_and(|v| v.is_i64() || v.is_u64());
    if message.get("jsonrpc") != Some(&json!("2.0")) {
        return invalid(usable_id(id), "\"jsonrpc\" must be \"2.0\"");
    }
    let Some(method) = message.remove("method") else {
        if message.contains_key("result") || message.contains_key("error") {
            return Incoming::Response;
        }
        return invalid(usable_id(id), "a request needs a \"method\"");
    };
    let Value::String(method) = method else {
        return invalid(usable_id(id), "\"method\" must be a string");
    };
    let params = match message.remove("params") {
        None => Value::Object(Map::new()),
        Some(params @ (Value::Object(_) | Value::Array(_))) => params,
        Some(_) => return invalid(usable_id(id), "\"params\" must be an object"),
    };
    match id {
        None => Incoming::Notification { method, params },
        Some(id) if id_ok => Incoming::Request { id, method, params },
        Some(_) => invalid(Value::Null, "\"id\" must be a string or an integer"),
    }
}

/// The id to echo in an error: only a well-formed one.
fn usable_id(id: Option<Value>) -> Value {
    match id {
        Some(id @ Value::String(_)) => id,
        Some(id) if id.is_i64() || id.is_u64() => id,
        _ => Value::Null,
    }
}

fn invalid(id: Value, message: &str) -> Incoming {
    Incoming::Invalid {
        id,
        code: INVALID_REQUEST,
        message: message.to_owned(),
    }
}

pub fn response(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

pub fn error(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

pub fn notification(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "params": params})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<String> {
        let mut reader = io::BufReader::with_capacity(7, input);
        let mut out = Vec::new();
        loop {
            match read_line(&mut reader).unwrap() {
                Line::Text(t) => out.push(String::from_utf8(t).unwrap()),
                Line::TooLong => out.push("<too long>".into()),
                Line::Eof => return out,
            }
        }
    }

    #[test]
    fn lines_split_on_newline_across_buffer_refills() {
        assert_eq!(
            lines(b"{\"a\":1}\n\n{\"b\":22222}\nlast"),
            ["{\"a\":1}", "", "{\"b\":22222}", "last"]
        );
    }

    #[test]
    fn an_overlong_line_is_skipped_and_reading_continues() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\nok\n");
        assert_eq!(lines(&input), ["<too long>", "ok"]);
    }

    /// How many values the parser really builds, to check the estimate.
    fn parsed_values(value: &Value) -> usize {
        1 + match value {
            Value::Array(items) => items.iter().map(parsed_values).sum(),
            Value::Object(members) => members.values().map(parsed_values).sum(),
            _ => 0,
        }
    }

    #[test]
    fn the_value_count_never_undercounts_and_ignores_string_contents() {
        for text in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":[1,2,{"b":null}]}}}"#,
            r#"["a,b,[c", "\"[{,", {"k\\":[]}, [[], {}]]"#,
            "7",
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            let built = parsed_values(&value);
            assert!(
                count_values_up_to(text.as_bytes(), usize::MAX) >= built,
                "{text}"
            );
        }
        let commas_in_a_string = format!("[\"{}\"]", ",".repeat(MAX_LINE_VALUES * 2));
        assert!(!holds_too_many_values(commas_in_a_string.as_bytes()));
    }

    #[test]
    fn a_line_of_too_many_values_is_refused_before_parsing() {
        let zeros = |n: usize| format!("[{}]", vec!["0"; n].join(","));
        assert!(!holds_too_many_values(
            zeros(MAX_LINE_VALUES - 1).as_bytes()
        ));
        assert!(holds_too_many_values(zeros(MAX_LINE_VALUES).as_bytes()));
        assert!(holds_too_many_values(
            "[".repeat(MAX_LINE_VALUES).as_bytes()
        ));
        let objects = |n: usize| format!("[{}]", vec!["{}"; n].join(","));
        assert!(!holds_too_many_values(
            objects(MAX_LINE_VALUES / (OBJECT_WEIGHT + 1) - 1).as_bytes()
        ));
        assert!(holds_too_many_values(
            objects(MAX_LINE_VALUES / OBJECT_WEIGHT).as_bytes()
        ));
    }

    #[test]
    fn messages_are_classified() {
        let request = classify(json!({"jsonrpc": "2.0", "id": 7, "method": "ping"}));
        assert_eq!(
            request,
            Incoming::Request {
                id: json!(7),
                method: "ping".into(),
                params: json!({})
            }
        );
        let note = classify(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        assert!(matches!(note, Incoming::Notification { .. }));
        assert_eq!(
            classify(json!({"jsonrpc": "2.0", "id": 1, "result": {}})),
            Incoming::Response
        );
        assert!(matches!(classify(json!([1, 2])), Incoming::Batch(items) if items.len() == 2));
    }

    #[test]
    fn malformed_messages_are_invalid_requests_with_a_usable_id() {
        for (value, id) in [
            (json!(5), Value::Null),
            (json!({"id": 1, "method": "ping"}), json!(1)),
            (json!({"jsonrpc": "2.0", "id": "a"}), json!("a")),
            (json!({"jsonrpc": "2.0", "id": 2, "method": 5}), json!(2)),
            (
                json!({"jsonrpc": "2.0", "id": 3, "method": "x", "params": 1}),
                json!(3),
            ),
            (
                json!({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}),
                Value::Null,
            ),
            (
                json!({"jsonrpc": "2.0", "id": null, "method": "ping"}),
                Value::Null,
            ),
            (
                json!({"jsonrpc": "2.0", "id": [1], "method": "ping"}),
                Value::Null,
            ),
        ] {
            match classify(value.clone()) {
                Incoming::Invalid { id: got, code, .. } => {
                    assert_eq!(code, INVALID_REQUEST, "{value}");
                    assert_eq!(got, id, "{value}");
                }
                other => panic!("{value} → {other:?}"),
            }
        }
    }
}
