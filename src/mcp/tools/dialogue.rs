//! `dispatch_dialogue`: two agents work a topic out. The responder speaks
//! first, then they alternate, each in its own resumed session, until a
//! reply marks the topic resolved, a turn fails, or the rounds run out.
//! Every turn goes through the server's one dispatch path, never cached.

use serde_json::{Value, json};

use super::args::ArgError;
use super::dispatching::run;
use super::params::{Integer, Param, Params, Text};
use super::{Body, Call, Kind, Tool, ToolResult, unknown_agent};
use crate::config::Agent;
use crate::pyvalue;
use crate::runner::{Ask, Dispatch, DispatchResult, OutputMode, backends};

/// The marker an agent ends a dialogue reply with when it is done.
const RESOLVED: &str = "[RESOLVED]";
/// The topic as a dialogue turn's `goal` is cut to this many chars.
const GOAL_CHARS: usize = 200;
/// How much of a turn's answer its progress message shows.
const TURN_PREVIEW_CHARS: usize = 120;

const REQUESTER: Text = Text::required("requester", "Poses the topic, answers back.");
const RESPONDER: Text = Text::required("responder", "Speaks first.");
const TOPIC: Text = Text::required("topic", "What to work out.");
const MAX_ROUNDS: Integer = Integer::clamped(
    "max_rounds",
    3,
    1..=10,
    "Rounds of two turns, 1-10 (clamped).",
);
const DISPATCH_DIALOGUE: Params = &[&[
    Param::Text(REQUESTER),
    Param::Text(RESPONDER),
    Param::Text(TOPIC),
    Param::Integer(MAX_ROUNDS),
]];

pub fn tools() -> Vec<Tool> {
    vec![Tool {
        name: "dispatch_dialogue",
        description: "Two agents work a topic out: the responder first, then they alternate (own sessions) until a reply says [RESOLVED] or max_rounds pass. Returns resolved, final_answer, totals, the conversation.",
        params: DISPATCH_DIALOGUE,
        kind: Kind::Dispatch,
        body: Body::Run(dispatch_dialogue),
    }]
}

/// One side of a dialogue and the session it continues.
struct Speaker<'c> {
    name: String,
    agent: &'c Agent,
    role: &'static str,
    session: Option<String>,
}

fn dispatch_dialogue(mut call: Call) -> Result<ToolResult, ArgError> {
    let requester = call.args.text(&REQUESTER)?;
    let responder = call.args.text(&RESPONDER)?;
    let topic = call.args.text(&TOPIC)?;
    let max_rounds = call.args.integer(&MAX_ROUNDS)?;
    call.args.finish()?;
    let config = match call.config() {
        Ok(config) => config,
        Err(envelope) => return Ok(envelope),
    };
    // The responder speaks first, but the requester is checked first.
    let Some(requester_agent) = config.agents.get(&requester) else {
        return Ok(unknown_agent(&requester, &config));
    };
    let Some(responder_agent) = config.agents.get(&responder) else {
        return Ok(unknown_agent(&responder, &config));
    };
    // In speaking order. Each side keeps its own session even when both
    // are the same agent: they are two voices, not one.
    let mut speakers = [
        Speaker {
            name: responder,
            agent: responder_agent,
            role: "responder",
            session: None,
        },
        Speaker {
            name: requester,
            agent: requester_agent,
            role: "requester",
            session: None,
        },
    ];

    let goal = crate::chars::prefix(&topic, GOAL_CHARS);
    let mut conversation: Vec<Value> = Vec::new();
    let mut last_message = String::new();
    let (mut resolved, mut final_answer) = (false, String::new());
    let (mut total_cost, mut total_duration, mut rounds) = (0.0_f64, 0_u64, 0_i64);
    'rounds: for round in 1..=max_rounds {
        for turn in 0..2 {
            let other = speakers[1 - turn].name.clone();
            let speaker = &mut speakers[turn];
            let task = if round == 1 && turn == 0 {
                opening_prompt(&other, &topic)
            } else {
                reply_prompt(&other, &last_message)
            };
            let d = Dispatch {
                agent_name: &speaker.name,
                agent: speaker.agent,
                backend: backends::of(speaker.agent, &config.settings),
                settings: &config.settings,
                ask: Ask {
                    task: &task,
                    context: "",
                    caller: &other,
                    goal,
                    response_format: "",
                },
                resume: speaker.session.as_deref(),
                timeout_secs: None,
                mode: OutputMode::Json,
            };
            let result = run(&call, "dispatch_dialogue", d, false, None).result;
            speaker.session = result.session_id.clone();
            total_cost += result.cost_usd.unwrap_or(0.0);
            total_duration = total_duration.saturating_add(result.duration_ms.unwrap_or(0));
            rounds = round;
            if let Some(progress) = call.progress {
                let shown = if result.success {
                    &result.result
                } else {
                    result.error.as_deref().unwrap_or("")
                };
                let preview = crate::chars::prefix(shown, TURN_PREVIEW_CHARS);
                progress.report(&format!("[round {round}] {}: {preview}", speaker.name));
            }
            conversation.push(turn_entry(speaker, round, &result));
            let marked = result.result.contains(RESOLVED);
            if marked || !result.success {
                resolved = marked;
                final_answer = match result.error.as_deref() {
                    Some(error) if !result.success && !error.is_empty() => error.to_owned(),
                    _ => result.result.replace(RESOLVED, "").trim().to_owned(),
                };
                break 'rounds;
            }
            last_message = result.result;
        }
    }
    if final_answer.is_empty()
        && let Some(message) = conversation
            .last()
            .and_then(|entry| entry["message"].as_str())
    {
        final_answer = message.to_owned();
    }
    Ok(ToolResult::ok(json!({
        "resolved": resolved,
        "rounds": rounds,
        "total_cost_usd": pyvalue::round(total_cost, 4),
        "total_duration_ms": total_duration,
        "final_answer": final_answer,
        "conversation": conversation,
    })))
}

fn opening_prompt(requester: &str, topic: &str) -> String {
    format!(
        "You are starting a collaborative dialogue with agent '{requester}'.\nProvide your analysis or ask questions. When you have a complete answer and no further questions, end your response with {RESOLVED}.\n\nTopic:\n{topic}"
    )
}

fn reply_prompt(other: &str, message: &str) -> String {
    format!(
        "Agent '{other}' responds:\n\n{message}\n\nContinue the discussion. If you have a complete answer and no further questions, end your response with {RESOLVED}."
    )
}

/// A conversation entry; `cost_usd` is always present (`null` when
/// unknown), the error fields only on a failed turn.
fn turn_entry(speaker: &Speaker, round: i64, result: &DispatchResult) -> Value {
    let mut entry = json!({
        "agent": speaker.name,
        "role": speaker.role,
        "round": round,
        "message": result.result,
        "cost_usd": result.cost_usd,
    });
    if !result.success {
        if let Some(error) = &result.error {
            entry["error"] = json!(error);
        }
        if let Some(error_type) = &result.error_type {
            entry["error_type"] = json!(error_type.as_str());
        }
    }
    entry
}
