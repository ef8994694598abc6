//! Tasks for 2025-11-25 sessions (SEP-1686) through a real `serve`: the
//! capability and each dispatch tool's `taskSupport`, a task-augmented
//! call answered with a handle, `tasks/get`, the blocking `tasks/result`,
//! status notifications, `tasks/list`, `tasks/cancel`; and the per-call
//! run controls reaching Claude Code's argv.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
#[path = "support/mcp_client.rs"]
mod mcp_client;
mod support;

use std::time::Duration;

use fake::{FakeClaude, group_gone};
use mcp_client::{Server, tool_payload};
use serde_json::{Value, json};
use support::{Sandbox, age_job_record, wait_until};

const HANG: Duration = Duration::from_secs(15);

fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.add_agent("api", "API");
    sandbox
}

/// `serve` after an `initialize` at `version`.
fn session(sandbox: &Sandbox, fake: &FakeClaude, version: &str) -> (Server, Value) {
    let mut server = Server::start(sandbox.command_with_claude(fake.dir.path()));
    let init = server.request(
        0,
        "initialize",
        json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    (server, init["result"].clone())
}

/// Calls `tool` as a task (request id 1); the new task's id.
fn new_task(server: &mut Server, tool: &str, arguments: Value) -> String {
    let created = server.request(1, "tools/call", task_call(tool, arguments));
    let id = &created["result"]["task"]["taskId"];
    id.as_str()
        .unwrap_or_else(|| panic!("no task: {created}"))
        .to_owned()
}

fn task_call(tool: &str, arguments: Value) -> Value {
    json!({"name": tool, "arguments": arguments, "task": {"ttl": 60000}})
}

#[test]
fn a_task_is_created_at_once_and_its_result_waited_for() {
    let sandbox = sandbox();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "sleep"), ("FAKE_CLAUDE_SLEEP", "1")]);
    let (mut server, init) = session(&sandbox, &fake, "2025-11-25");
    assert_eq!(
        init["capabilities"]["tasks"],
        json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}})
    );
    let tools = server.request(1, "tools/list", json!({}))["result"]["tools"].clone();
    let support = |name: &str| {
        tools
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["execution"]["taskSupport"]
            .clone()
    };
    for tool in ["dispatch", "dispatch_session", "dispatch_stream"] {
        assert_eq!(support(tool), "optional", "{tool}");
    }
    assert_eq!(support("list_agents"), Value::Null);

    let created = server.request(
        2,
        "tools/call",
        task_call("dispatch", json!({"agent": "api", "task": "count"})),
    );
    let task = &created["result"]["task"];
    assert_eq!(task["status"], "working", "{created}");
    assert!(
        task.get("ttl").is_some() && task["pollInterval"] == 2000,
        "{task}"
    );
    assert!(created["result"].get("content").is_none());
    let task_id = task["taskId"].as_str().unwrap().to_owned();

    let got = server.request(3, "tasks/get", json!({"taskId": task_id}));
    assert_eq!(got["result"]["taskId"], task_id.as_str());
    assert!(got["result"]["createdAt"].as_str().unwrap().ends_with('Z'));

    // Blocks until the task ends (heartbeats on its token come every 10 s:
    // none in a run this short).
    server.send(
        4,
        "tasks/result",
        json!({"taskId": task_id, "_meta": {"progressToken": 9}}),
    );
    let (result, before) = server.response(&json!(4), HANG);
    let (answer, is_error) = tool_payload(&result);
    assert!(!is_error && answer["success"] == true, "{answer}");
    assert_eq!(
        result["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        task_id.as_str()
    );
    // The status notification for the end, sent before or after.
    let mut notes = before;
    if !notes
        .iter()
        .any(|n| n["method"] == "notifications/tasks/status")
    {
        notes.extend(server.next(HANG));
    }
    let status = notes
        .iter()
        .find(|n| n["method"] == "notifications/tasks/status")
        .unwrap_or_else(|| panic!("no status notification: {notes:?}"));
    assert_eq!(status["params"]["taskId"], task_id.as_str());
    assert_eq!(status["params"]["status"], "completed");

    let listed = server.request(5, "tasks/list", json!({}));
    assert_eq!(
        listed["result"]["tasks"][0]["taskId"],
        task_id.as_str(),
        "{listed}"
    );
    assert_eq!(
        server.request(6, "tasks/list", json!({"cursor": "x"}))["error"]["code"],
        -32602
    );
    let again = server.request(7, "tasks/cancel", json!({"taskId": task_id}));
    assert_eq!(again["error"]["code"], -32602, "{again}");
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .contains("completed")
    );
}

#[test]
fn a_failed_dispatch_is_a_failed_task_whose_result_is_the_error_envelope() {
    let sandbox = sandbox();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "exit-error")]);
    let (mut server, _) = session(&sandbox, &fake, "2025-11-25");
    let task_id = new_task(
        &mut server,
        "dispatch_session",
        json!({"agent": "api", "task": "x"}),
    );
    let result = server.request(2, "tasks/result", json!({"taskId": task_id}));
    let (answer, is_error) = tool_payload(&result);
    assert!(is_error && answer["success"] == false, "{answer}");
    let got = server.request(3, "tasks/get", json!({"taskId": task_id}));
    assert_eq!(got["result"]["status"], "failed", "{got}");
}

