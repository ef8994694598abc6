//! `dispatch_parallel` and `dispatch_dialogue` through a real `serve` with
//! the stand-in `claude`: up-front validation, input order, the per-item
//! cache, the aggregator's input, progress, and the dialogue's turns,
//! sessions, stop rules and totals.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
#[path = "support/mcp_client.rs"]
mod mcp_client;
mod support;

use std::time::Duration;

use fake::FakeClaude;
use mcp_client::{Server, serve, tool_payload};
use serde_json::{Value, json};
use support::Sandbox;

/// Two agents, `api` and `web`, and a server whose `claude` is the
/// stand-in configured with `env`.
fn setup(env: &[(&str, &str)]) -> (Sandbox, FakeClaude, Server) {
    let sandbox = Sandbox::new();
    for name in ["api", "web"] {
        sandbox.add_agent(name, name);
    }
    let fake = FakeClaude::new(env);
    let server = serve(&sandbox, fake.dir.path());
    (sandbox, fake, server)
}

fn parallel(server: &mut Server, id: u64, items: Value) -> (Value, bool) {
    server.call(
        id,
        "dispatch_parallel",
        json!({"dispatches": items.to_string()}),
    )
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
}

/// The value after `flag` in an argv.
fn flag_value<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
    argv.windows(2)
        .find(|w| w[0] == flag)
        .map(|w| w[1].as_str())
}

#[test]
fn parallel_results_keep_input_order_with_failures_in_place() {
    let (_sandbox, fake, mut server) = setup(&[
        ("FAKE_CLAUDE_ECHO_PROMPT", "1"),
        ("FAKE_CLAUDE_SLEEP", "0.5"),
    ]);
    // The first item is the slowest, so finishing order differs from input
    // order.
    let (results, is_error) = parallel(
        &mut server,
        1,
        json!([
            {"agent": "api", "task": "[fake:sleep] first"},
            {"agent": "web", "task": "[fake:exit-error] second"},
            {"agent": "web", "task": "third"},
        ]),
    );
    assert!(!is_error, "{results}");
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["agent"], "api");
    assert_eq!(results[0]["result"], "[fake:sleep] first");
    assert_eq!(results[1]["agent"], "web");
    assert_eq!(results[1]["success"], false);
    assert!(
        text(&results[1]["error"]).contains("boom: everything is on fire"),
        "{}",
        results[1]
    );
    assert_eq!(results[2]["result"], "third");
    assert_eq!(fake.invocations().len(), 3);
}

#[test]
fn parallel_items_run_concurrently_but_never_beyond_max_concurrency() {
    let sandbox = Sandbox::new();
    sandbox.add_agent("api", "API");
    sandbox.edit_config("max_concurrency: 5", "max_concurrency: 2");
    // A claude that logs its start and end around the stand-in.
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "sleep"), ("FAKE_CLAUDE_SLEEP", "0.3")]);
    let logging = fake::LoggingClaude::around(&fake);
    let mut server = serve(&sandbox, logging.dir.path());
    let items: Vec<Value> = (1..=6)
        .map(|n| json!({"agent": "api", "task": format!("job {n}")}))
        .collect();
    let (results, is_error) = parallel(&mut server, 1, json!(items));
    assert!(!is_error, "{results}");
    assert!(
        results
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["success"] == true),
        "{results}"
    );
    let (runs, peak) = logging.runs_and_peak();
    assert_eq!(runs, 6);
    assert_eq!(peak, 2, "peak concurrency {peak}");
}

