//! Every way `serve` stops, against the real binary: termination signals, a
//! client that closed its read end, a client that stopped reading, and what
//! must hold in each case — process groups killed with all their members,
//! running jobs recorded failed, the registry entry gone. Also what must
//! not stop it: a panicking tool, a reused request id, cancelled batch
//! calls, and a flood of waits. Time bounds only tell a hang from a slow
//! machine; they never measure speed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
#[path = "support/mcp_client.rs"]
mod mcp_client;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command};
use std::time::Duration;

use fake::{FakeClaude, group_gone, live_in_group};
use mcp_client::Server;
use serde_json::{Value, json};
use support::{Sandbox, job_record, wait_until};

/// Anything still unfinished after this is hung.
const HANG: Duration = Duration::from_secs(20);

/// A stand-in whose runs keep a second member in their process group: the
/// leader sleeps, and so does a grandchild sharing its group.
fn fake_with_group_members() -> FakeClaude {
    FakeClaude::new(&[
        ("FAKE_CLAUDE_MODE", "grandchild"),
        ("FAKE_CLAUDE_PARENT_SLEEP", "120"),
        ("FAKE_CLAUDE_GRANDCHILD_SLEEP", "120"),
    ])
}

/// Waits until the stand-in ran `runs` times and the group of each run
/// after the first `earlier` has a member besides its leader; returns
/// those groups.
fn new_groups_with_members(fake: &FakeClaude, earlier: usize, runs: usize) -> Vec<i32> {
    wait_until("the stand-ins and their grandchildren", HANG, || {
        let seen = fake.invocations();
        seen.len() == runs
            && seen[earlier..]
                .iter()
                .all(|run| live_in_group(run.pgid).len() >= 2)
    });
    fake.invocations()[earlier..]
        .iter()
        .map(|run| run.pgid)
        .collect()
}

fn groups_with_members(fake: &FakeClaude, runs: usize) -> Vec<i32> {
    new_groups_with_members(fake, 0, runs)
}

fn assert_groups_gone(groups: &[i32], why: &str) {
    for &pgid in groups {
        assert!(
            group_gone(pgid),
            "{why}: group {pgid} still has {:?}",
            live_in_group(pgid)
        );
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let mut status = None;
    wait_until("serve to exit", HANG, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status.unwrap()
}

fn send_signal(child: &Child, signal: i32) {
    // SAFETY: plain kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
}

/// Starts a hanging async job and a hanging synchronous dispatch (id 50);
/// returns the job id once both run.
fn start_job_and_dispatch(server: &mut Server) -> String {
    let job = server.start_job(1, "api", "background");
    server.send(
        50,
        "tools/call",
        json!({"name": "dispatch", "arguments": {"agent": "api", "task": "foreground"}}),
    );
    job
}

#[test]
fn each_termination_signal_ends_serve_as_stdin_eof_does() {
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        let sandbox = Sandbox::with_api_agent();
        let fake = fake_with_group_members();
        let mut server = Server::initialized(sandbox.command_with_registry(fake.dir.path()));
        let job = start_job_and_dispatch(&mut server);
        let groups = groups_with_members(&fake, 2);
        let entry = sandbox
            .servers_dir()
            .join(format!("{}.json", server.child.id()));
        assert!(entry.exists(), "registered while serving");

        send_signal(&server.child, signal);
        let status = wait_exit(&mut server.child);
        assert_eq!(status.code(), Some(0), "signal {signal}: {status:?}");
        assert_groups_gone(&groups, &format!("signal {signal}"));
        let record = job_record(&sandbox.jobs_dir(), &job);
        assert_eq!(record["status"], "failed", "signal {signal}: {record}");
        assert!(!entry.exists(), "signal {signal}: registry entry left");
    }
}

/// A `serve` driven by hand: stdin and stdout are ours to close.
struct RawServe {
    child: Child,
    input: Option<std::process::ChildStdin>,
    output: Option<BufReader<std::process::ChildStdout>>,
}

impl RawServe {
    fn start(command: Command) -> RawServe {
        let mut child = mcp_client::spawn_serve(command);
        let input = child.stdin.take();
        let output = Some(BufReader::new(child.stdout.take().unwrap()));
        let mut serve = RawServe {
            child,
            input,
            output,
        };
        serve.send(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}));
        serve.reply();
        serve
    }

    fn send(&mut self, message: &Value) {
        let input = self.input.as_mut().expect("stdin open");
        writeln!(input, "{message}").unwrap();
        input.flush().unwrap();
    }

    fn reply(&mut self) -> Value {
        let mut line = String::new();
        self.output.as_mut().unwrap().read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    }
}

