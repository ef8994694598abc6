//! `agent-dispatch serve` as a client sees it: framing, lifecycle, errors,
//! and that the server keeps serving after bad input and exits promptly on
//! stdin EOF without leaving a process behind.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
#[path = "support/mcp_client.rs"]
mod mcp_client;
mod support;

use std::time::{Duration, Instant};

use fake::{FakeClaude, group_gone};
use mcp_client::{Server, serve};
use serde_json::{Value, json};
use support::{Sandbox, wait_until};

#[test]
fn initialize_negotiates_the_version_and_describes_the_server() {
    let sandbox = Sandbox::new();
    for (asked, answered) in [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-11-25", "2025-11-25"),
        ("1999-01-01", "2025-11-25"),
    ] {
        let mut server = Server::start(sandbox.command());
        let reply = server.request(1, "initialize", json!({"protocolVersion": asked, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}));
        let result = &reply["result"];
        assert_eq!(result["protocolVersion"], answered);
        assert_eq!(
            result["serverInfo"],
            json!({"name": "agent-dispatch", "version": env!("CARGO_PKG_VERSION")})
        );
        // Tasks (SEP-1686) came with 2025-11-25.
        let mut capabilities = json!({"tools": {"listChanged": false}});
        if answered == "2025-11-25" {
            capabilities["tasks"] =
                json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}});
        }
        assert_eq!(result["capabilities"], capabilities);
        let instructions = result["instructions"].as_str().unwrap();
        assert!(
            instructions.len() <= 2048 && instructions.contains("list_agents"),
            "{} bytes",
            instructions.len()
        );
    }
}

#[test]
fn bad_input_gets_the_right_error_and_the_server_keeps_serving() {
    let sandbox = Sandbox::new();
    let mut server = Server::initialized(sandbox.command());
    let cases: Vec<(&str, Value, i64)> = vec![
        ("{not json", Value::Null, -32700),
        ("\u{7f}\u{1}garbage", Value::Null, -32700),
        ("42", Value::Null, -32600),
        (r#"{"jsonrpc":"2.0","id":5}"#, json!(5), -32600),
        (
            r#"{"jsonrpc":"1.0","id":6,"method":"ping"}"#,
            json!(6),
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"method":"server/discover"}"#,
            json!(7),
            -32601,
        ),
        (
            r#"{"jsonrpc":"2.0","id":8,"method":"resources/list"}"#,
            json!(8),
            -32601,
        ),
        (
            r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}"#,
            json!(9),
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"inspect_agent","arguments":{}}}"#,
            json!(10),
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"inspect_agent","arguments":{"name":5}}}"#,
            json!(11),
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"list_agents","arguments":{"bogus":1}}}"#,
            json!(12),
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"dispatch","arguments":{"agent":"a","task":"t","timeout_seconds":"soon"}}}"#,
            json!(13),
            -32602,
        ),
        ("[]", Value::Null, -32600),
        (
            r#"[{"jsonrpc":"2.0","id":14,"method":"ping"}]"#,
            Value::Null,
            -32600,
        ),
    ];
    for (line, id, code) in cases {
        server.send_raw(line);
        let reply = server
            .next(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no reply to {line}"));
        assert_eq!(reply["error"]["code"], code, "{line} → {reply}");
        assert_eq!(reply["id"], id, "{line} → {reply}");
    }
    // Notifications never get a response; the next request still works.
    server.send_raw(r#"{"jsonrpc":"2.0","method":"notifications/whatever"}"#);
    assert_eq!(server.request(99, "ping", json!({}))["result"], json!({}));
}

#[test]
fn a_line_over_either_bound_is_refused_by_name_and_the_server_keeps_serving() {
    use agent_dispatch::mcp::jsonrpc::{MAX_LINE_BYTES, MAX_LINE_VALUES};
    let sandbox = Sandbox::new();
    let mut server = Server::initialized(sandbox.command());
    let too_long = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(MAX_LINE_BYTES)
    );
    let too_many = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"ping","params":{{"pad":[{}]}}}}"#,
        vec!["0"; MAX_LINE_VALUES].join(",")
    );
    for (line, names) in [
        (too_long, format!("at most {MAX_LINE_BYTES} bytes")),
        (too_many, format!("at most {MAX_LINE_VALUES} JSON values")),
    ] {
        server.send_raw(&line);
        let reply = server.next(Duration::from_secs(30)).expect("a reply");
        assert_eq!(reply["error"]["code"], -32600, "{reply}");
        assert_eq!(reply["id"], Value::Null, "{reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains(&names), "{message}");
    }
    let just_under = format!(
        r#"{{"jsonrpc":"2.0","id":3,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(MAX_LINE_BYTES - 100)
    );
    server.send_raw(&just_under);
    let reply = server.next(Duration::from_secs(30)).expect("a reply");
    assert_eq!(reply, json!({"jsonrpc": "2.0", "id": 3, "result": {}}));
}

