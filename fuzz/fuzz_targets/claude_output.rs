//! What a `claude` run printed, read both ways the runner reads it: as one
//! `--output-format json` document (`interpret_json`) and as `stream-json`
//! lines (`StreamCollector`), plus the lenient JSON parser underneath.
//!
//! Input layout: `stdout ++ stderr ++ header`, where the last `HEADER`
//! bytes choose the run's context, exit and kill, and the length of the
//! stderr part. Keeping the header at the end lets a seed be a real CLI
//! output with a few bytes appended.
//!
//! Invariants: the result agrees with itself (a success has no error and
//! no error type, only a success carries an outcome or a parsed answer, a
//! retry is only offered when it may be), it survives the JSON round trip
//! that job files rely on, and the lenient parser reads whatever the
//! strict one reads, to the same value.

#![no_main]

use agent_dispatch::runner::backends::claude::interpret::{StreamCollector, interpret_json};
use agent_dispatch::runner::lenient_json;
use agent_dispatch::runner::stream_sink::EventStream;
use agent_dispatch::runner::verdict::{Captured, Context, Exit, Kill, Verdict};
use agent_dispatch::runner::{DispatchResult, ErrorType};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const HEADER: usize = 6;
/// Longest progress text the collector passes on, in characters.
const MAX_PROGRESS_TEXT: usize = 500;

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.len().checked_sub(HEADER) else {
        return;
    };
    let (body, header) = data.split_at(split);
    let [flags, exit_kind, exit_value, timeout, budget, stderr_len] =
        <[u8; HEADER]>::try_from(header).expect("header length");
    let (stdout, stderr) = body.split_at(body.len().saturating_sub(usize::from(stderr_len)));
    let ctx = Context {
        agent: "demo",
        session_of_record: (flags & 1 != 0).then_some("0b7d2a6e-1c3f-4e5a-9b8c-7d6e5f4a3b21"),
        session_id_was_generated: flags & 2 != 0,
        first_attempt: flags & 4 != 0,
        response_format_json: flags & 8 != 0,
        timeout_secs: u64::from(timeout),
        budget_usd: (budget != 0).then(|| f64::from(budget) / 10.0),
    };
    let exit = match exit_kind % 3 {
        0 => Exit::Code(i32::from(exit_value as i8)),
        1 => Exit::Signal(i32::from(exit_value)),
        _ => Exit::Unknown,
    };
    let killed = match (flags >> 4) % 3 {
        0 => None,
        1 => Some(Kill::Timeout),
        _ => Some(Kill::Cancel),
    };

    let captured = Captured {
        stdout: stdout.to_vec(),
        stderr: stderr.to_vec(),
        exit,
        killed,
    };
    check_verdict(&ctx, interpret_json(&ctx, &captured));

    let mut collector = StreamCollector::new();
    for line in stdout.split(|b| *b == b'\n') {
        let had_result = collector.has_result();
        for message in collector.feed_line(line) {
            assert!(
                message.starts_with("Using tool: ") || message.chars().count() <= MAX_PROGRESS_TEXT,
                "progress text over {MAX_PROGRESS_TEXT} characters"
            );
        }
        assert!(!had_result || collector.has_result(), "a result was lost");
    }
    check_verdict(&ctx, collector.decide(&ctx, stderr, exit, killed));

    let lenient = lenient_json::parse_bytes(stdout);
    if let Ok(strict) = serde_json::from_slice::<Value>(stdout) {
        assert_eq!(lenient.ok(), Some(strict), "lenient differs from strict");
    }
});

fn check_verdict(ctx: &Context, verdict: Verdict) {
    let result = match verdict {
        Verdict::RetryWithoutSessionId => {
            assert!(ctx.first_attempt && ctx.session_id_was_generated);
            return;
        }
        Verdict::Done(result) => result,
    };
    assert_eq!(result.agent, ctx.agent);
    assert_eq!(result.success, result.error.is_none(), "{result:?}");
    assert_eq!(result.success, result.error_type.is_none(), "{result:?}");
    if result.parsed_result.is_some() {
        assert!(result.success && ctx.response_format_json, "{result:?}");
    }
    assert_ne!(result.parsed_result, Some(Value::Null));
    assert!(result.outcome.is_none() || result.success, "{result:?}");
    if result.error_type == Some(ErrorType::Budget) {
        assert!(result.budget_exceeded, "{result:?}");
    }
    assert_ne!(result.hint.as_deref(), Some(""), "an empty hint");
    assert!(result.cost_usd.is_none_or(f64::is_finite));
    check_round_trip(&result);
}

/// A result is stored in job files as JSON and read back from them.
fn check_round_trip(result: &DispatchResult) {
    let text = serde_json::to_string(result).expect("a result serializes");
    let back: DispatchResult = serde_json::from_str(&text).expect("a result reads back");
    let before = serde_json::to_value(result).expect("a result serializes");
    let after = serde_json::to_value(&back).expect("a result serializes");
    assert!(same(&before, &after), "{text}\nread back as {after}");
}

/// Equality, except that floats may differ in the last bits: serde_json's
/// default float parsing is not guaranteed to round-trip exactly.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => (x - y).abs() <= f64::EPSILON * x.abs().max(y.abs()),
                _ => false,
            }
        }
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(key, x)| ys.get(key).is_some_and(|y| same(x, y)))
        }
        _ => a == b,
    }
}
