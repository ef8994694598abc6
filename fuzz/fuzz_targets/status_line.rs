//! The answer-text helpers: `lift_status` (the closing `STATUS:` line) and
//! `parse_json_answer` (the answer as JSON, Markdown fence stripped).
//!
//! Invariants: lifting only ever keeps the text or cuts it short; a marker
//! appended on its own last line is always found and removed; a JSON answer
//! that strict JSON reads is read to the same value, bare or fenced.

#![no_main]

use agent_dispatch::runner::Outcome;
use agent_dispatch::runner::status_line::{lift_status, parse_json_answer};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, text)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(text);

    let (kept, outcome) = lift_status(&text);
    match outcome {
        None => assert_eq!(kept, text, "text changed without a marker"),
        Some(_) => assert!(text.starts_with(&kept), "lifting added text"),
    }

    let (marker, expected) = MARKERS[usize::from(choice) % MARKERS.len()];
    let marked = format!("{text}\n{marker}");
    assert_eq!(
        lift_status(&marked),
        (text.trim_end().to_owned(), Some(expected)),
        "an appended marker line was missed"
    );

    let answer = parse_json_answer(&text);
    assert_ne!(answer, Some(Value::Null));
    let body = text.trim();
    if let Ok(strict) = serde_json::from_str::<Value>(body)
        && !strict.is_null()
        && !body.starts_with("```")
    {
        assert_eq!(answer.as_ref(), Some(&strict), "bare JSON misread");
        let fenced = format!("```json\n{body}\n```\n");
        assert_eq!(
            parse_json_answer(&fenced),
            Some(strict),
            "fenced JSON misread"
        );
    }
});

/// Marker lines whose rest is pure decoration, so they are removed.
const MARKERS: [(&str, Outcome); 6] = [
    ("STATUS: done", Outcome::Done),
    ("Status: Partial", Outcome::Partial),
    ("**STATUS: blocked**", Outcome::Blocked),
    ("  _status : `DONE`_ !", Outcome::Done),
    ("`STATUS:partial`.", Outcome::Partial),
    ("STATUS: blocked\n\n", Outcome::Blocked),
];