#[test]
fn requests_before_initialize_are_refused_except_ping() {
    let sandbox = Sandbox::new();
    let mut server = Server::start(sandbox.command());
    assert_eq!(server.request(1, "ping", json!({}))["result"], json!({}));
    assert_eq!(
        server.request(2, "tools/list", json!({}))["error"]["code"],
        -32600
    );
}

/// The pinned `tools/list`: every client session loads it, so any change
/// to a name, description, schema or annotation must show up in review as a
/// diff of this file. Run with `UPDATE_GOLDEN=1` to rewrite it on purpose.
const TOOLS_LIST_GOLDEN: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/tools-list.json");

#[test]
fn tools_list_matches_the_golden_file_and_stays_within_budget() {
    let sandbox = Sandbox::new();
    let mut server = Server::initialized(sandbox.command());
    let reply = server.request(1, "tools/list", json!({}));
    let result = &reply["result"];
    // Every byte is resent to the model at each session start.
    let bytes = result.to_string().len();
    assert!(
        bytes <= 12_000,
        "tools/list is {bytes} bytes, over the 12,000 budget"
    );
    let live = format!("{}\n", serde_json::to_string_pretty(result).unwrap());
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(TOOLS_LIST_GOLDEN, &live).unwrap();
        return;
    }
    let pinned = std::fs::read_to_string(TOOLS_LIST_GOLDEN).unwrap_or_default();
    if live != pinned {
        let line = live
            .lines()
            .zip(pinned.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| live.lines().count().min(pinned.lines().count()));
        panic!(
            "tools/list differs from {TOOLS_LIST_GOLDEN} at line {}:\n  pinned: {}\n  live:   {}\nIf the change is intended, rewrite the file with\n  UPDATE_GOLDEN=1 cargo test --test mcp_protocol tools_list_matches_the_golden_file\nand review its diff.",
            line + 1,
            pinned.lines().nth(line).unwrap_or("(end of file)"),
            live.lines().nth(line).unwrap_or("(end of output)"),
        );
    }
}

#[test]
fn tools_list_has_every_tool_with_schema_and_annotations() {
    let sandbox = Sandbox::new();
    let mut server = Server::initialized(sandbox.command());
    let reply = server.request(1, "tools/list", json!({}));
    let tools = reply["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "list_agents",
            "inspect_agent",
            "list_groups",
            "inspect_group",
            "dispatch",
            "dispatch_session",
            "dispatch_stream",
            "dispatch_parallel",
            "dispatch_dialogue",
            "add_agent",
            "update_agent",
            "remove_agent",
            "dispatch_async",
            "dispatch_status",
            "dispatch_wait",
            "dispatch_cancel",
            "dispatch_jobs",
            "fetch_result",
            "dispatch_gc",
            "cache_stats",
            "cache_clear",
        ]
    );
    for tool in tools {
        assert!(tool["description"].as_str().unwrap().len() <= 2048);
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        assert!(tool["annotations"].is_object(), "{tool}");
    }
    let annotation = |name: &str, key: &str| {
        tools.iter().find(|t| t["name"] == name).unwrap()["annotations"][key].clone()
    };
    assert_eq!(annotation("list_agents", "readOnlyHint"), true);
    assert_eq!(annotation("dispatch", "openWorldHint"), true);
    assert_eq!(annotation("cache_clear", "destructiveHint"), true);
    let dispatch = tools.iter().find(|t| t["name"] == "dispatch").unwrap();
    assert_eq!(
        dispatch["inputSchema"]["required"],
        json!(["agent", "task"])
    );
}