#[test]
fn parallel_rejects_bad_input_up_front_and_runs_nothing() {
    let (sandbox, fake, mut server) = setup(&[]);
    sandbox
        .run(&["group", "add", "shop", "--member", "web"])
        .ok();
    let item = |extra: Value| {
        let mut item = json!({"agent": "api", "task": "t"});
        for (key, value) in extra.as_object().unwrap() {
            item[key] = value.clone();
        }
        json!([item]).to_string()
    };
    let number_error =
        |field: &str, shown: &str| format!("dispatches[0].{field} must be a number, got {shown}");
    let cases: Vec<(String, String)> = vec![
        (
            "[{\"agent\": ".into(),
            "Invalid JSON in dispatches: ".into(),
        ),
        // Out of f64 range: Python would have read inf, then failed int().
        (
            "[{\"agent\": \"api\", \"task\": \"t\", \"timeout_seconds\": 1e400}]".into(),
            "Invalid JSON in dispatches: ".into(),
        ),
        (
            "{\"agent\": \"api\"}".into(),
            "dispatches must be a non-empty JSON array".into(),
        ),
        (
            "[]".into(),
            "dispatches must be a non-empty JSON array".into(),
        ),
        (
            "[1]".into(),
            "dispatches[0] must be an object, got int".into(),
        ),
        (
            "[{\"agent\": \"api\", \"task\": \"t\"}, \"x\"]".into(),
            "dispatches[1] must be an object, got str".into(),
        ),
        (
            "[null]".into(),
            "dispatches[0] must be an object, got NoneType".into(),
        ),
        (
            "[[1.5]]".into(),
            "dispatches[0] must be an object, got list".into(),
        ),
        (
            "[{\"agent\": \"api\"}]".into(),
            "dispatches[0] must have 'agent' and 'task' keys".into(),
        ),
        (
            "[{\"agent\": 5, \"task\": \"t\"}]".into(),
            "dispatches[0].agent and .task must be strings".into(),
        ),
        (
            "[{\"agent\": \"api\", \"task\": null}]".into(),
            "dispatches[0].agent and .task must be strings".into(),
        ),
        (
            "[{\"agent\": \"nope\", \"task\": \"t\"}]".into(),
            "Unknown agent: 'nope'. Available: api, web".into(),
        ),
        // Items are checked in order; the first problem wins.
        (
            "[{\"agent\": \"nope\", \"task\": \"t\"}, 7]".into(),
            "Unknown agent: 'nope'. Available: api, web".into(),
        ),
        (
            item(json!({"group": "ghost"})),
            "Unknown group: 'ghost'".into(),
        ),
        (
            item(json!({"group": "shop"})),
            "Agent 'api' is not a member of group 'shop'. Members: web".into(),
        ),
        (
            item(json!({"timeout_seconds": "abc"})),
            number_error("timeout_seconds", "'abc'"),
        ),
        (
            item(json!({"timeout_seconds": "9.5"})),
            number_error("timeout_seconds", "'9.5'"),
        ),
        (
            item(json!({"timeout_seconds": [1, 2]})),
            number_error("timeout_seconds", "[1, 2]"),
        ),
        (
            item(json!({"timeout_seconds": {"s": 1}})),
            number_error("timeout_seconds", "{'s': 1}"),
        ),
        (
            item(json!({"summary_chars": "lots"})),
            number_error("summary_chars", "'lots'"),
        ),
    ];
    for (n, (dispatches, expected)) in cases.iter().enumerate() {
        let (payload, is_error) = server.call(
            n as u64 + 1,
            "dispatch_parallel",
            json!({"dispatches": dispatches}),
        );
        assert!(is_error, "{dispatches}: {payload}");
        assert_eq!(payload.as_object().unwrap().len(), 1, "{payload}");
        assert!(
            text(&payload["error"]).starts_with(expected.as_str()),
            "{dispatches}: got {payload}, want {expected}"
        );
    }
    // An unknown aggregator is checked after every item.
    let (payload, is_error) = server.call(
        100,
        "dispatch_parallel",
        json!({"dispatches": item(json!({})), "aggregate": "ghost"}),
    );
    assert!(is_error);
    assert_eq!(
        payload,
        json!({"error": "Unknown agent: 'ghost'. Available: api, web"})
    );
    assert!(fake.invocations().is_empty(), "a rejected call ran claude");
}

#[test]
fn parallel_item_limit_is_twenty_per_concurrency_slot_but_at_least_100() {
    let (sandbox, fake, mut server) = setup(&[]);
    let items = |n: usize| json!(vec![json!({"agent": "nope", "task": "t"}); n]);
    let (payload, _) = parallel(&mut server, 1, items(101));
    assert_eq!(
        payload["error"],
        "Too many dispatches: 101 > 100. Split into multiple calls or raise settings.max_concurrency."
    );
    sandbox.edit_config("max_concurrency: 5", "max_concurrency: 6");
    let (payload, _) = parallel(&mut server, 2, items(121));
    assert_eq!(
        payload["error"],
        "Too many dispatches: 121 > 120. Split into multiple calls or raise settings.max_concurrency."
    );
    // 120 items pass the limit and reach the per-item checks.
    let (payload, _) = parallel(&mut server, 3, items(120));
    assert_eq!(
        payload["error"],
        "Unknown agent: 'nope'. Available: api, web"
    );
    assert!(fake.invocations().is_empty());
}

