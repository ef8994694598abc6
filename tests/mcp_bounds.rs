//! Memory bounds a client can reach through the real server: the result
//! cache counts bytes, not only entries, and agent output past the capture
//! bound is cut visibly.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
#[path = "support/mcp_client.rs"]
mod mcp_client;
mod support;

use agent_dispatch::cache::{MAX_ENTRY_BYTES, MAX_TOTAL_BYTES};
use agent_dispatch::runner::process::STDOUT_KEEP_BYTES;
use fake::FakeClaude;
use mcp_client::serve;
use serde_json::json;
use support::Sandbox;

#[test]
fn an_answer_over_the_entry_cap_is_not_cached_and_stats_state_the_bounds() {
    let sandbox = Sandbox::with_api_agent();
    let bytes = (MAX_ENTRY_BYTES + 1024).to_string();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_RESULT_BYTES", &bytes)]);
    let mut server = serve(&sandbox, fake.dir.path());
    for id in 1..=2 {
        let (answer, is_error) =
            server.call(id, "dispatch", json!({"agent": "api", "task": "a big one"}));
        assert!(!is_error, "{}", answer["error"]);
        assert_eq!(
            answer["result"].as_str().unwrap().len(),
            MAX_ENTRY_BYTES + 1024
        );
        assert_eq!(answer.get("cached"), None, "call {id} came from the cache");
    }
    assert_eq!(fake.invocations().len(), 2);
    let (stats, _) = server.call(3, "cache_stats", json!({}));
    assert_eq!(stats["size"], 0, "{stats}");
    assert_eq!(stats["bytes"], 0, "{stats}");
    assert_eq!(stats["max_bytes"], MAX_TOTAL_BYTES, "{stats}");
    assert_eq!(stats["max_entry_bytes"], MAX_ENTRY_BYTES, "{stats}");
}

#[test]
fn output_past_the_capture_bound_is_cut_with_a_marker_and_flagged() {
    let sandbox = Sandbox::with_api_agent();
    let bytes = (STDOUT_KEEP_BYTES + 4096).to_string();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_RESULT_BYTES", &bytes)]);
    let mut server = serve(&sandbox, fake.dir.path());
    let (answer, _) = server.call(1, "dispatch", json!({"agent": "api", "task": "huge"}));
    assert_eq!(answer["truncated"], true, "{}", answer["error"]);
    let text = answer["result"].as_str().unwrap();
    assert!(
        text.ends_with("MiB and was cut here]"),
        "no marker at the end: …{}",
        &text[text.len().saturating_sub(200)..]
    );
    assert!(
        text.len() <= STDOUT_KEEP_BYTES + 200,
        "{} bytes",
        text.len()
    );
}
