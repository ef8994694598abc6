//! MCP 2026-07-28 through a real `serve`: `server/discover`, stateless
//! requests in the `_meta` envelope (no `initialize`), what the revision
//! removed, progress and cancellation, and the tasks extension (SEP-2663)
//! over the job store — written from the revision's text, since no
//! released client we can run speaks it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
#[path = "support/mcp_client.rs"]
mod mcp_client;
mod support;

use std::time::Duration;

use fake::{FakeClaude, group_gone, live_in_group};
use mcp_client::{Server, tool_payload};
use serde_json::{Value, json};
use support::{Sandbox, job_record, wait_until};

const HANG: Duration = Duration::from_secs(15);
const TASKS: &str = "io.modelcontextprotocol/tasks";

/// `params` in the 2026-07-28 envelope; `tasks` declares the extension.
fn modern(mut params: Value, tasks: bool) -> Value {
    let capabilities = if tasks {
        json!({"extensions": {TASKS: {}}})
    } else {
        json!({})
    };
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": {"name": "spec-client", "version": "1"},
    });
    params
}

fn start(sandbox: &Sandbox, fake: &FakeClaude) -> Server {
    Server::start(sandbox.command_with_claude(fake.dir.path()))
}

fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.add_agent("api", "API");
    sandbox
}

fn assert_complete(result: &Value) {
    assert_eq!(result["resultType"], "complete", "{result}");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "agent-dispatch",
        "{result}"
    );
}

/// Calls `tool` for agent `api` as a task (request id 1); the handle.
fn new_task(server: &mut Server, tool: &str, task: &str) -> Value {
    let arguments = json!({"agent": "api", "task": task});
    let params = modern(json!({"name": tool, "arguments": arguments}), true);
    server.request(1, "tools/call", params)["result"].clone()
}

/// A server whose `tool` task hangs in its agent, started: the sandbox,
/// the stand-in, the server and the task's id.
fn running_task(tool: &str) -> (Sandbox, FakeClaude, Server, String) {
    let sandbox = sandbox();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "hang")]);
    let mut server = start(&sandbox, &fake);
    let created = new_task(&mut server, tool, "forever");
    let task_id = created["taskId"].as_str().unwrap().to_owned();
    wait_until("the agent to start", HANG, || {
        !fake.invocations().is_empty()
    });
    (sandbox, fake, server, task_id)
}

/// Polls `tasks/get` until the task is no longer working.
fn settled(server: &mut Server, id: &mut u64, task_id: &str) -> Value {
    let mut last = Value::Null;
    wait_until("the task to end", HANG, || {
        *id += 1;
        last = server.request(*id, "tasks/get", modern(json!({"taskId": task_id}), true))["result"]
            .clone();
        last["status"] != "working"
    });
    last
}

