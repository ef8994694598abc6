//! `DispatchResult`, the answer of every dispatch, and its two small enums
//! (`ErrorType`, `Outcome`). Owns the wire shape shared with the original:
//! field order, absent fields omitted, the lenient number coercions applied
//! both to agent CLI output (via a backend's reader) and to results read back from
//! job files. Knows nothing about processes or how a result was reached.

use std::fmt;

use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::pyvalue;

/// One dispatch's answer. Serialized field order is part of the contract;
/// `None` fields are omitted, while nulls nested inside `parsed_result`
/// stay (they are the agent's data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DispatchResult {
    pub agent: String,
    pub success: bool,
    /// The agent's text, raw even on failure; empty when there is none.
    #[serde(default)]
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_cost"
    )]
    pub cost_usd: Option<f64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_count"
    )]
    pub duration_ms: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_count"
    )]
    pub num_turns: Option<u64>,
    /// Failure text including any appended hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<ErrorType>,
    /// The answer parsed as JSON (only with `response_format="json"`). A
    /// parsed JSON `null` is stored as `None`, as in the original, where
    /// the two were indistinguishable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parsed_result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied_tools: Option<Vec<String>>,
    /// Advice for the caller, mostly on results that succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Only ever written as `true`; `false` is the absent field.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "lenient_flag"
    )]
    pub budget_exceeded: bool,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_outcome"
    )]
    pub outcome: Option<Outcome>,
    /// The agent's output passed the capture bound and was cut; `result`
    /// ends with a marker saying so. Only ever written as `true`.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "lenient_flag"
    )]
    pub truncated: bool,
    /// Tokens, when the CLI reports them; the same shape for every CLI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// Token counts of one run, backend-neutral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Input tokens served from the provider's prompt cache, where reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_tokens: Option<u64>,
}

impl Usage {
    /// `sum` (if any) and `more` added up; cached tokens stay unknown only
    /// when neither knows them.
    pub fn plus(sum: Option<Usage>, more: Usage) -> Usage {
        let Some(seen) = sum else {
            return more;
        };
        Usage {
            input_tokens: seen.input_tokens.saturating_add(more.input_tokens),
            output_tokens: seen.output_tokens.saturating_add(more.output_tokens),
            cached_input_tokens: match (seen.cached_input_tokens, more.cached_input_tokens) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
            },
        }
    }

    /// Reads the counts under the given keys of `object`; `None` unless
    /// both input and output counts are there.
    pub fn read(
        object: &serde_json::Map<String, Value>,
        input: &str,
        output: &str,
        cached: &str,
    ) -> Option<Usage> {
        Some(Usage {
            input_tokens: object.get(input).and_then(coerce_count)?,
            output_tokens: object.get(output).and_then(coerce_count)?,
            cached_input_tokens: object.get(cached).and_then(coerce_count),
        })
    }
}

impl DispatchResult {
    /// A result with only the agent and the verdict set.
    pub fn new(agent: &str, success: bool) -> Self {
        DispatchResult {
            agent: agent.to_owned(),
            success,
            result: String::new(),
            session_id: None,
            cost_usd: None,
            duration_ms: None,
            num_turns: None,
            error: None,
            error_type: None,
            parsed_result: None,
            denied_tools: None,
            hint: None,
            budget_exceeded: false,
            outcome: None,
            truncated: false,
            usage: None,
        }
    }

    /// Marks the result as cut at `bound` bytes of agent output, with a
    /// marker at the end of `result` where the cut is.
    pub fn mark_truncated(&mut self, bound: usize) {
        self.truncated = true;
        self.result.push_str(&format!(
            "\n[agent-dispatch: the agent's output passed {} MiB and was cut here]",
            bound / (1024 * 1024)
        ));
    }