#[test]
fn cancelling_a_running_task_kills_it_and_its_result_says_so() {
    let sandbox = sandbox();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "hang")]);
    let (mut server, _) = session(&sandbox, &fake, "2025-11-25");
    let created = server.request(
        1,
        "tools/call",
        task_call(
            "dispatch_stream",
            json!({"agent": "api", "task": "forever"}),
        ),
    );
    let task_id = created["result"]["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until("the agent to start", HANG, || {
        !fake.invocations().is_empty()
    });
    let pgid = fake.invocations()[0].pgid;
    // A waiting tasks/result is answered when the task ends.
    server.send(2, "tasks/result", json!({"taskId": task_id}));
    let cancelled = server.request(3, "tasks/cancel", json!({"taskId": task_id}));
    assert_eq!(cancelled["result"]["status"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["result"]["taskId"], task_id.as_str());
    wait_until("the task's group to die", HANG, || group_gone(pgid));
    let (waited, _) = server.response(&json!(2), HANG);
    assert_eq!(waited["error"]["code"], -32602, "{waited}");
    assert!(
        waited["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cancelled")
    );
    let got = server.request(4, "tasks/get", json!({"taskId": task_id}));
    assert_eq!(got["result"]["status"], "cancelled");
}

#[test]
fn tasks_are_refused_where_they_do_not_exist() {
    let sandbox = sandbox();
    let fake = FakeClaude::new(&[]);
    let (mut server, _) = session(&sandbox, &fake, "2025-11-25");
    let quick = server.request(1, "tools/call", task_call("list_agents", json!({})));
    assert_eq!(quick["error"]["code"], -32601, "{quick}");
    // A call refused before it has a task is an error, never a plain result.
    let nobody = server.request(
        10,
        "tools/call",
        task_call("dispatch", json!({"agent": "nobody", "task": "x"})),
    );
    assert_eq!(nobody["error"]["code"], -32602, "{nobody}");
    assert!(
        nobody["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown agent"),
        "{nobody}"
    );
    let mut odd = task_call("dispatch", json!({"agent": "api", "task": "x"}));
    odd["task"] = json!(true);
    let odd = server.request(11, "tools/call", odd);
    assert_eq!(odd["error"]["code"], -32602, "{odd}");
    assert!(
        fake.invocations().is_empty(),
        "refused task calls run nothing"
    );
    let unknown = server.request(
        2,
        "tasks/get",
        json!({"taskId": "0123456789abcdef0123456789abcdef"}),
    );
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    assert_eq!(
        server.request(3, "tasks/update", json!({}))["error"]["code"],
        -32601
    );

    // An older session has no tasks: the `task` parameter is ignored.
    let (mut older, init) = session(&sandbox, &fake, "2025-06-18");
    assert!(init["capabilities"].get("tasks").is_none(), "{init}");
    let plain = older.request(
        1,
        "tools/call",
        task_call("dispatch", json!({"agent": "api", "task": "hi"})),
    );
    let (answer, _) = tool_payload(&plain);
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(
        older.request(2, "tasks/get", json!({}))["error"]["code"],
        -32601
    );
}

#[test]
fn per_call_run_controls_reach_claude_over_the_agent_s_own() {
    let sandbox = sandbox();
    sandbox.edit_config(
        "description: API",
        "description: API\n    max_turns: 3\n    effort: low",
    );
    let fake = FakeClaude::new(&[]);
    let (mut server, _) = session(&sandbox, &fake, "2025-06-18");
    let (answer, _) = server.call(
        1,
        "dispatch_session",
        json!({"agent": "api", "task": "t", "max_turns": 7, "effort": "high", "fallback_model": "sonnet"}),
    );
    assert_eq!(answer["success"], true, "{answer}");
    let (plain, _) = server.call(2, "dispatch_session", json!({"agent": "api", "task": "t"}));
    assert_eq!(plain["success"], true, "{plain}");
    let runs = fake.invocations();
    assert_eq!(runs[0].flag("--max-turns"), Some("7"));
    assert_eq!(runs[0].flag("--effort"), Some("high"));
    assert_eq!(runs[0].flag("--fallback-model"), Some("sonnet"));
    assert_eq!(runs[1].flag("--max-turns"), Some("3"));
    assert_eq!(runs[1].flag("--effort"), Some("low"));
    assert_eq!(runs[1].flag("--fallback-model"), None);

    for (id, arguments, field) in [
        (
            3,
            json!({"agent": "api", "task": "t", "max_turns": 20000}),
            "max_turns",
        ),
        (
            4,
            json!({"agent": "api", "task": "t", "fallback_model": "--yolo"}),
            "fallback_model",
        ),
    ] {
        let reply = server.request(
            id,
            "tools/call",
            json!({"name": "dispatch", "arguments": arguments}),
        );
        assert_eq!(reply["error"]["code"], -32602, "{reply}");
        assert!(
            reply["error"]["message"].as_str().unwrap().contains(field),
            "{reply}"
        );
    }
    assert_eq!(fake.invocations().len(), 2, "refused calls start nothing");
}