#[test]
fn discover_describes_the_server_and_requests_need_no_handshake() {
    let sandbox = sandbox();
    let fake = FakeClaude::new(&[]);
    let mut server = start(&sandbox, &fake);
    let found = server.request(1, "server/discover", modern(json!({}), false))["result"].clone();
    assert_complete(&found);
    assert_eq!(found["supportedVersions"], json!(["2026-07-28"]));
    assert_eq!(
        found["capabilities"]["tools"],
        json!({"listChanged": false})
    );
    assert_eq!(found["capabilities"]["extensions"][TASKS], json!({}));
    assert!(found["capabilities"].get("tasks").is_none(), "{found}");
    assert!(
        found["instructions"]
            .as_str()
            .unwrap()
            .contains("list_agents")
    );
    assert!(found["ttlMs"].as_u64().is_some() && found["cacheScope"] == "public");

    // A fresh process, no discover first: each request stands alone.
    let mut server = start(&sandbox, &fake);
    let listed = server.request(1, "tools/list", modern(json!({}), false))["result"].clone();
    assert_complete(&listed);
    assert!(listed["ttlMs"].as_u64().is_some() && listed["cacheScope"] == "public");
    let bytes = listed.to_string().len();
    assert!(bytes <= 12_000, "tools/list is {bytes} bytes");
    let tools = listed["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 21);
    assert!(tools.iter().all(|tool| tool.get("execution").is_none()));
    let dispatch = tools.iter().find(|t| t["name"] == "dispatch").unwrap();
    assert_eq!(dispatch["_meta"]["anthropic/maxResultSizeChars"], 200_000);

    let reply = server.request(
        2,
        "tools/call",
        modern(
            json!({"name": "dispatch", "arguments": {"agent": "api", "task": "hi"}}),
            false,
        ),
    );
    assert_complete(&reply["result"]);
    let (answer, is_error) = tool_payload(&reply);
    assert!(!is_error && answer["success"] == true, "{answer}");
}

#[test]
fn a_malformed_envelope_or_another_version_is_refused_and_serving_goes_on() {
    let sandbox = sandbox();
    let fake = FakeClaude::new(&[]);
    let mut server = start(&sandbox, &fake);
    let missing = server.request(
        1,
        "server/discover",
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
    );
    assert_eq!(missing["error"]["code"], -32602, "{missing}");
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("clientCapabilities"),
        "{missing}"
    );
    let bare = server.request(2, "server/discover", json!({}));
    assert_eq!(bare["error"]["code"], -32602, "{bare}");
    let mut future = modern(json!({}), false);
    future["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2027-01-01");
    let refused = server.request(3, "tools/list", future);
    assert_eq!(refused["error"]["code"], -32022, "{refused}");
    assert_eq!(refused["error"]["data"]["requested"], "2027-01-01");
    let supported = &refused["error"]["data"]["supported"];
    assert!(supported.as_array().unwrap().contains(&json!("2026-07-28")));
    assert!(supported.as_array().unwrap().contains(&json!("2025-11-25")));
    let mut loud = modern(json!({}), false);
    loud["_meta"]["io.modelcontextprotocol/logLevel"] = json!("shout");
    assert_eq!(
        server.request(4, "tools/list", loud)["error"]["code"],
        -32602
    );
    // Removed by the revision, or never ours.
    for (id, method) in [
        (5, "ping"),
        (6, "logging/setLevel"),
        (7, "tasks/result"),
        (8, "tasks/list"),
        (9, "resources/list"),
    ] {
        let reply = server.request(id, method, modern(json!({"taskId": "x"}), true));
        assert_eq!(reply["error"]["code"], -32601, "{method}: {reply}");
    }
    // A legacy request before any handshake is still told to initialize.
    let legacy = server.request(10, "tools/list", json!({}));
    assert_eq!(legacy["error"]["code"], -32600, "{legacy}");
    let fine = server.request(11, "tools/list", modern(json!({}), false));
    assert_complete(&fine["result"]);
}

#[test]
fn progress_and_cancellation_work_as_before() {
    let sandbox = sandbox();
    let fake = FakeClaude::new(&[]);
    let mut server = start(&sandbox, &fake);
    let mut params = modern(
        json!({"name": "dispatch_stream", "arguments": {"agent": "api", "task": "stream please"}}),
        false,
    );
    params["_meta"]["progressToken"] = json!("p-1");
    server.send(1, "tools/call", params);
    let (reply, before) = server.response(&json!(1), HANG);
    assert_complete(&reply["result"]);
    assert!(
        before
            .iter()
            .any(|note| note["method"] == "notifications/progress"
                && note["params"]["progressToken"] == "p-1"),
        "{before:?}"
    );

    let hanging = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "hang")]);
    let mut server = start(&sandbox, &hanging);
    server.send(
        2,
        "tools/call",
        modern(
            json!({"name": "dispatch", "arguments": {"agent": "api", "task": "forever"}}),
            false,
        ),
    );
    wait_until("the agent to start", HANG, || {
        !hanging.invocations().is_empty()
    });
    let pgid = hanging.invocations()[0].pgid;
    server.send_raw(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2, "reason": "user"}})
            .to_string(),
    );
    wait_until("the cancelled group to die", HANG, || group_gone(pgid));
    // No reply for a cancelled request; the next one is answered.
    let next = server.request(3, "tools/list", modern(json!({}), false));
    assert_complete(&next["result"]);
}