    /// A failed dispatch with nothing from the agent: empty `result`, no
    /// session. Callers add a session id where one is resumable.
    pub fn failure(agent: &str, error_type: ErrorType, error: String) -> Self {
        DispatchResult {
            error: Some(error),
            error_type: Some(error_type),
            ..DispatchResult::new(agent, false)
        }
    }
}

/// Why a dispatch failed, as the `error_type` string callers branch on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorType {
    Permission,
    Timeout,
    Recursion,
    NotFound,
    Budget,
    UsageLimit,
    Auth,
    InvalidArgument,
    CliError,
    /// The CLI could not reach its service (it may retry forever; our
    /// timeout or a cancel ended it).
    Network,
    /// ssh could not reach the agent's host.
    Unreachable,
    /// The CLI stopped at its turn limit.
    MaxTurns,
    /// The answer never fit the JSON Schema asked for.
    Schema,
    /// ssh reached the host but could not log in or trust its key.
    SshAuth,
    /// A value this version does not know, read back from a job file
    /// written by another version; kept verbatim so it survives a rewrite.
    Other(String),
}

impl ErrorType {
    pub fn as_str(&self) -> &str {
        match self {
            ErrorType::Permission => "permission",
            ErrorType::Timeout => "timeout",
            ErrorType::Recursion => "recursion",
            ErrorType::NotFound => "not_found",
            ErrorType::Budget => "budget",
            ErrorType::UsageLimit => "usage_limit",
            ErrorType::Auth => "auth",
            ErrorType::InvalidArgument => "invalid_argument",
            ErrorType::CliError => "cli_error",
            ErrorType::Network => "network",
            ErrorType::Unreachable => "unreachable",
            ErrorType::MaxTurns => "max_turns",
            ErrorType::Schema => "schema",
            ErrorType::SshAuth => "ssh_auth",
            ErrorType::Other(text) => text,
        }
    }

    /// Every type this version names; `Other` holds any other name.
    const KNOWN: [ErrorType; 14] = [
        ErrorType::Permission,
        ErrorType::Timeout,
        ErrorType::Recursion,
        ErrorType::NotFound,
        ErrorType::Budget,
        ErrorType::UsageLimit,
        ErrorType::Auth,
        ErrorType::InvalidArgument,
        ErrorType::CliError,
        ErrorType::Network,
        ErrorType::Unreachable,
        ErrorType::SshAuth,
        ErrorType::MaxTurns,
        ErrorType::Schema,
    ];

    fn from_name(name: String) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|known| known.as_str() == name)
            .unwrap_or(ErrorType::Other(name))
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(ErrorType::from_name)
    }
}

/// The agent's own verdict from its final `STATUS:` line. It never changes
/// `success`; it only adds advice and keeps degraded answers out of caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Done,
    Partial,
    Blocked,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Done, Outcome::Partial, Outcome::Blocked];

    /// The STATUS word, any case: `Done`, `PARTIAL`, `blocked`.
    pub fn from_word(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|outcome| word.eq_ignore_ascii_case(outcome.as_str()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Partial => "partial",
            Outcome::Blocked => "blocked",
        }
    }
}

/// A cost as the original accepts it: any number or numeric string that is
/// finite (`true` counts as 1.0, a Python quirk kept for parity). Anything
/// else is dropped rather than failing the whole result.
pub fn coerce_cost(value: &Value) -> Option<f64> {
    pyvalue::float(value)
}

/// A duration or turn count: finite, not negative, truncated toward zero
/// (`"12.7"` → 12). `null` and booleans are not counts.
pub fn coerce_count(value: &Value) -> Option<u64> {
    if value.is_boolean() {
        return None;
    }
    let number = pyvalue::float(value)?;
    // `as` saturates, so a count beyond u64 (never seen in practice) stays
    // a large count instead of wrapping.
    (number.is_finite() && number >= 0.0).then_some(number.trunc() as u64)
}