#[test]
fn parallel_numeric_fields_follow_python_int() {
    let (_sandbox, fake, mut server) = setup(&[]);
    let (results, is_error) = parallel(
        &mut server,
        1,
        json!([
            {"agent": "api", "task": "a", "timeout_seconds": "900", "summary_chars": "12"},
            {"agent": "api", "task": "b", "timeout_seconds": 3},
            {"agent": "api", "task": "c", "timeout_seconds": 45.9, "summary_chars": null},
            {"agent": "api", "task": "d", "timeout_seconds": null, "return_ref": false},
            {"agent": "api", "task": "e", "timeout_seconds": " 1_200 ", "return_ref": ""},
        ]),
    );
    assert!(!is_error, "{results}");
    assert!(
        results
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["success"] == true),
        "{results}"
    );
    // The time budget in the system prompt shows the timeout each item got
    // (3 is raised to the 10 s minimum; null is the agent's 300 s).
    let mut budgets: Vec<(String, String)> = fake
        .invocations()
        .iter()
        .map(|inv| {
            let prompt = inv.argv.last().unwrap().clone();
            let system = flag_value(&inv.argv, "--append-system-prompt").unwrap();
            let seconds = system
                .split("Time budget: about ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .unwrap()
                .to_owned();
            (prompt, seconds)
        })
        .collect();
    budgets.sort();
    let expected: Vec<(String, String)> = [
        ("a", "900"),
        ("b", "10"),
        ("c", "45"),
        ("d", "300"),
        ("e", "1200"),
    ]
    .iter()
    .map(|(p, s)| (p.to_string(), s.to_string()))
    .collect();
    assert_eq!(budgets, expected);
}

#[test]
fn parallel_answers_a_repeated_item_from_the_cache() {
    let (_sandbox, fake, mut server) = setup(&[]);
    let (first, _) = parallel(
        &mut server,
        1,
        json!([{"agent": "api", "task": "Count rows", "caller": "web"}]),
    );
    assert_eq!(first[0].get("cached"), None, "{first}");
    let (second, is_error) = parallel(
        &mut server,
        2,
        json!([
            {"agent": "web", "task": "Something new"},
            {"agent": "api", "task": "Count rows", "caller": "web"},
        ]),
    );
    assert!(!is_error, "{second}");
    assert_eq!(second[0].get("cached"), None, "{second}");
    assert_eq!(second[1]["cached"], true, "{second}");
    assert_eq!(second[1]["result"], "fake answer");
    assert_eq!(fake.invocations().len(), 2);
    // A plain dispatch of the same question shares the entry.
    let (single, _) = server.call(
        3,
        "dispatch",
        json!({"agent": "api", "task": "Count rows", "caller": "web"}),
    );
    assert_eq!(single["cached"], true);
    assert_eq!(fake.invocations().len(), 2);
}

#[test]
fn parallel_aggregator_gets_one_section_per_item_and_fixed_framing() {
    let (_sandbox, fake, mut server) = setup(&[("FAKE_CLAUDE_ECHO_PROMPT", "1")]);
    let (payload, is_error) = server.call(
        1,
        "dispatch_parallel",
        json!({
            "dispatches": json!([
                {"agent": "api", "task": "alpha"},
                {"agent": "web", "task": "[fake:exit-error] beta"},
                {"agent": "web", "task": "[fake:status] gamma"},
            ])
            .to_string(),
            "aggregate": "api",
        }),
    );
    assert!(!is_error, "{payload}");
    assert_eq!(payload["individual_results"].as_array().unwrap().len(), 3);
    let aggregated = &payload["aggregated"];
    assert_eq!(aggregated["agent"], "api");
    assert_eq!(aggregated["success"], true, "{aggregated}");
    let prompt = text(&aggregated["result"]);
    let failure = text(&payload["individual_results"][1]["error"]);
    let sections = format!(
        "## Agent: api [OK]\nalpha\n\n## Agent: web [FAILED]\n{failure}\n\n## Agent: web [OK, agent reports PARTIAL]\n[fake:status] gamma"
    );
    assert_eq!(
        prompt,
        format!(
            "## Goal\n\"aggregate parallel dispatch results\"\n\n## Dispatched by\n\"dispatch_parallel\"\n\n## Context\n{sections}\n\n## Task\nSynthesize the results below into a single coherent answer. Highlight key findings, note any conflicts between agents, and provide actionable conclusions."
        )
    );
    let calls = fake.invocations();
    assert_eq!(calls.len(), 4);
    assert!(calls[3].cwd.ends_with("/api"), "{:?}", calls[3].cwd);
}