#[test]
fn a_dispatch_runs_as_a_task_polled_to_its_result_and_kept_in_the_job_store() {
    let sandbox = sandbox();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "sleep"), ("FAKE_CLAUDE_SLEEP", "0.5")]);
    let mut server = start(&sandbox, &fake);
    let created = new_task(&mut server, "dispatch", "count rows");
    assert_eq!(created["resultType"], "task", "{created}");
    assert_eq!(created["status"], "working", "{created}");
    assert_eq!(created["pollIntervalMs"], 2000);
    assert!(created.get("ttlMs").is_some() && created["ttlMs"].is_null());
    assert!(created.get("ttl").is_none() && created.get("task").is_none());
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));
    let task_id = created["taskId"].as_str().unwrap().to_owned();
    // Durable before it was answered: the record is on disk.
    assert_eq!(job_record(&sandbox.jobs_dir(), &task_id)["agent"], "api");

    let mut id = 1;
    let done = settled(&mut server, &mut id, &task_id);
    assert_complete(&done);
    assert_eq!(done["status"], "completed", "{done}");
    let text = done["result"]["content"][0]["text"].as_str().unwrap();
    let answer: Value = serde_json::from_str(text).unwrap();
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(done["result"]["isError"], false);

    let listed = server.request(
        50,
        "tools/call",
        modern(json!({"name": "dispatch_jobs", "arguments": {}}), true),
    );
    let (jobs, _) = tool_payload(&listed);
    assert_eq!(jobs[0]["id"], task_id.as_str(), "{jobs}");
    assert_eq!(jobs[0]["status"], "done");

    // The task outlives its server: a new process answers for it.
    drop(server);
    let mut later = start(&sandbox, &fake);
    let again = later.request(1, "tasks/get", modern(json!({"taskId": task_id}), true));
    assert_eq!(again["result"]["status"], "completed", "{again}");
    assert_eq!(again["result"]["result"], done["result"]);
    let acked = later.request(
        2,
        "tasks/update",
        modern(json!({"taskId": task_id, "inputResponses": {}}), true),
    );
    assert_complete(&acked["result"]);
}

#[test]
fn cancelling_a_task_kills_its_process_group_and_it_stays_cancelled() {
    let (sandbox, fake, mut server, task_id) = running_task("dispatch_session");
    let pgid = fake.invocations()[0].pgid;
    let running = server.request(2, "tasks/get", modern(json!({"taskId": task_id}), true));
    assert_eq!(running["result"]["status"], "working", "{running}");
    assert!(running["result"].get("result").is_none());
    let acked = server.request(3, "tasks/cancel", modern(json!({"taskId": task_id}), true));
    assert_complete(&acked["result"]);
    assert_eq!(acked["result"].as_object().unwrap().len(), 2, "{acked}");
    wait_until("the task's group to die", HANG, || {
        group_gone(pgid) && live_in_group(pgid).is_empty()
    });
    let after = server.request(4, "tasks/get", modern(json!({"taskId": task_id}), true));
    assert_eq!(after["result"]["status"], "cancelled", "{after}");
    assert_eq!(
        job_record(&sandbox.jobs_dir(), &task_id)["status"],
        "cancelled"
    );
}

