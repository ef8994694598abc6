//! The runner against real misbehaving processes: pipe floods, grandchildren
//! holding pipes, descendants that leave the process group, hangs, and
//! cancellation. Nothing here is mocked; elapsed-time bounds only check
//! that a call ends (a hang would be a failure), never speed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
mod support;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use agent_dispatch::config::{Agent, Settings};
use agent_dispatch::runner::{
    self, Ask, CancelToken, Dispatch, DispatchResult, ErrorType, OutputMode, Progress, backends,
};
use fake::{FakeClaude, alive, group_gone, kill_pid_file, live_in_group};
use support::wait_until;

fn dispatch_with(
    fake: &FakeClaude,
    mode: OutputMode,
    timeout: u64,
    cancel: &CancelToken,
    progress: Option<Progress>,
) -> (DispatchResult, Duration) {
    let project = fake.file("project");
    std::fs::create_dir_all(&project).unwrap();
    let agent = Agent::new(project);
    let settings = Settings::default();
    let d = Dispatch {
        agent_name: "api",
        agent: &agent,
        backend: backends::of(&agent, &settings),
        settings: &settings,
        ask: Ask {
            task: "work",
            ..Ask::default()
        },
        resume: None,
        timeout_secs: Some(timeout),
        mode,
    };
    let started = Instant::now();
    let result = runner::dispatch_using(Some(&fake.path), &d, cancel, progress);
    (result, started.elapsed())
}

fn dispatch(fake: &FakeClaude, mode: OutputMode, timeout: u64) -> (DispatchResult, Duration) {
    dispatch_with(fake, mode, timeout, &CancelToken::new(), None)
}

#[test]
fn a_stderr_flood_over_a_mebibyte_does_not_deadlock() {
    for mode in [OutputMode::Json, OutputMode::Stream] {
        let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "stderr-flood")]);
        let (r, _) = dispatch(&fake, mode, 60);
        assert!(r.success, "{mode:?}: {:?}", r.error);
        assert_eq!(r.result, "данные ".repeat(20_000), "{mode:?}");
        assert_eq!(r.error_type, None);
    }
}

#[test]
fn a_grandchild_holding_stdout_does_not_hold_back_a_finished_answer() {
    for mode in [OutputMode::Json, OutputMode::Stream] {
        let fake = FakeClaude::with_files(
            &[
                ("FAKE_CLAUDE_MODE", "grandchild"),
                ("FAKE_CLAUDE_GRANDCHILD_SLEEP", "90"),
            ],
            &[("FAKE_CLAUDE_PIDFILE", "grandchild.pid")],
        );
        // The timeout and the holder's sleep are far away: only the
        // leader's exit may end the run.
        let (r, elapsed) = dispatch(&fake, mode, 120);
        assert!(
            elapsed < Duration::from_secs(15),
            "{mode:?}: took {elapsed:?}; the reply waited for the holder"
        );
        assert!(r.success, "{mode:?}: {r:?}");
        assert_eq!(r.result, "fake answer");
        assert_eq!(r.hint, None, "{mode:?}: no timeout, no cleanup note");
        let pgid = fake.invocations()[0].pgid;
        assert!(
            group_gone(pgid),
            "{mode:?}: group {pgid} still has {:?}",
            live_in_group(pgid)
        );
    }
}

#[test]
fn a_group_member_without_our_pipes_is_killed_when_the_run_succeeds() {
    for mode in [OutputMode::Json, OutputMode::Stream] {
        let fake = FakeClaude::with_files(
            &[
                ("FAKE_CLAUDE_MODE", "grandchild-quiet"),
                ("FAKE_CLAUDE_GRANDCHILD_SLEEP", "60"),
            ],
            &[("FAKE_CLAUDE_PIDFILE", "grandchild.pid")],
        );
        let (r, _) = dispatch(&fake, mode, 60);
        assert!(r.success, "{mode:?}: {r:?}");
        // The quiet grandchild shares the group, so an empty group proves
        // it is gone, not merely silent.
        let pgid = fake.invocations()[0].pgid;
        assert!(
            group_gone(pgid),
            "{mode:?}: group {pgid} still has {:?}",
            live_in_group(pgid)
        );
    }
}