impl Drop for RawServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool_call(id: u64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}})
}

#[test]
fn a_client_that_closed_its_read_end_gets_an_orderly_stop_not_sigpipe() {
    let sandbox = Sandbox::with_api_agent();
    let fake = fake_with_group_members();
    let mut serve = RawServe::start(sandbox.command_with_registry(fake.dir.path()));
    serve.send(&tool_call(
        1,
        "dispatch_async",
        json!({"agent": "api", "task": "background"}),
    ));
    let started = serve.reply();
    let text = started["result"]["content"][0]["text"].as_str().unwrap();
    let job: Value = serde_json::from_str(text).unwrap();
    let job = job["job_id"].as_str().unwrap().to_owned();
    let groups = groups_with_members(&fake, 1);

    serve.output = None;
    serve.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}));
    let status = wait_exit(&mut serve.child);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_groups_gone(&groups, "client gone");
    assert_eq!(job_record(&sandbox.jobs_dir(), &job)["status"], "failed");
}

#[test]
fn a_client_that_stops_reading_cannot_keep_serve_from_seeing_eof() {
    let sandbox = Sandbox::with_api_agent();
    let fake = fake_with_group_members();
    let mut serve = RawServe::start(sandbox.command_with_registry(fake.dir.path()));
    serve.send(&tool_call(
        1,
        "dispatch",
        json!({"agent": "api", "task": "foreground"}),
    ));
    let groups = groups_with_members(&fake, 1);
    // About 1 MB of replies, far more than the pipe holds, none read.
    for id in 2..102 {
        serve.send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"}));
    }
    serve.input = None;
    let status = wait_exit(&mut serve.child);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_groups_gone(&groups, "stdin closed while stdout was full");
}

#[test]
fn a_panicking_tool_call_is_answered_and_the_server_goes_on() {
    let sandbox = Sandbox::with_api_agent();
    let fake = FakeClaude::new(&[]);
    let mut command = sandbox.command_with_registry(fake.dir.path());
    command.env("AGENT_DISPATCH_TEST_PANIC_TOOL", "list_agents");
    let mut server = Server::initialized(command);
    for _ in 0..3 {
        // The same id each time: the first call's entry must be gone.
        let reply = server.request(
            7,
            "tools/call",
            json!({"name": "list_agents", "arguments": {}}),
        );
        assert_eq!(reply["error"]["code"], -32603, "{reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains("list_agents"), "{message}");
    }
    let (payload, is_error) = server.call(8, "dispatch", json!({"agent": "api", "task": "hi"}));
    assert!(!is_error, "{payload}");
    assert_eq!(payload["result"], "fake answer");
    assert!(server.close(HANG).is_some_and(|s| s.success()));
}

#[test]
fn a_request_id_in_flight_cannot_be_reused_and_the_first_stays_cancellable() {
    let sandbox = Sandbox::with_api_agent();
    let fake = fake_with_group_members();
    let mut server = Server::initialized(sandbox.command_with_registry(fake.dir.path()));
    server.send(
        9,
        "tools/call",
        json!({"name": "dispatch", "arguments": {"agent": "api", "task": "long"}}),
    );
    let groups = groups_with_members(&fake, 1);
    let reply = server.request(
        9,
        "tools/call",
        json!({"name": "list_agents", "arguments": {}}),
    );
    assert_eq!(reply["error"]["code"], -32600, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already in use"),
        "{reply}"
    );
    server.send_raw(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9}})
            .to_string(),
    );
    assert_groups_gone(&groups, "the first call with id 9 was cancelled");
}

