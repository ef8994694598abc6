//! `stats` through the real binary, over journals planted line by line in
//! the format the journal writes (and the Python original wrote).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

mod support;

use std::fs;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::Sandbox;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn plant(sandbox: &Sandbox, lines: &[String]) {
    let path = sandbox.usage_log();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// Three agents: `web` (3 runs, one a timeout, plus a cache hit), `api`
/// (1 dear run, 10 days old), `docs` (1 cheap run).
fn planted(sandbox: &Sandbox) {
    let now = now();
    let old = now - 10 * 86_400;
    plant(
        sandbox,
        &[
            format!(
                r#"{{"t":{now},"agent":"web","ok":true,"cost":0.1,"ms":1200,"turns":2,"outcome":"done","caller":"ui"}}"#
            ),
            format!(
                r#"{{"t":{now},"agent":"web","ok":true,"cost":0.2,"ms":65000,"turns":4,"outcome":"partial"}}"#
            ),
            format!(r#"{{"t":{now},"agent":"web","ok":false,"ms":300000,"err":"timeout"}}"#),
            format!(r#"{{"t":{now},"agent":"web","ok":true,"cached":true}}"#),
            format!(
                r#"{{"t":{old},"agent":"api","ok":true,"cost":1.5,"ms":800,"outcome":"done"}}"#
            ),
            format!(r#"{{"t":{now},"agent":"docs","ok":true,"cost":0.05,"ms":500}}"#),
        ],
    );
}

#[test]
fn empty_journal_gives_valid_json_with_zero_totals() {
    let sandbox = Sandbox::new();
    let report = sandbox.run(&["stats", "--json"]).json();
    assert_eq!(
        report,
        json!({
            "total": {"dispatches": 0, "cached_hits": 0, "ok": 0, "failed": 0, "cost_usd": 0.0},
            "agents": {}
        })
    );
}

#[test]
fn empty_journal_text_says_where_it_looked() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .run(&["stats", "--agent", "web", "--days", "3"])
        .ok();
    let path = sandbox.usage_log();
    assert_eq!(
        out,
        format!(
            "No dispatches recorded for agent 'web' in the last 3 day(s).\n    Journal: {}\n    \
             (Recording is off if settings.usage_log is false in agents.yaml.)\n",
            path.display()
        )
    );
}

#[test]
fn json_report_totals_and_orders_agents_by_spend() {
    let sandbox = Sandbox::new();
    planted(&sandbox);
    let report = sandbox.run(&["stats", "--json"]).json();
    assert_eq!(
        report["total"],
        json!({
            "dispatches": 5, "cached_hits": 1, "ok": 4, "failed": 1, "cost_usd": 1.85,
            "median_ms": 1200, "p90_ms": 300000, "max_ms": 300000,
            "median_cost_usd": 0.1, "max_cost_usd": 1.5,
            "outcomes": {"done": 2, "partial": 1},
            "errors": {"timeout": 1}
        })
    );
    let agents: Vec<&String> = report["agents"].as_object().unwrap().keys().collect();
    assert_eq!(agents, ["api", "web", "docs"]);
    assert_eq!(
        report["agents"]["web"],
        json!({
            "dispatches": 3, "cached_hits": 1, "ok": 2, "failed": 1, "cost_usd": 0.3,
            "median_ms": 65000, "p90_ms": 300000, "max_ms": 300000,
            "median_cost_usd": 0.2, "max_cost_usd": 0.2,
            "outcomes": {"done": 1, "partial": 1},
            "errors": {"timeout": 1}
        })
    );
}

#[test]
fn days_leaves_out_older_records() {
    let sandbox = Sandbox::new();
    planted(&sandbox);
    let report = sandbox.run(&["stats", "--days", "7", "--json"]).json();
    assert_eq!(report["total"]["dispatches"], 4);
    assert_eq!(report["agents"].get("api"), None);
    let all = sandbox.run(&["stats", "--days", "0", "--json"]).json();
    assert_eq!(all["total"]["dispatches"], 5);
}

#[test]
fn agent_limits_the_report_to_one_agent() {
    let sandbox = Sandbox::new();
    planted(&sandbox);
    let report = sandbox.run(&["stats", "--agent", "docs", "--json"]).json();
    assert_eq!(report["total"]["dispatches"], 1);
    assert_eq!(report["total"]["cost_usd"], 0.05);
    let agents: Vec<&String> = report["agents"].as_object().unwrap().keys().collect();
    assert_eq!(agents, ["docs"]);
}

#[test]
fn text_report_shows_totals_then_each_agent() {
    let sandbox = Sandbox::new();
    planted(&sandbox);
    let out = sandbox.run(&["stats"]).ok();
    let expected = format!(
        "\
Usage (all recorded)
  dispatches: 5, 1 served from cache
  spend:      $1.8500
  duration:   median 1s, p90 5m00s, max 5m00s
  outcomes:   done 2, partial 1
  failures:   timeout 1

Per agent
  api     1 run   $  1.5000  median  800ms p90  800ms
      done 1
  web     3 runs  $  0.3000  median    65s p90  5m00s
      done 1, partial 1  |  timeout 1  |  1 cached
  docs    1 run   $  0.0500  median  500ms p90  500ms

Journal: {}
",
        sandbox.usage_log().display()
    );
    assert_eq!(out, expected);
}

#[test]
fn text_report_names_the_period() {
    let sandbox = Sandbox::new();
    planted(&sandbox);
    let out = sandbox.run(&["stats", "--days", "7"]).ok();
    assert!(out.starts_with("Usage (last 7 day(s))\n  dispatches: 4, 1 served from cache\n"));
}

#[test]
fn unreadable_lines_are_skipped_not_fatal() {
    let sandbox = Sandbox::new();
    plant(
        &sandbox,
        &[
            "garbage".into(),
            "[1]".into(),
            r#"{"t":1,"ok":true}"#.into(),
            r#"{"t":1,"agent":"web","ok":true,"ms":NaN,"cost":0.5}"#.into(),
        ],
    );
    let report = sandbox.run(&["stats", "--json"]).json();
    assert_eq!(report["total"]["dispatches"], 1);
    assert_eq!(report["total"]["cost_usd"], 0.5);
    assert_eq!(report["total"].get("median_ms"), None);
}

#[test]
fn negative_days_is_a_usage_error() {
    let sandbox = Sandbox::new();
    let err = sandbox.run(&["stats", "--days", "-1"]).fails(2);
    assert!(err.contains("--days must be >= 0 (got -1)"), "{err}");
    assert!(
        err.contains("hint: run 'agent-dispatch stats --help'"),
        "{err}"
    );
    sandbox.run(&["stats", "--days", "soon"]).fails(2);
    sandbox.run(&["stats", "--bogus"]).fails(2);
}

#[test]
fn journal_path_follows_the_environment() {
    let sandbox = Sandbox::new();
    let elsewhere = sandbox.dir.path().join("elsewhere.jsonl");
    fs::write(&elsewhere, "{\"t\":1,\"agent\":\"web\",\"ok\":true}\n").unwrap();
    let out = sandbox
        .command()
        .env("AGENT_DISPATCH_USAGE_LOG", &elsewhere)
        .args(["stats", "--json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["total"]["dispatches"], 1);
}

#[test]
fn unreadable_journal_fails_with_a_hint() {
    let sandbox = Sandbox::new();
    // A directory where the journal should be.
    fs::create_dir_all(sandbox.usage_log()).unwrap();
    let err = sandbox.run(&["stats", "--json"]).fails(1);
    assert!(err.contains("could not read usage journal"), "{err}");
    assert!(err.contains("hint: "), "{err}");
}

#[test]
fn help_describes_the_options() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["stats", "--help"]).ok();
    assert!(out.contains("--days N"));
    assert!(sandbox.run(&["--help"]).ok().contains("stats"));
}

#[test]
fn stats_shows_control_characters_from_the_journal_escaped() {
    let sandbox = Sandbox::new();
    let now = now();
    plant(
        &sandbox,
        &[format!(
            r#"{{"t":{now},"agent":"web\u001b[2J","ok":false,"ms":10,"err":"boom\u0007","outcome":"x\u001b]0;t\u0007"}}"#
        )],
    );
    let out = sandbox.run(&["stats"]).ok();
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    assert!(out.contains(r"web\x1b[2J"), "{out}");
    assert!(out.contains(r"boom\x07 1"), "{out}");
}