#[test]
fn a_timeout_with_a_silent_parent_kills_the_whole_group() {
    let fake = FakeClaude::with_files(
        &[
            ("FAKE_CLAUDE_MODE", "grandchild"),
            ("FAKE_CLAUDE_PARENT_SLEEP", "4"),
            ("FAKE_CLAUDE_GRANDCHILD_SLEEP", "2"),
        ],
        &[("FAKE_CLAUDE_MARKER", "marker")],
    );
    let marker = fake.file("marker");
    let (r, elapsed) = dispatch(&fake, OutputMode::Json, 1);
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(r.error_type, Some(ErrorType::Timeout), "{r:?}");
    assert!(r.session_id.is_some(), "a timed-out run stays resumable");
    assert!(group_gone(fake.invocations()[0].pgid));
    thread::sleep(Duration::from_millis(2500));
    assert!(!marker.exists(), "the grandchild survived the group kill");
}

#[test]
fn a_grandchild_holding_only_stderr_does_not_delay_completion() {
    for mode in [OutputMode::Json, OutputMode::Stream] {
        let fake = FakeClaude::new(&[
            ("FAKE_CLAUDE_MODE", "grandchild-stderr"),
            ("FAKE_CLAUDE_GRANDCHILD_SLEEP", "20"),
        ]);
        let (r, elapsed) = dispatch(&fake, mode, 10);
        assert!(r.success, "{mode:?}: {r:?}");
        assert_eq!(r.hint, None, "{mode:?}: not a timeout kill");
        assert!(
            elapsed < Duration::from_secs(3),
            "{mode:?}: took {elapsed:?}"
        );
        assert!(
            group_gone(fake.invocations()[0].pgid),
            "{mode:?}: the stderr holder is killed after a short wait"
        );
    }
}

#[test]
fn a_stderr_only_failure_survives_an_inherited_stderr() {
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "usage-limit")]);
    // Before claude runs, leave behind a process that holds only stderr
    // (stdin and stdout on /dev/null), as a stdio MCP server would.
    let wrapper = std::fs::read_to_string(&fake.path).unwrap();
    std::fs::write(
        &fake.path,
        wrapper.replacen("exec ", "sleep 20 </dev/null >/dev/null &\nexec ", 1),
    )
    .unwrap();
    let (r, elapsed) = dispatch(&fake, OutputMode::Json, 5);
    assert_eq!(r.error_type, Some(ErrorType::UsageLimit), "{r:?}");
    assert!(
        r.error.as_deref().unwrap().contains("session limit"),
        "the captured stderr is the error: {r:?}"
    );
    assert!(
        elapsed < Duration::from_secs(7),
        "took {elapsed:?}: the stderr holder stretched the call"
    );
    assert!(
        group_gone(fake.invocations()[0].pgid),
        "the stderr holder outlived the call"
    );
}

#[test]
fn a_detached_holder_cannot_stretch_cleanup_and_the_answer_is_kept() {
    for mode in [OutputMode::Json, OutputMode::Stream] {
        let fake = FakeClaude::with_files(
            &[("FAKE_CLAUDE_MODE", "detached")],
            &[("FAKE_CLAUDE_PIDFILE", "detached.pid")],
        );
        let pidfile = fake.file("detached.pid");
        let (r, elapsed) = dispatch(&fake, mode, 1);
        kill_pid_file(&pidfile);
        assert!(
            elapsed < Duration::from_secs(4),
            "{mode:?}: took {elapsed:?}"
        );
        assert!(r.success, "{mode:?}: {r:?}");
        assert_eq!(r.result, "fake answer");
    }
}

#[test]
fn a_detached_silent_holder_still_ends_in_a_resumable_timeout() {
    let fake = FakeClaude::with_files(
        &[("FAKE_CLAUDE_MODE", "detached-silent")],
        &[("FAKE_CLAUDE_PIDFILE", "detached.pid")],
    );
    let pidfile = fake.file("detached.pid");
    for mode in [OutputMode::Json, OutputMode::Stream] {
        let (r, elapsed) = dispatch(&fake, mode, 1);
        kill_pid_file(&pidfile);
        assert!(
            elapsed < Duration::from_secs(4),
            "{mode:?}: took {elapsed:?}"
        );
        assert_eq!(r.error_type, Some(ErrorType::Timeout), "{mode:?}: {r:?}");
        assert!(r.session_id.is_some());
    }
}