#[test]
fn parallel_reports_progress_once_per_finished_item() {
    let (_sandbox, _fake, mut server) = setup(&[]);
    let items = json!([
        {"agent": "api", "task": "one"},
        {"agent": "web", "task": "[fake:exit-error] two"},
        {"agent": "web", "task": "three"},
    ]);
    server.send(
        9,
        "tools/call",
        json!({"name": "dispatch_parallel", "arguments": {"dispatches": items.to_string()}, "_meta": {"progressToken": 42}}),
    );
    let (reply, before) = server.response(&json!(9), Duration::from_secs(60));
    let (_, is_error) = tool_payload(&reply);
    assert!(!is_error);
    let progress: Vec<&Value> = before
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 3, "{before:?}");
    let values: Vec<u64> = progress
        .iter()
        .map(|m| m["params"]["progress"].as_u64().unwrap())
        .collect();
    assert_eq!(values, [1, 2, 3]);
    let messages: Vec<&str> = progress
        .iter()
        .map(|m| text(&m["params"]["message"]))
        .collect();
    assert!(
        messages
            .iter()
            .all(|m| m.contains("api") || m.contains("web")),
        "{messages:?}"
    );
    assert_eq!(
        messages.iter().filter(|m| m.contains("failed")).count(),
        1,
        "{messages:?}"
    );
    assert!(progress.iter().all(|m| m["params"]["progressToken"] == 42));
    assert!(
        server.next(Duration::from_millis(300)).is_none(),
        "a message after the response"
    );
}

#[test]
fn dialogue_stops_at_the_first_resolved_reply() {
    let (_sandbox, fake, mut server) =
        setup(&[("FAKE_CLAUDE_RESULT", "We agree: use UTC. [RESOLVED]")]);
    let (payload, is_error) = server.call(
        1,
        "dispatch_dialogue",
        json!({"requester": "web", "responder": "api", "topic": "Which timezone?"}),
    );
    assert!(!is_error, "{payload}");
    assert_eq!(payload["resolved"], true);
    assert_eq!(payload["rounds"], 1);
    assert_eq!(payload["final_answer"], "We agree: use UTC.");
    assert_eq!(payload["total_cost_usd"], 0.0123);
    assert_eq!(
        payload["conversation"],
        json!([{"agent": "api", "role": "responder", "round": 1, "message": "We agree: use UTC. [RESOLVED]", "cost_usd": 0.0123}])
    );
    let calls = fake.invocations();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].argv.last().unwrap(),
        "## Goal\n\"Which timezone?\"\n\n## Dispatched by\n\"web\"\n\n## Task\nYou are starting a collaborative dialogue with agent 'web'.\nProvide your analysis or ask questions. When you have a complete answer and no further questions, end your response with [RESOLVED].\n\nTopic:\nWhich timezone?"
    );
}

