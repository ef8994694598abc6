//! `agent-dispatch test` from the terminal: the stand-in `claude` found on
//! PATH, progress on stderr, a verdict line, and the failure paths.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
mod support;

use std::process::Output;
use std::time::Duration;

use fake::FakeClaude;
use support::{Sandbox, wait_until};

/// `agent-dispatch ARGS` with `fake` as the `claude` on PATH.
fn run_with(sandbox: &Sandbox, fake: &FakeClaude, args: &[&str]) -> Output {
    sandbox
        .command_with_claude(fake.dir.path())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn test_prints_the_answer_and_a_verdict() {
    let sandbox = Sandbox::with_api_agent();
    let fake = FakeClaude::new(&[
        ("FAKE_CLAUDE_MODE", "status"),
        ("FAKE_CLAUDE_STATUS", "done"),
    ]);
    let out = run_with(&sandbox, &fake, &["test", "api", "Count rows"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = sandbox.project("api");
    assert!(stdout.starts_with(&format!("Dispatching to 'api' ({})...\nTask: Count rows\n---\nfake answer\n\n--- Cost: $0.0123 | Turns: 1 | Duration: ", dir.display())), "{stdout}");
    assert!(stdout.trim_end().ends_with("| Outcome: done"), "{stdout}");
    assert_eq!(
        fake.invocations()[0].argv.last().map(String::as_str),
        Some("Count rows")
    );
}

#[test]
fn test_stream_shows_progress_on_stderr() {
    let sandbox = Sandbox::with_api_agent();
    let fake = FakeClaude::new(&[]);
    let out = run_with(&sandbox, &fake, &["test", "api", "--stream"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("  -> Using tool: Read\n"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("fake answer"));
    assert!(
        fake.invocations()[0]
            .argv
            .contains(&"stream-json".to_string())
    );
}

#[test]
fn test_failures_exit_1_with_error_and_hint() {
    let sandbox = Sandbox::with_api_agent();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "not-logged-in")]);
    let out = run_with(&sandbox, &fake, &["test", "api"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: Not logged in · Please run /login\nhint: "),
        "{stderr}"
    );
    assert!(stderr.contains("ANTHROPIC_API_KEY"), "{stderr}");

    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "hang")]);
    let out = run_with(&sandbox, &fake, &["test", "api", "--timeout", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: Agent 'api' timed out after 1s."),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: retry once with more time: agent-dispatch test api --timeout 600"),
        "{stderr}"
    );
}

#[test]
fn test_without_claude_or_past_the_depth_limit_spawns_nothing() {
    let sandbox = Sandbox::with_api_agent();
    let out = sandbox
        .command()
        .env("PATH", "/nonexistent")
        .args(["test", "api"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: Claude CLI not found in PATH"));

    let fake = FakeClaude::new(&[]);
    let out = sandbox
        .command_with_claude(fake.dir.path())
        .env("AGENT_DISPATCH_DEPTH", "3")
        .args(["test", "api"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Dispatch depth 3 >= max 3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(fake.invocations().is_empty());
}

/// Starts `agent-dispatch test api` against a stand-in that hangs, and
/// returns once the stand-in runs.
fn test_with_a_hanging_agent(sandbox: &Sandbox) -> (std::process::Child, FakeClaude) {
    let started = sandbox.config().with_file_name("stand-in-started");
    let fake = FakeClaude::new(&[
        ("FAKE_CLAUDE_MODE", "hang"),
        ("FAKE_CLAUDE_STARTED", started.to_str().unwrap()),
    ]);
    let child = sandbox
        .command_with_claude(fake.dir.path())
        .args(["test", "api"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the stand-in to start", Duration::from_secs(10), || {
        started.exists()
    });
    (child, fake)
}

#[test]
fn interrupting_test_kills_the_agent_process_group() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let sandbox = Sandbox::with_api_agent();
        let (child, fake) = test_with_a_hanging_agent(&sandbox);
        // SAFETY: plain kill(2) on our own child.
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130), "signal {signal}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("error: interrupted"));
        let pgid = fake.invocations()[0].pgid;
        assert!(
            fake::group_gone(pgid),
            "agent group {pgid} survived signal {signal}"
        );
    }
}

#[test]
fn a_sigkilled_test_takes_its_agent_down_with_it() {
    let sandbox = Sandbox::with_api_agent();
    let (mut child, fake) = test_with_a_hanging_agent(&sandbox);
    // SAFETY: plain kill(2) on our own child; SIGKILL leaves it no cleanup.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    child.wait().unwrap();
    let pgid = fake.invocations()[0].pgid;
    // The kernel's parent-death signal, not our code, ends the agent here;
    // the wait only tells a hang from a slow machine.
    wait_until(
        &format!("agent group {pgid} to die with its SIGKILLed supervisor"),
        Duration::from_secs(10),
        || fake::live_in_group(pgid).is_empty(),
    );
}

#[test]
fn test_shows_control_characters_from_the_agent_escaped() {
    let sandbox = Sandbox::with_api_agent();
    let no_raw = |text: &str| !text.chars().any(|c| c.is_control() && c != '\n');
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_RESULT", "Done.\n\x1b]0;pwned\x07\x1b[2J")]);
    let out = run_with(&sandbox, &fake, &["test", "api", "Count\x1b[8m rows"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(no_raw(&stdout), "{stdout:?}");
    assert!(stdout.contains("Task: Count\\x1b[8m rows\n"), "{stdout}");
    assert!(
        stdout.contains("Done.\n\\x1b]0;pwned\\x07\\x1b[2J\n"),
        "{stdout}"
    );

    let fake = FakeClaude::new(&[
        ("FAKE_CLAUDE_MODE", "exit-error"),
        ("FAKE_CLAUDE_STDERR", "boom \x1b[2J\x07"),
    ]);
    let out = run_with(&sandbox, &fake, &["test", "api", "--stream"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(no_raw(&stderr), "{stderr:?}");
    assert!(stderr.contains("boom \\x1b[2J\\x07"), "{stderr}");
}

#[test]
fn test_speaks_cli_words_not_mcp_parameter_names() {
    let sandbox = Sandbox::with_api_agent();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "hang")]);
    let out = run_with(&sandbox, &fake, &["test", "api", "--timeout", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("retry with more time (agent-dispatch test api --timeout SECONDS)"),
        "{stderr}"
    );
    for mcp in ["timeout_seconds", "dispatch_async", "dispatch_session"] {
        assert!(!stderr.contains(mcp), "{mcp} in:\n{stderr}");
    }
}

#[test]
fn test_of_a_plain_text_answer_succeeds_and_says_it_was_not_json() {
    let sandbox = Sandbox::with_api_agent();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "plain-text")]);
    let out = run_with(&sandbox, &fake, &["test", "api"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("This is plain text, not JSON.\n\nNote: "),
        "{stdout}"
    );
    assert!(stdout.contains("session and cost are unknown"), "{stdout}");
}