#[test]
fn stdin_eof_exits_promptly_and_kills_running_dispatches() {
    let sandbox = Sandbox::with_api_agent();
    let fake = FakeClaude::with_files(
        &[("FAKE_CLAUDE_MODE", "hang")],
        &[("FAKE_CLAUDE_STARTED", "started")],
    );
    let started = fake.file("started");
    let mut server = serve(&sandbox, fake.dir.path());
    server.send(
        5,
        "tools/call",
        json!({"name": "dispatch", "arguments": {"agent": "api", "task": "wait forever"}}),
    );
    wait_until("the stand-in to start", Duration::from_secs(10), || {
        started.exists()
    });
    let closed = Instant::now();
    let status = server
        .close(Duration::from_secs(5))
        .expect("serve exited after stdin EOF");
    assert!(
        closed.elapsed() <= Duration::from_secs(1),
        "exit took {:?}",
        closed.elapsed()
    );
    assert!(status.success());
    let pgid = fake.invocations()[0].pgid;
    assert!(group_gone(pgid), "group {pgid} survived the server");
}

#[test]
fn stdout_carries_only_protocol_messages() {
    let sandbox = Sandbox::with_api_agent();
    let fake = FakeClaude::new(&[]);
    let mut server = serve(&sandbox, fake.dir.path());
    let (result, is_error) = server.call(1, "dispatch", json!({"agent": "api", "task": "hi"}));
    assert!(!is_error, "{result}");
    server.close(Duration::from_secs(5));
    // Every line the reader thread parsed was JSON (it panics otherwise);
    // nothing else is pending.
    assert!(server.next(Duration::from_millis(100)).is_none());
}

#[test]
fn requests_piped_in_before_eof_are_all_answered() {
    let sandbox = Sandbox::with_api_agent();
    let mut input = String::new();
    input.push_str(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}).to_string());
    input.push('\n');
    for id in 1..=60 {
        input.push_str(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "list_agents", "arguments": {}}}).to_string());
        input.push('\n');
    }
    let mut child = sandbox
        .command()
        .arg("serve")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let ids: std::collections::BTreeSet<i64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 61, "replies lost at EOF: got {ids:?}");
}

#[test]
fn a_batch_is_answered_as_one_array_in_2025_03_26() {
    let sandbox = Sandbox::new();
    let mut server = Server::start(sandbox.command());
    server.request(1, "initialize", json!({"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}));
    server.send_raw(&json!([
        {"jsonrpc": "2.0", "id": 2, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "cache_stats", "arguments": {}}},
    ])
    .to_string());
    let reply = server.next(Duration::from_secs(10)).expect("batch reply");
    let items = reply
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {reply}"));
    let ids: Vec<&Value> = items.iter().map(|m| &m["id"]).collect();
    assert_eq!(ids, [&json!(2), &json!(3), &json!(4)]);
    assert!(items[1]["result"]["tools"].is_array());
}

#[test]
#[should_panic(expected = "stdout is not JSON")]
fn the_test_client_fails_on_a_non_json_stdout_line() {
    // Proves the "only protocol messages on stdout" checks can fail: a
    // program that prints a log line to stdout is caught.
    let mut command = std::process::Command::new("sh");
    command.args(["-c", "echo 'INFO starting up'; sleep 5"]);
    let mut server = Server::start(command);
    server.next(Duration::from_secs(5));
}

#[test]
fn a_session_opened_with_initialize_keeps_its_era() {
    // Claude Code 2.1.280 sent initialize after a successful discover
    // (anthropics/claude-code#96183): the handshake is still taken, and
    // from then on the session answers as it always did.
    let sandbox = Sandbox::with_api_agent();
    let mut server = Server::start(sandbox.command());
    let envelope = json!({"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }});
    let probe = server.request(7, "server/discover", envelope.clone());
    assert_eq!(
        probe["result"]["supportedVersions"],
        json!(["2026-07-28"]),
        "{probe}"
    );
    let init = server.request(
        0,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25", "{init}");
    let after = server.request(1, "server/discover", envelope.clone());
    assert_eq!(after["error"]["code"], -32601, "{after}");
    let listed = server.request(2, "tools/list", envelope);
    assert!(listed["result"].get("resultType").is_none(), "{listed}");
    assert!(listed["result"]["tools"].is_array(), "{listed}");
    assert_eq!(server.request(3, "ping", json!({}))["result"], json!({}));
}