#[test]
fn a_complete_answer_without_newline_beats_the_timeout() {
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "no-newline")]);
    let (r, _) = dispatch(&fake, OutputMode::Json, 1);
    assert!(r.success, "{r:?}");
    assert_eq!(r.result, "fake answer");
    assert!(r.hint.as_deref().unwrap().contains("cleanup"), "{r:?}");
}

#[test]
fn half_an_answer_is_still_a_timeout() {
    for mode in [OutputMode::Json, OutputMode::Stream] {
        let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "truncated")]);
        let (r, _) = dispatch(&fake, mode, 1);
        assert_eq!(r.error_type, Some(ErrorType::Timeout), "{mode:?}: {r:?}");
    }
}

#[test]
fn a_hang_times_out_and_leaves_no_process_of_its_group() {
    for mode in [OutputMode::Json, OutputMode::Stream] {
        let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "hang")]);
        let (r, elapsed) = dispatch(&fake, mode, 1);
        assert!(
            elapsed < Duration::from_secs(3),
            "{mode:?}: took {elapsed:?}"
        );
        assert_eq!(r.error_type, Some(ErrorType::Timeout));
        let error = r.error.as_deref().unwrap();
        assert!(
            error.contains("timed out after 1s") && error.contains("dispatch_session("),
            "{error}"
        );
        let pgid = fake.invocations()[0].pgid;
        assert!(
            pgid > 0 && group_gone(pgid),
            "{mode:?}: {:?} alive",
            live_in_group(pgid)
        );
    }
}

#[test]
fn cancelling_kills_the_run_promptly_and_says_so() {
    for mode in [OutputMode::Json, OutputMode::Stream] {
        let fake = FakeClaude::with_files(
            &[("FAKE_CLAUDE_MODE", "hang")],
            &[("FAKE_CLAUDE_STARTED", "started")],
        );
        let started = fake.file("started");
        let cancel = CancelToken::new();
        let canceller = {
            let cancel = cancel.clone();
            let started = started.clone();
            thread::spawn(move || {
                wait_until("the stand-in to start", Duration::from_secs(10), || {
                    started.exists()
                });
                cancel.cancel();
            })
        };
        let (r, elapsed) = dispatch_with(&fake, mode, 120, &cancel, None);
        canceller.join().unwrap();
        assert!(
            elapsed < Duration::from_secs(10),
            "{mode:?}: took {elapsed:?}"
        );
        assert!(!r.success);
        assert!(
            r.error.as_deref().unwrap().contains("cancelled"),
            "{mode:?}: {r:?}"
        );
        assert!(group_gone(fake.invocations()[0].pgid));
    }
}

#[test]
fn stream_progress_arrives_while_the_agent_works() {
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "sleep"), ("FAKE_CLAUDE_SLEEP", "1")]);
    let seen: Arc<Mutex<Vec<(Duration, String)>>> = Arc::default();
    let started = Instant::now();
    let sink = Arc::clone(&seen);
    let progress: Progress =
        Arc::new(move |m: &str| sink.lock().unwrap().push((started.elapsed(), m.to_owned())));
    let (r, elapsed) = dispatch_with(
        &fake,
        OutputMode::Stream,
        30,
        &CancelToken::new(),
        Some(progress),
    );
    assert!(r.success, "{r:?}");
    let seen = seen.lock().unwrap();
    let messages: Vec<&str> = seen.iter().map(|(_, m)| m.as_str()).collect();
    assert!(messages.contains(&"Using tool: Read"), "{messages:?}");
    let first = seen.first().unwrap().0;
    assert!(first < elapsed, "progress came before the end");
}

#[test]
fn detached_grandchildren_are_left_to_their_own_session() {
    // The group kill cannot reach a process that called setsid; the test
    // documents that it survives and is ours to clean up.
    let fake = FakeClaude::with_files(
        &[("FAKE_CLAUDE_MODE", "detached")],
        &[("FAKE_CLAUDE_PIDFILE", "detached.pid")],
    );
    let pidfile = fake.file("detached.pid");
    dispatch(&fake, OutputMode::Json, 1);
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid));
    kill_pid_file(&pidfile);
}