#[test]
fn calls_inside_a_batch_are_cancellable_and_killed_at_eof() {
    let sandbox = Sandbox::with_api_agent();
    let fake = fake_with_group_members();
    let mut server = Server::start(sandbox.command_with_registry(fake.dir.path()));
    server.request(
        1,
        "initialize",
        json!({"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
    );
    let batch = |call: u64, ping: u64| {
        json!([
            {"jsonrpc": "2.0", "id": call, "method": "tools/call", "params": {"name": "dispatch", "arguments": {"agent": "api", "task": format!("batched {call}")}}},
            {"jsonrpc": "2.0", "id": ping, "method": "ping"},
        ])
        .to_string()
    };
    server.send_raw(&batch(2, 3));
    let first = groups_with_members(&fake, 1);
    server.send_raw(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2}})
            .to_string(),
    );
    assert_groups_gone(&first, "the batched call was cancelled");
    let reply = server.next(HANG).expect("the batch's reply");
    assert_eq!(
        reply,
        json!([{"jsonrpc": "2.0", "id": 3, "result": {}}]),
        "the cancelled call gets no response"
    );

    server.send_raw(&batch(4, 5));
    let groups = new_groups_with_members(&fake, 1, 2);
    assert!(server.close(HANG).is_some_and(|s| s.success()));
    assert_groups_gone(&groups, "stdin closed with a batched call running");
}

#[test]
fn a_thousand_waits_do_not_starve_other_tools() {
    let sandbox = Sandbox::with_api_agent();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "hang")]);
    let mut server = Server::initialized(sandbox.command_with_registry(fake.dir.path()));
    let job = server.start_job(1, "api", "forever");
    wait_until("the job to run", HANG, || {
        job_record(&sandbox.jobs_dir(), &job)["status"] == "running"
    });
    for id in 1000..2000 {
        server.send(
            id,
            "tools/call",
            json!({"name": "dispatch_wait", "arguments": {"job_id": job, "timeout_seconds": 600}}),
        );
    }
    // A wait for every one of them would be 10 minutes.
    let (listed, is_error) = server.call(2, "list_agents", json!({}));
    assert!(!is_error, "{listed}");
    let (cancelled, is_error) = server.call(3, "dispatch_cancel", json!({"job_id": job}));
    assert!(!is_error, "{cancelled}");
    assert_eq!(cancelled["outcome"], "cancelled_running");

    let (mut busy, mut woken) = (0, 0);
    for id in 1000..2000 {
        let (reply, _) = server.response(&json!(id), HANG);
        if let Some(error) = reply.get("error") {
            assert_eq!(error["code"], -32000, "{reply}");
            assert!(
                error["message"].as_str().unwrap().contains("256"),
                "the refusal names the bound: {reply}"
            );
            busy += 1;
        } else {
            let (payload, _) = mcp_client::tool_payload(&reply);
            assert_eq!(payload["status"], "cancelled", "{payload}");
            woken += 1;
        }
    }
    assert_eq!((busy, woken), (744, 256));
}

#[test]
fn a_jobs_lock_held_elsewhere_does_not_delay_the_kill_or_the_exit() {
    let sandbox = Sandbox::with_api_agent();
    let fake = fake_with_group_members();
    let mut server = Server::initialized(sandbox.command_with_registry(fake.dir.path()));
    server.start_job(1, "api", "background");
    let groups = groups_with_members(&fake, 1);
    // Another process holds the job store's lock from now on: recording the
    // job as failed would wait 10 s for it.
    let _held = agent_dispatch::state::flock::lock_exclusive(
        &sandbox
            .jobs_dir()
            .join(agent_dispatch::jobs::store::LOCK_FILE_NAME),
        Duration::from_secs(5),
    )
    .expect("take the jobs lock");
    let signalled = std::time::Instant::now();
    send_signal(&server.child, libc::SIGTERM);
    assert_groups_gone(&groups, "the lock was held elsewhere");
    let status = wait_exit(&mut server.child);
    assert!(status.success(), "{status:?}");
    let waited = signalled.elapsed();
    assert!(
        waited < Duration::from_secs(8),
        "the exit waited {waited:?} on a lock another process holds"
    );
}
