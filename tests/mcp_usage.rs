//! The usage journal as the server writes it, and what it feeds back:
//! `typical` figures in the discovery tools and a measured timeout in the
//! timeout message.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
#[path = "support/mcp_client.rs"]
mod mcp_client;
mod support;

use std::time::Duration;

use fake::FakeClaude;
use mcp_client::{Server, serve};
use serde_json::{Value, json};
use support::Sandbox;

fn setup(env: &[(&str, &str)]) -> (Sandbox, FakeClaude, Server) {
    let sandbox = Sandbox::new();
    sandbox.add_agent("api", "API");
    let fake = FakeClaude::new(env);
    let server = serve(&sandbox, fake.dir.path());
    (sandbox, fake, server)
}

fn journal(sandbox: &Sandbox) -> Vec<Value> {
    std::fs::read_to_string(sandbox.usage_log())
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn every_dispatch_and_cache_hit_is_journaled_once() {
    let (sandbox, _fake, mut server) = setup(&[]);
    server.call(
        1,
        "dispatch",
        json!({"agent": "api", "task": "t", "caller": "web"}),
    );
    server.call(
        2,
        "dispatch",
        json!({"agent": "api", "task": "t", "caller": "web"}),
    );
    server.call(3, "dispatch_session", json!({"agent": "api", "task": "s"}));
    let records = journal(&sandbox);
    assert_eq!(records.len(), 3, "{records:?}");
    assert_eq!(records[0]["agent"], "api");
    assert_eq!(records[0]["ok"], true);
    assert_eq!(records[0]["caller"], "web");
    assert_eq!(records[0]["cost"], 0.0123);
    assert_eq!(records[1]["cached"], true);
    assert!(records[1].get("ms").is_none());
    assert!(records[2].get("cached").is_none());
}

#[test]
fn the_journal_is_off_when_usage_log_is_false() {
    let (sandbox, _fake, mut server) = setup(&[]);
    sandbox.edit_config("usage_log: true", "usage_log: false");
    // A run that really happened, so only the setting can keep it out.
    let (result, is_error) =
        server.call(1, "dispatch_session", json!({"agent": "api", "task": "t"}));
    assert!(!is_error, "{result}");
    assert!(journal(&sandbox).is_empty());
}

#[test]
fn three_runs_make_a_typical_profile() {
    let (_sandbox, _fake, mut server) = setup(&[]);
    for id in 1..=2 {
        server.call(id, "dispatch_session", json!({"agent": "api", "task": "t"}));
    }
    let (agents, _) = server.call(10, "list_agents", json!({}));
    assert!(
        agents[0].get("typical").is_none(),
        "two runs are not a profile yet"
    );
    server.call(3, "dispatch_session", json!({"agent": "api", "task": "t"}));
    let (agents, _) = server.call(11, "list_agents", json!({}));
    let typical = &agents[0]["typical"];
    assert_eq!(typical["median_cost_usd"], 0.0123, "{agents}");
    assert!(
        typical["median_seconds"].is_number() && typical["p90_seconds"].is_number(),
        "{typical}"
    );
    let (detail, _) = server.call(12, "inspect_agent", json!({"name": "api"}));
    assert_eq!(detail["typical"]["dispatches"], 3, "{detail}");
}

#[test]
fn a_timeout_offers_the_limit_measured_from_recent_runs() {
    let sandbox = Sandbox::with_api_agent();
    let fake = FakeClaude::new(&[]);
    // The 10 s floor of timeout_seconds, lowered so the run times out fast.
    let mut command = sandbox.command_with_claude(fake.dir.path());
    command.env("AGENT_DISPATCH_TEST_MIN_TIMEOUT_SECS", "1");
    let mut server = Server::initialized(command);
    // Three 100-second runs on record: p90 100 s × 1.5 → 150 s.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let lines: String = (0..3)
        .map(|_| format!("{{\"t\":{now},\"agent\":\"api\",\"ok\":true,\"ms\":100000}}\n"))
        .collect();
    std::fs::write(sandbox.usage_log(), lines).unwrap();
    let (result, _) = server.call(
        1,
        "dispatch_session",
        json!({"agent": "api", "task": "[fake:hang] wait", "timeout_seconds": 1}),
    );
    let error = result["error"].as_str().unwrap();
    assert!(error.contains("--timeout 150"), "{error}");
    assert!(
        error.contains("Recent runs of this agent suggest timeout_seconds=150"),
        "{error}"
    );
}

#[test]
fn a_cancelled_dispatch_is_journaled_as_cancelled_and_counts_as_no_failure() {
    let fake = FakeClaude::with_files(
        &[("FAKE_CLAUDE_MODE", "hang")],
        &[("FAKE_CLAUDE_STARTED", "started")],
    );
    let sandbox = Sandbox::with_api_agent();
    let mut server = serve(&sandbox, fake.dir.path());
    server.send(
        5,
        "tools/call",
        json!({"name": "dispatch", "arguments": {"agent": "api", "task": "forever"}}),
    );
    support::wait_until("the stand-in to start", Duration::from_secs(20), || {
        fake.file("started").exists()
    });
    server.send_raw(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}})
            .to_string(),
    );
    support::wait_until("the run to be journaled", Duration::from_secs(20), || {
        journal(&sandbox).len() == 1
    });
    let line = &journal(&sandbox)[0];
    assert_eq!(
        (&line["ok"], &line["err"]),
        (&json!(false), &json!("cancelled"))
    );
    let stats = sandbox.run(&["stats", "--json"]).json();
    assert_eq!(stats["total"]["failed"], 0, "{stats}");
    assert_eq!(stats["total"]["cancelled"], 1, "{stats}");
}

#[test]
fn a_disconnect_during_a_parallel_call_journals_no_failures() {
    let sandbox = Sandbox::with_api_agent();
    sandbox.edit_config("max_concurrency: 5", "max_concurrency: 2");
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "hang")]);
    let mut server = serve(&sandbox, fake.dir.path());
    let items: Vec<Value> = (0..8)
        .map(|n| json!({"agent": "api", "task": format!("item {n}")}))
        .collect();
    server.send(
        1,
        "tools/call",
        json!({"name": "dispatch_parallel", "arguments": {"dispatches": Value::Array(items).to_string()}}),
    );
    support::wait_until("two items to run", Duration::from_secs(20), || {
        fake.invocations().len() == 2
    });
    assert!(server.close(Duration::from_secs(20)).is_some());
    let lines = journal(&sandbox);
    // At most the two that ran (cut short, if they were reaped within
    // the exit's grace); the six that never started are not runs at all.
    assert!(lines.len() <= 2, "{lines:?}");
    assert!(lines.iter().all(|l| l["err"] == "cancelled"), "{lines:?}");
}
