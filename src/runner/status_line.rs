//! Reads the two things a successful answer's text can carry besides prose:
//! the agent's closing `STATUS: done|partial|blocked` line (lifted into
//! `outcome`, and removed when it is pure decoration) and, when JSON was
//! requested, the answer parsed as JSON with any Markdown fence stripped.
//! Pure text functions; `interpret` decides when they apply.

use serde_json::Value;

use super::lenient_json;
use super::result::Outcome;

/// Splits the outcome off the answer's last line. Returns the text to keep
/// as `result` and the outcome, if the last line is a STATUS marker.
///
/// Only the last non-blank line counts, so prose that merely mentions
/// `STATUS: done` earlier is never taken for the marker. A marker line that
/// carries a reason (`STATUS: partial — DB down`) is kept in the text,
/// because the reason is part of the answer.
pub fn lift_status(text: &str) -> (String, Option<Outcome>) {
    let trimmed = text.trim_end();
    let (before, last) = match trimmed.rfind('\n') {
        Some(newline) => (&trimmed[..newline], &trimmed[newline + 1..]),
        None => ("", trimmed),
    };
    let Some((outcome, rest)) = match_marker(last) else {
        return (text.to_owned(), None);
    };
    let rest_is_decoration = rest
        .chars()
        .all(|c| c.is_whitespace() || matches!(c, '*' | '_' | '`' | '.' | '!'));
    if rest_is_decoration {
        (before.trim_end().to_owned(), Some(outcome))
    } else {
        (text.to_owned(), Some(outcome))
    }
}

/// Matches, ignoring case, `[ws][*_`…][ws]STATUS[ws]:[ws][*_`…][ws]WORD`
/// where WORD is done, partial or blocked and is not followed by a word
/// character; returns the outcome and the rest of the line.
fn match_marker(line: &str) -> Option<(Outcome, &str)> {
    let rest = skip_decoration(line);
    let rest = strip_prefix_ignore_case(rest, "status")?;
    let rest = rest.trim_start().strip_prefix(':')?;
    let rest = skip_decoration(rest);
    Outcome::ALL.into_iter().find_map(|outcome| {
        let after = strip_prefix_ignore_case(rest, outcome.as_str())?;
        // A word boundary, as `\b` in the original's pattern: `done_` or
        // `doneness` is not the marker.
        let continues_word = after
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        (!continues_word).then_some((outcome, after))
    })
}

/// Skips whitespace, then a run of Markdown emphasis characters (`*`, `_`,
/// backtick), then whitespace again.
fn skip_decoration(text: &str) -> &str {
    text.trim_start()
        .trim_start_matches(['*', '_', '`'])
        .trim_start()
}

fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// The answer as JSON (any value, scalars included), after dropping a
/// surrounding Markdown code fence. `None` when it does not parse — the
/// dispatch still succeeds with the raw text — and also for a JSON `null`,
/// which the original could not tell apart from a failure.
pub fn parse_json_answer(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    let unfenced;
    let body = if trimmed.starts_with("```") {
        // The opening fence line (with any language tag) goes; the closing
        // one goes only if it is the last line. A fence on a single line
        // therefore leaves nothing to parse.
        let mut lines: Vec<&str> = trimmed.split('\n').skip(1).collect();
        if lines
            .last()
            .is_some_and(|line| line.trim().starts_with("```"))
        {
            lines.pop();
        }
        unfenced = lines.join("\n");
        unfenced.trim()
    } else {
        trimmed
    };
    match lenient_json::parse(body) {
        Ok(Value::Null) | Err(_) => None,
        Ok(value) => Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lifted(text: &str) -> (String, Option<Outcome>) {
        lift_status(text)
    }

    #[test]
    fn decorated_marker_is_lifted_and_removed() {
        assert_eq!(
            lifted("x\n**Status: Partial**"),
            ("x".into(), Some(Outcome::Partial))
        );
        assert_eq!(
            lifted("x\n`STATUS: blocked`  \n\n"),
            ("x".into(), Some(Outcome::Blocked))
        );
        assert_eq!(
            lifted("x  \n _*STATUS : `done`!"),
            ("x".into(), Some(Outcome::Done))
        );
    }

    #[test]
    fn trailing_period_is_decoration() {
        assert_eq!(
            lifted("x\nSTATUS: done."),
            ("x".into(), Some(Outcome::Done))
        );
    }

    #[test]
    fn marker_as_only_line_leaves_empty_text() {
        assert_eq!(lifted("STATUS: done"), (String::new(), Some(Outcome::Done)));
    }

    #[test]
    fn marker_with_a_reason_keeps_the_text() {
        let text = "x\nSTATUS: partial — DB unreachable\n";
        assert_eq!(lifted(text), (text.into(), Some(Outcome::Partial)));
    }

    #[test]
    fn word_must_end_at_a_boundary() {
        assert_eq!(
            lifted("x\nSTATUS: done_"),
            ("x\nSTATUS: done_".into(), None)
        );
        assert_eq!(
            lifted("x\nSTATUS: doneness"),
            ("x\nSTATUS: doneness".into(), None)
        );
    }

    #[test]
    fn marker_must_be_the_last_line() {
        let text = "Text mentions STATUS: done.\nMore text.";
        assert_eq!(lifted(text), (text.into(), None));
    }

    #[test]
    fn unknown_status_word_is_not_a_marker() {
        assert_eq!(
            lifted("x\nSTATUS: maybe"),
            ("x\nSTATUS: maybe".into(), None)
        );
    }

    #[test]
    fn missing_colon_is_not_a_marker() {
        assert_eq!(lifted("x\nSTATUS done"), ("x\nSTATUS done".into(), None));
    }

    #[test]
    fn non_ascii_last_line_does_not_panic() {
        assert_eq!(lifted("x\nстатус: done"), ("x\nстатус: done".into(), None));
        assert_eq!(lifted("é"), ("é".into(), None));
    }

    #[test]
    fn plain_json_answer_parses() {
        assert_eq!(parse_json_answer(" {\"a\": 1} "), Some(json!({"a": 1})));
        assert_eq!(parse_json_answer("42"), Some(json!(42)));
        assert_eq!(parse_json_answer("\"s\""), Some(json!("s")));
    }

    #[test]
    fn fenced_json_answer_parses() {
        assert_eq!(
            parse_json_answer("```json\n{\"a\": [1, null]}\n```\n"),
            Some(json!({"a": [1, null]}))
        );
        assert_eq!(parse_json_answer("```\n[1, 2]\n"), Some(json!([1, 2])));
    }

    #[test]
    fn one_line_fence_does_not_parse() {
        assert_eq!(parse_json_answer("```json {\"a\":1}```"), None);
    }

    #[test]
    fn prose_and_null_answers_have_no_parsed_result() {
        assert_eq!(parse_json_answer("Here is the JSON: {}"), None);
        assert_eq!(parse_json_answer("null"), None);
        assert_eq!(parse_json_answer(""), None);
    }

    #[test]
    fn lone_surrogate_in_json_answer_becomes_replacement_char() {
        assert_eq!(
            parse_json_answer(r#"{"name": "x\ud800y"}"#),
            Some(json!({"name": "x\u{FFFD}y"}))
        );
    }
}