/// A value as text: a string as-is, anything else as compact JSON. (The
/// original used Python's `str()`, which renders objects in Python syntax;
/// JSON is what a reader of our results can parse.)
pub fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The `result` field of a CLI payload as text: empty when absent or falsy.
pub fn result_text(value: Option<&Value>) -> String {
    value
        .filter(|value| pyvalue::truthy(value))
        .map(text_of)
        .unwrap_or_default()
}

fn is_false(flag: &bool) -> bool {
    !flag
}

fn lenient_cost<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    Value::deserialize(deserializer).map(|value| coerce_cost(&value))
}

fn lenient_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Value::deserialize(deserializer).map(|value| coerce_count(&value))
}

fn lenient_flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Value::deserialize(deserializer).map(|value| value == Value::Bool(true))
}

/// An outcome this version does not know (or a non-string) is dropped: it
/// is advisory, and a job record must stay readable.
fn lenient_outcome<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Outcome>, D::Error> {
    Value::deserialize(deserializer).map(|value| value.as_str().and_then(Outcome::from_word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full() -> DispatchResult {
        DispatchResult {
            agent: "web".into(),
            success: true,
            result: "ok".into(),
            session_id: Some("s-1".into()),
            cost_usd: Some(0.42),
            duration_ms: Some(1200),
            num_turns: Some(3),
            error: Some("e".into()),
            error_type: Some(ErrorType::UsageLimit),
            parsed_result: Some(json!({"a": null})),
            denied_tools: Some(vec!["Bash".into()]),
            hint: Some("h".into()),
            budget_exceeded: true,
            outcome: Some(Outcome::Partial),
            truncated: true,
            usage: Some(Usage {
                input_tokens: 12,
                output_tokens: 34,
                cached_input_tokens: Some(5),
            }),
        }
    }

    #[test]
    fn fields_serialize_in_contract_order() {
        let text = serde_json::to_string(&full()).unwrap();
        assert_eq!(
            text,
            r#"{"agent":"web","success":true,"result":"ok","session_id":"s-1","cost_usd":0.42,"duration_ms":1200,"num_turns":3,"error":"e","error_type":"usage_limit","parsed_result":{"a":null},"denied_tools":["Bash"],"hint":"h","budget_exceeded":true,"outcome":"partial","truncated":true,"usage":{"input_tokens":12,"output_tokens":34,"cached_input_tokens":5}}"#
        );
    }

    #[test]
    fn absent_fields_and_false_budget_flag_are_omitted() {
        let result = DispatchResult::failure("web", ErrorType::Timeout, "slow".into());
        assert_eq!(
            serde_json::to_string(&result).unwrap(),
            r#"{"agent":"web","success":false,"result":"","error":"slow","error_type":"timeout"}"#
        );
    }

    #[test]
    fn round_trips_through_json() {
        let text = serde_json::to_string(&full()).unwrap();
        let back: DispatchResult = serde_json::from_str(&text).unwrap();
        assert_eq!(back, full());
    }

    #[test]
    fn every_error_type_round_trips_by_name() {
        for name in [
            "permission",
            "timeout",
            "recursion",
            "not_found",
            "budget",
            "usage_limit",
            "auth",
            "invalid_argument",
            "cli_error",
            "network",
            "unreachable",
            "ssh_auth",
            "max_turns",
            "schema",
        ] {
            let parsed: ErrorType = serde_json::from_value(json!(name)).unwrap();
            assert!(!matches!(parsed, ErrorType::Other(_)), "{name}");
            assert_eq!(parsed.to_string(), name);
        }
    }

    #[test]
    fn unknown_error_type_reads_back_verbatim() {
        let parsed: ErrorType = serde_json::from_value(json!("quota_v2")).unwrap();
        assert_eq!(parsed, ErrorType::Other("quota_v2".into()));
        assert_eq!(serde_json::to_value(&parsed).unwrap(), json!("quota_v2"));
    }

    #[test]
    fn bad_numbers_in_a_job_file_are_dropped_not_fatal() {
        let back: DispatchResult = serde_json::from_value(json!({
            "agent": "web", "success": true, "result": "kept",
            "cost_usd": "abc", "duration_ms": -5, "num_turns": {"x": 1},
            "budget_exceeded": "yes", "outcome": 7
        }))
        .unwrap();
        assert_eq!(back.result, "kept");
        assert_eq!(back.cost_usd, None);
        assert_eq!(back.duration_ms, None);
        assert_eq!(back.num_turns, None);
        assert!(!back.budget_exceeded);
        assert_eq!(back.outcome, None);
    }

    #[test]
    fn numeric_strings_are_coerced_on_read() {
        let back: DispatchResult = serde_json::from_value(json!({
            "agent": "web", "success": false,
            "cost_usd": " 1.5 ", "duration_ms": "12.7", "num_turns": 4.9
        }))
        .unwrap();
        assert_eq!(back.result, "");
        assert_eq!(back.cost_usd, Some(1.5));
        assert_eq!(back.duration_ms, Some(12));
        assert_eq!(back.num_turns, Some(4));
    }

    #[test]
    fn null_parsed_result_reads_back_as_absent() {
        let back: DispatchResult = serde_json::from_value(json!({
            "agent": "web", "success": true, "parsed_result": null
        }))
        .unwrap();
        assert_eq!(back.parsed_result, None);
    }

    #[test]
    fn cost_coercion_follows_python_float() {
        assert_eq!(coerce_cost(&json!(0.42)), Some(0.42));
        assert_eq!(coerce_cost(&json!(3)), Some(3.0));
        assert_eq!(coerce_cost(&json!("2.5")), Some(2.5));
        assert_eq!(coerce_cost(&json!("1_000.5")), Some(1000.5));
        assert_eq!(coerce_cost(&json!(true)), Some(1.0));
        assert_eq!(coerce_cost(&json!("1__0")), None);
        assert_eq!(coerce_cost(&json!("_1")), None);
        assert_eq!(coerce_cost(&json!("nan")), None);
        assert_eq!(coerce_cost(&json!("inf")), None);
        assert_eq!(coerce_cost(&json!("abc")), None);
        assert_eq!(coerce_cost(&json!(null)), None);
        assert_eq!(coerce_cost(&json!([1])), None);
    }

    #[test]
    fn count_coercion_truncates_and_rejects_negatives_and_booleans() {
        assert_eq!(coerce_count(&json!(95)), Some(95));
        assert_eq!(coerce_count(&json!("12.7")), Some(12));
        assert_eq!(coerce_count(&json!(0)), Some(0));
        assert_eq!(coerce_count(&json!(-1)), None);
        assert_eq!(coerce_count(&json!(true)), None);
        assert_eq!(coerce_count(&json!(null)), None);
        assert_eq!(coerce_count(&json!("Infinity")), None);
        assert_eq!(coerce_count(&json!("ten")), None);
    }

    #[test]
    fn non_string_result_is_coerced_to_text() {
        assert_eq!(result_text(Some(&json!("plain"))), "plain");
        assert_eq!(result_text(Some(&json!(42))), "42");
        assert_eq!(
            result_text(Some(&json!({"a": [1, "b"]}))),
            r#"{"a":[1,"b"]}"#
        );
        assert_eq!(result_text(Some(&json!(0))), "");
        assert_eq!(result_text(Some(&json!(null))), "");
        assert_eq!(result_text(None), "");
    }

    #[test]
    fn outcome_words_match_any_case() {
        assert_eq!(Outcome::from_word("PARTIAL"), Some(Outcome::Partial));
        assert_eq!(Outcome::from_word("Done"), Some(Outcome::Done));
        assert_eq!(Outcome::from_word("blocked"), Some(Outcome::Blocked));
        assert_eq!(Outcome::from_word("maybe"), None);
    }
}