#[test]
fn tasks_need_the_extension_a_real_id_and_a_checked_call() {
    let sandbox = sandbox();
    let fake = FakeClaude::new(&[]);
    let mut server = start(&sandbox, &fake);
    let id = "0123456789abcdef0123456789abcdef";
    let undeclared = server.request(1, "tasks/get", modern(json!({"taskId": id}), false));
    assert_eq!(undeclared["error"]["code"], -32021, "{undeclared}");
    assert_eq!(
        undeclared["error"]["data"]["requiredCapabilities"]["extensions"][TASKS],
        json!({})
    );
    for (n, params) in [
        (2, json!({"taskId": id})),
        (3, json!({"taskId": "../../etc/passwd"})),
        (4, json!({})),
    ] {
        let reply = server.request(n, "tasks/get", modern(params, true));
        assert_eq!(reply["error"]["code"], -32602, "{reply}");
    }
    // A bad call is answered at once, as without tasks: no task, no job.
    let unknown = server.request(
        5,
        "tools/call",
        modern(
            json!({"name": "dispatch", "arguments": {"agent": "nobody", "task": "x"}}),
            true,
        ),
    );
    assert_complete(&unknown["result"]);
    let (envelope, is_error) = tool_payload(&unknown);
    assert!(
        is_error
            && envelope["error"]
                .as_str()
                .unwrap()
                .contains("Unknown agent")
    );
    let bad_effort = server.request(
        6,
        "tools/call",
        modern(
            json!({"name": "dispatch", "arguments": {"agent": "api", "task": "x", "effort": "extreme"}}),
            true,
        ),
    );
    assert_eq!(bad_effort["error"]["code"], -32602, "{bad_effort}");
    assert!(
        bad_effort["error"]["message"]
            .as_str()
            .unwrap()
            .contains("effort")
    );
    let records = std::fs::read_dir(sandbox.jobs_dir()).map_or(0, |dir| {
        dir.filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
        .count()
    });
    assert_eq!(records, 0, "a refused call leaves no job");
    // A quick tool answers in the call even when tasks were declared.
    let quick = server.request(
        7,
        "tools/call",
        modern(json!({"name": "list_agents", "arguments": {}}), true),
    );
    assert_complete(&quick["result"]);
    let (agents, _) = tool_payload(&quick);
    assert_eq!(agents[0]["name"], "api", "{agents}");
    // The 2025-11-25 `task` parameter means nothing here.
    let plain = server.request(
        8,
        "tools/call",
        modern(
            json!({"name": "dispatch", "arguments": {"agent": "api", "task": "x"}, "task": {"ttl": 5}}),
            false,
        ),
    );
    assert_complete(&plain["result"]);
    assert!(plain["result"].get("content").is_some(), "{plain}");
}

#[test]
fn a_listen_stream_tells_when_its_tasks_end_then_closes() {
    let sandbox = sandbox();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "sleep"), ("FAKE_CLAUDE_SLEEP", "0.5")]);
    let mut server = start(&sandbox, &fake);
    let created = new_task(&mut server, "dispatch", "count rows");
    let task_id = created["taskId"].as_str().unwrap().to_owned();
    let never = "0123456789abcdef0123456789abcdef";
    server.send(
        2,
        "subscriptions/listen",
        modern(
            json!({"notifications": {"taskIds": [task_id, never], "toolsListChanged": true}}),
            true,
        ),
    );
    let (closed, notes) = server.response(&json!(2), HANG);
    assert_eq!(closed["result"]["resultType"], "complete", "{closed}");
    assert_eq!(
        closed["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        2
    );
    let methods: Vec<&str> = notes
        .iter()
        .map(|n| n["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        [
            "notifications/subscriptions/acknowledged",
            "notifications/tasks"
        ],
        "{notes:?}"
    );
    let ack = &notes[0]["params"];
    assert_eq!(ack["_meta"]["io.modelcontextprotocol/subscriptionId"], 2);
    assert_eq!(
        ack["notifications"],
        json!({"taskIds": [task_id]}),
        "only what exists, no tools list"
    );
    let ended = &notes[1]["params"];
    assert_eq!(ended["_meta"]["io.modelcontextprotocol/subscriptionId"], 2);
    assert_eq!(ended["taskId"], task_id.as_str());
    assert_eq!(ended["status"], "completed");
    let polled = server.request(3, "tasks/get", modern(json!({"taskId": task_id}), true));
    assert_eq!(ended["result"], polled["result"]["result"]);

    let refused = server.request(
        4,
        "subscriptions/listen",
        modern(json!({"notifications": {"taskIds": [task_id]}}), false),
    );
    assert_eq!(refused["error"]["code"], -32021, "{refused}");
    let bad = server.request(
        5,
        "subscriptions/listen",
        modern(json!({"notifications": {"taskIds": ["../jobs"]}}), true),
    );
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    let nothing = server.request(
        6,
        "subscriptions/listen",
        modern(json!({"notifications": {"toolsListChanged": true}}), false),
    );
    assert_eq!(nothing["result"]["resultType"], "complete", "{nothing}");
}