#[test]
fn dialogue_alternates_until_max_rounds_and_each_side_resumes_its_own_session() {
    let (_sandbox, fake, mut server) = setup(&[]);
    server.send(
        1,
        "tools/call",
        json!({"name": "dispatch_dialogue", "arguments": {"requester": "web", "responder": "api", "topic": "Plan the migration", "max_rounds": "2"}, "_meta": {"progressToken": "d"}}),
    );
    let (reply, before) = server.response(&json!(1), Duration::from_secs(60));
    let (payload, is_error) = tool_payload(&reply);
    assert!(!is_error, "{payload}");
    assert_eq!(payload["resolved"], false);
    assert_eq!(payload["rounds"], 2);
    assert_eq!(payload["final_answer"], "fake answer");
    assert_eq!(payload["total_cost_usd"], 0.0492);
    assert!(payload["total_duration_ms"].is_u64(), "{payload}");
    let turns: Vec<(String, String, u64)> = payload["conversation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                text(&e["agent"]).to_owned(),
                text(&e["role"]).to_owned(),
                e["round"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, String, u64)> = [
        ("api", "responder", 1),
        ("web", "requester", 1),
        ("api", "responder", 2),
        ("web", "requester", 2),
    ]
    .iter()
    .map(|(a, r, n)| (a.to_string(), r.to_string(), *n))
    .collect();
    assert_eq!(turns, expected);

    let calls = fake.invocations();
    assert_eq!(calls.len(), 4);
    let new_session = |n: usize| flag_value(&calls[n].argv, "--session-id").unwrap();
    let resumed = |n: usize| flag_value(&calls[n].argv, "--resume");
    assert_eq!(resumed(0), None);
    assert_eq!(resumed(1), None);
    assert_ne!(new_session(0), new_session(1));
    assert_eq!(resumed(2), Some(new_session(0)), "{:?}", calls[2].argv);
    assert_eq!(resumed(3), Some(new_session(1)), "{:?}", calls[3].argv);
    assert!(calls[1].cwd.ends_with("/web") && calls[2].cwd.ends_with("/api"));
    assert_eq!(
        calls[1].argv.last().unwrap(),
        "## Goal\n\"Plan the migration\"\n\n## Dispatched by\n\"api\"\n\n## Task\nAgent 'api' responds:\n\nfake answer\n\nContinue the discussion. If you have a complete answer and no further questions, end your response with [RESOLVED]."
    );

    let progress: Vec<&str> = before
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| text(&m["params"]["message"]))
        .collect();
    assert_eq!(
        progress,
        [
            "[round 1] api: fake answer",
            "[round 1] web: fake answer",
            "[round 2] api: fake answer",
            "[round 2] web: fake answer",
        ]
    );
}

#[test]
fn dialogue_rounds_are_clamped_to_one_through_ten() {
    let (_sandbox, fake, mut server) = setup(&[]);
    let (payload, _) = server.call(
        1,
        "dispatch_dialogue",
        json!({"requester": "web", "responder": "api", "topic": "t", "max_rounds": 0}),
    );
    assert_eq!(payload["rounds"], 1);
    assert_eq!(payload["conversation"].as_array().unwrap().len(), 2);
    let (payload, _) = server.call(
        2,
        "dispatch_dialogue",
        json!({"requester": "web", "responder": "web", "topic": "t", "max_rounds": 11}),
    );
    assert_eq!(payload["rounds"], 10);
    assert_eq!(payload["conversation"].as_array().unwrap().len(), 20);
    assert_eq!(fake.invocations().len(), 22);
}

#[test]
fn dialogue_stops_at_a_failed_turn_with_its_error_as_the_answer() {
    let (_sandbox, fake, mut server) = setup(&[]);
    let (payload, is_error) = server.call(
        1,
        "dispatch_dialogue",
        json!({"requester": "web", "responder": "api", "topic": "[fake:exit-error] go"}),
    );
    assert!(!is_error, "{payload}");
    assert_eq!(payload["resolved"], false);
    assert_eq!(payload["rounds"], 1);
    let entry = &payload["conversation"][0];
    assert_eq!(payload["conversation"].as_array().unwrap().len(), 1);
    assert_eq!(entry["message"], "");
    assert!(entry["cost_usd"].is_null(), "{entry}");
    assert!(entry["error_type"].is_string(), "{entry}");
    assert_eq!(payload["final_answer"], entry["error"]);
    assert!(
        text(&payload["final_answer"]).contains("boom: everything is on fire"),
        "{payload}"
    );
    assert_eq!(fake.invocations().len(), 1);
}

#[test]
fn dialogue_checks_the_requester_first() {
    let (_sandbox, fake, mut server) = setup(&[]);
    let (payload, is_error) = server.call(
        1,
        "dispatch_dialogue",
        json!({"requester": "ghost", "responder": "nobody", "topic": "t"}),
    );
    assert!(is_error);
    assert_eq!(
        payload,
        json!({"error": "Unknown agent: 'ghost'. Available: api, web"})
    );
    let (payload, _) = server.call(
        2,
        "dispatch_dialogue",
        json!({"requester": "api", "responder": "nobody", "topic": "t"}),
    );
    assert_eq!(
        payload["error"],
        "Unknown agent: 'nobody'. Available: api, web"
    );
    assert!(fake.invocations().is_empty());
}
