//! The live view: `ps` lists the dispatches running in servers and `test`
//! runs on this machine, from what those processes publish, and forgets
//! them when they end; `job ID --follow` prints a running job's progress
//! as it arrives and ends with the job in full.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
#[path = "support/mcp_client.rs"]
mod mcp_client;
mod support;

use std::process::Stdio;
use std::time::Duration;

use fake::FakeClaude;
use mcp_client::Server;
use serde_json::{Value, json};
use support::{Run, Sandbox, wait_until};

const HANG: Duration = Duration::from_secs(20);

fn ps_json(sandbox: &Sandbox, fake: &FakeClaude) -> Vec<Value> {
    let out = sandbox
        .command_with_registry(fake.dir.path())
        .args(["ps", "--json"])
        .output()
        .unwrap();
    let Value::Array(list) = Run(out).json() else {
        panic!("ps --json is not an array");
    };
    list
}

#[test]
fn ps_shows_what_servers_and_test_runs_are_dispatching_until_they_end() {
    let sandbox = Sandbox::with_api_agent();
    // Slow steps: the stream dispatch is still running while ps looks.
    let fake = FakeClaude::new(&[
        ("FAKE_CLAUDE_STREAM_STEPS", "600"),
        ("FAKE_CLAUDE_STREAM_DELAY", "0.2"),
    ]);
    assert_eq!(ps_json(&sandbox, &fake), Vec::<Value>::new());
    let mut server = Server::initialized(sandbox.command_with_registry(fake.dir.path()));
    server.send(
        1,
        "tools/call",
        json!({"name": "dispatch_stream", "arguments": {"agent": "api", "task": "long"}, "_meta": {"progressToken": "p"}}),
    );
    let mut cli = sandbox
        .command_with_registry(fake.dir.path())
        .args(["test", "api", "[fake:hang] hold on"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let mut running = Vec::new();
    wait_until("both dispatches to show in ps", HANG, || {
        running = ps_json(&sandbox, &fake);
        running.len() == 2 && running.iter().any(|r| r["last_step"].is_string())
    });
    let by_what = |what: &str| {
        running
            .iter()
            .find(|r| r["what"] == what)
            .unwrap_or_else(|| panic!("no {what} in {running:?}"))
            .clone()
    };
    let stream = by_what("dispatch_stream");
    assert_eq!(stream["pid"], server.child.id());
    assert_eq!(stream["agent"], "api");
    assert_eq!(stream["backend"], "claude");
    // One of the stand-in's steps: its text, or the tool it uses.
    let step = stream["last_step"].as_str().unwrap();
    assert!(
        step.starts_with("Step") || step.starts_with("Using tool: "),
        "{stream}"
    );
    let test = by_what("test");
    assert_eq!(test["pid"], cli.id());
    assert!(test["elapsed_seconds"].as_f64().unwrap() >= 0.0);

    let human = Run(sandbox
        .command_with_registry(fake.dir.path())
        .arg("ps")
        .output()
        .unwrap())
    .ok();
    let lines: Vec<&str> = human.lines().collect();
    assert!(lines[0].starts_with("PID  "), "{human}");
    assert!(lines[0].ends_with("LAST STEP"), "{human}");
    assert_eq!(lines.len(), 3, "{human}");

    // SAFETY: plain kill(2) on our own child.
    unsafe {
        libc::kill(cli.id() as i32, libc::SIGINT);
    }
    cli.wait().unwrap();
    assert!(server.close(HANG).is_some());
    wait_until("ps to forget both", HANG, || {
        ps_json(&sandbox, &fake).is_empty()
    });
    let empty = Run(sandbox
        .command_with_registry(fake.dir.path())
        .arg("ps")
        .output()
        .unwrap())
    .ok();
    assert_eq!(empty.trim(), "No dispatches running.");
}

#[test]
fn a_process_killed_outright_is_not_listed() {
    let sandbox = Sandbox::with_api_agent();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "hang")]);
    let mut cli = sandbox
        .command_with_registry(fake.dir.path())
        .args(["test", "api"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the run to show", HANG, || {
        ps_json(&sandbox, &fake).len() == 1
    });
    cli.kill().unwrap();
    cli.wait().unwrap();
    assert_eq!(ps_json(&sandbox, &fake), Vec::<Value>::new());
}

#[test]
fn job_follow_prints_progress_as_it_arrives_and_ends_with_the_job() {
    let sandbox = Sandbox::with_api_agent();
    let fake = FakeClaude::new(&[
        ("FAKE_CLAUDE_STREAM_STEPS", "3"),
        ("FAKE_CLAUDE_STREAM_DELAY", "0.4"),
    ]);
    let mut server = Server::initialized(sandbox.command_with_registry(fake.dir.path()));
    let id = server.start_job(1, "api", "three steps");
    let out = sandbox
        .command_with_registry(fake.dir.path())
        .args(["job", &id, "--follow"])
        .output()
        .unwrap();
    let run = Run(out);
    let stdout = run.ok();
    assert!(stdout.contains("[done]"), "{stdout}");
    assert!(stdout.contains("fake answer"), "{stdout}");
    let stderr = run.stderr();
    let steps: Vec<&str> = stderr.lines().filter(|l| l.starts_with("  -> ")).collect();
    assert!(
        steps.iter().any(|s| s.contains("Step 3")),
        "progress not shown: {stderr}"
    );
    assert!(server.close(HANG).is_some());
}

#[test]
fn doctor_leaves_the_live_files_alone_and_a_finished_test_leaves_none() {
    let sandbox = Sandbox::with_api_agent();
    let fake = FakeClaude::new(&[]);
    let mut hanging = sandbox
        .command_with_registry(fake.dir.path())
        .args(["test", "api", "[fake:hang] hold on"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the run to show", HANG, || {
        ps_json(&sandbox, &fake).len() == 1
    });
    // doctor prunes dead registry entries; a live file is none of those.
    let _ = sandbox
        .command_with_registry(fake.dir.path())
        .arg("doctor")
        .output()
        .unwrap();
    assert_eq!(ps_json(&sandbox, &fake).len(), 1, "doctor removed it");
    hanging.kill().unwrap();
    hanging.wait().unwrap();

    let quick = sandbox
        .command_with_registry(fake.dir.path())
        .args(["test", "api"])
        .output()
        .unwrap();
    assert!(quick.status.success());
    let left: Vec<String> = std::fs::read_dir(sandbox.servers_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".live.json") && !name.starts_with(&hanging.id().to_string()))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "a finished test left its file");
}

#[test]
fn following_a_job_whose_server_is_gone_stops_and_says_so() {
    let sandbox = Sandbox::with_api_agent();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "hang")]);
    let mut server = Server::initialized(sandbox.command_with_registry(fake.dir.path()));
    let id = server.start_job(1, "api", "forever");
    wait_until("the job to run", HANG, || !fake.invocations().is_empty());
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let run = Run(sandbox
        .command_with_registry(fake.dir.path())
        .args(["job", &id, "--follow"])
        .output()
        .unwrap());
    let err = run.fails(1);
    assert!(err.contains("no server is running"), "{err}");
}