#[test]
fn a_cancelled_listen_ends_without_an_answer_and_its_task_runs_on() {
    let (_sandbox, _fake, mut server, task_id) = running_task("dispatch");
    server.send(
        2,
        "subscriptions/listen",
        modern(json!({"notifications": {"taskIds": [task_id]}}), true),
    );
    let ack = server.next(HANG).expect("the acknowledgment");
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    server.send_raw(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2}})
            .to_string(),
    );
    let after = server.request(3, "tasks/get", modern(json!({"taskId": task_id}), true));
    assert_eq!(after["result"]["status"], "working", "{after}");
    // The cancel of the stream is not the task's: only tasks/cancel is.
    server.request(4, "tasks/cancel", modern(json!({"taskId": task_id}), true));
    let next = server.next(Duration::from_millis(1500));
    assert!(next.is_none(), "the cancelled stream said more: {next:?}");
}

#[test]
fn hostile_envelopes_are_each_refused_and_serving_goes_on() {
    let sandbox = sandbox();
    let fake = FakeClaude::new(&[]);
    let mut server = start(&sandbox, &fake);
    let version = "io.modelcontextprotocol/protocolVersion";
    let capabilities = "io.modelcontextprotocol/clientCapabilities";
    let cases: Vec<(&str, Value, i64)> = vec![
        // No version key: a handshake-era request, before the handshake.
        ("tools/list", json!({"_meta": []}), -32600),
        (
            "tools/list",
            json!({"_meta": {version: null, capabilities: {}}}),
            -32602,
        ),
        (
            "tools/list",
            json!({"_meta": {version: {}, capabilities: {}}}),
            -32602,
        ),
        (
            "tools/list",
            json!({"_meta": {version: "2026-07-28", capabilities: "all"}}),
            -32602,
        ),
        (
            "tools/list",
            json!({"_meta": {version: "2026-07-28\u{0}", capabilities: {}}}),
            -32022,
        ),
        (
            "tools/list",
            json!({"_meta": {version: "x".repeat(100_000), capabilities: {}}}),
            -32022,
        ),
        // Declared with something other than an object: not declared.
        (
            "tasks/get",
            json!({"taskId": "0123456789abcdef0123456789abcdef", "_meta": {version: "2026-07-28", capabilities: {"extensions": {TASKS: true}}}}),
            -32021,
        ),
        (
            "tasks/get",
            json!({"taskId": "a".repeat(100_000), "_meta": {version: "2026-07-28", capabilities: {"extensions": {TASKS: {}}}}}),
            -32602,
        ),
        (
            "tools/call",
            json!({"name": "dispatch", "arguments": [1], "_meta": {version: "2026-07-28", capabilities: {}}}),
            -32602,
        ),
        (
            "subscriptions/listen",
            json!({"notifications": {"taskIds": vec!["0123456789abcdef0123456789abcdef"; 101]}, "_meta": {version: "2026-07-28", capabilities: {"extensions": {TASKS: {}}}}}),
            -32602,
        ),
    ];
    for (n, (method, params, code)) in cases.into_iter().enumerate() {
        let reply = server.request(n as u64 + 1, method, params);
        assert_eq!(reply["error"]["code"], code, "{method}: {reply}");
        assert!(
            reply.to_string().len() < 1000,
            "a refusal does not echo its input: {reply}"
        );
    }
    let fine = server.request(99, "tools/list", modern(json!({}), false));
    assert_complete(&fine["result"]);
}

#[test]
fn at_the_stop_a_listen_stream_tells_of_the_tasks_the_stop_ended_then_closes() {
    let (_sandbox, _fake, mut server, task_id) = running_task("dispatch");
    server.send(
        2,
        "subscriptions/listen",
        modern(json!({"notifications": {"taskIds": [task_id]}}), true),
    );
    let ack = server.next(HANG).expect("the acknowledgment");
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    assert!(server.close(HANG).is_some(), "the server exits");
    let mut rest = Vec::new();
    while let Some(message) = server.next(Duration::from_millis(500)) {
        rest.push(message);
    }
    let told = rest
        .iter()
        .find(|m| m["method"] == "notifications/tasks")
        .unwrap_or_else(|| panic!("no task notification: {rest:?}"));
    assert_eq!(told["params"]["taskId"], task_id.as_str());
    assert_eq!(told["params"]["status"], "failed", "{told}");
    assert!(
        told["params"]["error"]["message"].as_str().is_some(),
        "{told}"
    );
    let closed = rest
        .iter()
        .find(|m| m["id"] == 2)
        .expect("the stream's answer");
    assert_eq!(closed["result"]["resultType"], "complete", "{closed}");
}