#[test]
fn an_agent_s_json_schema_shapes_every_answer_unless_the_call_asks_otherwise() {
    let sandbox = sandbox();
    let schema = r#"{"type":"object","properties":{"rows":{"type":"integer"}}}"#;
    let run = sandbox.run(&[
        "update",
        "api",
        "--json-schema",
        "{ \"type\": \"object\", \"properties\": {\"rows\": {\"type\": \"integer\"}} }",
    ]);
    run.ok();
    assert!(
        sandbox
            .read_config()
            .contains("json_schema:\n      type: object"),
        "{}",
        sandbox.read_config()
    );
    sandbox
        .run(&["update", "api", "--json-schema", "rows please"])
        .fails(2);
    let fake = FakeClaude::new(&[]);
    let (mut server, _) = session(&sandbox, &fake, "2025-06-18");
    server.call(1, "dispatch_session", json!({"agent": "api", "task": "t"}));
    server.call(
        2,
        "dispatch_session",
        json!({"agent": "api", "task": "t", "response_format": "json"}),
    );
    let runs = fake.invocations();
    assert_eq!(runs[0].flag("--json-schema"), Some(schema));
    assert_eq!(
        runs[1].flag("--json-schema"),
        None,
        "the call's own format wins"
    );
}

#[test]
fn a_task_whose_server_died_reads_as_failed_and_its_waits_end() {
    let sandbox = sandbox();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "hang")]);
    let (mut first, _) = session(&sandbox, &fake, "2025-11-25");
    let task_id = new_task(
        &mut first,
        "dispatch",
        json!({"agent": "api", "task": "forever"}),
    );
    wait_until("the agent to start", HANG, || {
        !fake.invocations().is_empty()
    });
    // Killed outright: nothing records the task's end. Its agent is
    // killed too, as a reboot would.
    let pgid = fake.invocations()[0].pgid;
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    // SAFETY: kill(2) of the process group our test's stand-in leads.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    wait_until("the agent to die", HANG, || group_gone(pgid));
    age_job_record(&sandbox.jobs_dir(), &task_id);
    let (mut second, _) = session(&sandbox, &fake, "2025-11-25");
    let got = second.request(1, "tasks/get", json!({"taskId": task_id}));
    assert_eq!(got["result"]["status"], "failed", "{got}");
    assert!(
        got["result"]["statusMessage"]
            .as_str()
            .unwrap()
            .contains("Abandoned"),
        "{got}"
    );
    let waited = second.request(2, "tasks/result", json!({"taskId": task_id}));
    assert_eq!(waited["error"]["code"], -32603, "{waited}");
}

#[test]
fn a_streamed_task_reports_its_steps_on_the_call_s_progress_token() {
    let sandbox = sandbox();
    let fake = FakeClaude::new(&[]);
    let (mut server, _) = session(&sandbox, &fake, "2025-11-25");
    let mut call = task_call(
        "dispatch_stream",
        json!({"agent": "api", "task": "stream please"}),
    );
    call["_meta"] = json!({"progressToken": "steps-1"});
    let created = server.request(1, "tools/call", call);
    let task_id = created["result"]["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_owned();
    server.send(2, "tasks/result", json!({"taskId": task_id}));
    let (result, mut notes) = server.response(&json!(2), HANG);
    let (answer, _) = tool_payload(&result);
    assert_eq!(answer["success"], true, "{answer}");
    while let Some(note) = server.next(Duration::from_millis(500)) {
        notes.push(note);
    }
    let steps: Vec<&Value> = notes
        .iter()
        .filter(|n| n["method"] == "notifications/progress")
        .collect();
    assert!(!steps.is_empty(), "{notes:?}");
    assert!(
        steps
            .iter()
            .all(|n| n["params"]["progressToken"] == "steps-1"
                && n["params"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("[api]")),
        "{steps:?}"
    );
    // Nothing on the token once the task has said it ended.
    let ended = notes
        .iter()
        .position(|n| n["method"] == "notifications/tasks/status")
        .expect("a status notification");
    assert!(
        notes[ended..]
            .iter()
            .all(|n| n["method"] != "notifications/progress"),
        "{notes:?}"
    );
}

#[test]
fn a_task_answered_from_the_cache_says_so_as_the_plain_call_does() {
    let sandbox = sandbox();
    let fake = FakeClaude::new(&[]);
    let (mut server, _) = session(&sandbox, &fake, "2025-11-25");
    let ask = json!({"agent": "api", "task": "How many rows?"});
    let (plain, _) = server.call(1, "dispatch", ask.clone());
    assert!(plain.get("cached").is_none(), "{plain}");
    let task_id = new_task(&mut server, "dispatch", ask);
    let result = server.request(2, "tasks/result", json!({"taskId": task_id}));
    let (answer, _) = tool_payload(&result);
    assert_eq!(answer["cached"], true, "{answer}");
    assert_eq!(answer["result"], plain["result"]);
    assert_eq!(fake.invocations().len(), 1, "the cache answered the task");
}
