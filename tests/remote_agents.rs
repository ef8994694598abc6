//! Remote agents over a real OpenSSH server on 127.0.0.1: the agent CLI
//! (a stand-in) runs through the system `ssh` in a "remote" directory on
//! this machine. Answers, progress, resume, the CLI's path on the host,
//! ssh's own failures classified apart from the CLI's, and nothing left
//! running there after a timeout or a cancel.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
#[path = "support/sshd.rs"]
mod sshd;
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_dispatch::config::{Agent, BackendName, Settings};
use agent_dispatch::runner::{
    self, Ask, CancelToken, Dispatch, DispatchResult, ErrorType, OutputMode, backends,
};
use fake::{FakeClaude, group_gone};
use sshd::Sshd;

/// An agent on `sshd` whose CLI is `fake`'s stand-in for `cli`.
fn remote_agent(sshd: &Sshd, fake: &FakeClaude, cli: BackendName) -> Agent {
    let project = fake.file("remote-project");
    std::fs::create_dir_all(&project).unwrap();
    let mut agent = Agent::new(project.canonicalize().unwrap());
    agent.backend = Some(cli);
    agent.host = Some(sshd.host());
    agent.ssh_options = sshd.options();
    agent.remote_cli = Some(fake.file(cli.as_str()).to_str().unwrap().to_owned());
    agent
}

fn ssh() -> std::path::PathBuf {
    runner::environment::find_on_path("ssh").expect("ssh on PATH")
}

fn run(
    agent: &Agent,
    task: &str,
    mode: OutputMode,
    resume: Option<&str>,
    timeout: u64,
    cancel: &CancelToken,
    progress: Option<runner::Progress>,
) -> DispatchResult {
    let settings = Settings::default();
    let d = Dispatch {
        agent_name: "far",
        agent,
        backend: backends::of(agent, &settings),
        settings: &settings,
        ask: Ask {
            task,
            ..Ask::default()
        },
        resume,
        timeout_secs: Some(timeout),
        mode,
    };
    runner::dispatch_using(Some(&ssh()), &d, cancel, progress)
}

fn simple(agent: &Agent, task: &str) -> DispatchResult {
    run(
        agent,
        task,
        OutputMode::Json,
        None,
        60,
        &CancelToken::new(),
        None,
    )
}

#[test]
fn a_remote_agent_answers_from_its_directory_with_stdin_closed_and_the_depth_set() {
    let sshd = Sshd::start();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_ECHO_PROMPT", "1")]);
    let agent = remote_agent(&sshd, &fake, BackendName::Claude);
    let r = simple(
        &agent,
        "--permission-mode=bypassPermissions it's \"quoted\" $HOME `x`",
    );
    assert!(r.success, "{r:?}");
    assert!(
        r.result
            .ends_with("--permission-mode=bypassPermissions it's \"quoted\" $HOME `x`"),
        "{r:?}"
    );
    let runs = fake.invocations();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].cwd, agent.directory.to_str().unwrap());
    assert_eq!(runs[0].stdin, "/dev/null");
    assert_eq!(runs[0].depth, "1");
    assert!(
        group_gone(runs[0].pgid),
        "the remote group outlived the run"
    );
}

#[test]
fn every_backend_runs_remotely_with_progress_and_resume() {
    let sshd = Sshd::start();
    for cli in [
        BackendName::Claude,
        BackendName::Codex,
        BackendName::Gemini,
        BackendName::Opencode,
    ] {
        let fake = match cli {
            BackendName::Claude => FakeClaude::new(&[]),
            other => FakeClaude::new(&[]).with_cli(other.as_str(), &[]),
        };
        let agent = remote_agent(&sshd, &fake, cli);
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&seen);
        let r = run(
            &agent,
            "task",
            OutputMode::Stream,
            None,
            60,
            &CancelToken::new(),
            Some(Arc::new(move |m: &str| {
                sink.lock().unwrap().push(m.to_owned())
            })),
        );
        assert!(r.success, "{cli}: {r:?}");
        assert_eq!(r.result, "fake answer", "{cli}");
        assert!(!seen.lock().unwrap().is_empty(), "{cli}: no progress");
        let id = r.session_id.clone().unwrap();
        let again = run(
            &agent,
            "more",
            OutputMode::Json,
            Some(&id),
            60,
            &CancelToken::new(),
            None,
        );
        assert!(again.success, "{cli}: {again:?}");
        assert_eq!(again.session_id.as_deref(), Some(id.as_str()), "{cli}");
        let runs = fake.invocations_of(cli.as_str());
        assert!(runs[1].argv.contains(&id), "{cli}: {:?}", runs[1].argv);
    }
}

#[test]
fn a_timeout_kills_the_remote_group_even_a_process_ignoring_sigterm() {
    let sshd = Sshd::start();
    let fake = FakeClaude::with_files(
        &[
            ("FAKE_CLAUDE_MODE", "grandchild"),
            ("FAKE_CLAUDE_PARENT_SLEEP", "60"),
        ],
        &[("FAKE_CLAUDE_PIDFILE", "grandchild.pid")],
    );
    let agent = remote_agent(&sshd, &fake, BackendName::Claude);
    let r = run(
        &agent,
        "work",
        OutputMode::Json,
        None,
        2,
        &CancelToken::new(),
        None,
    );
    assert_eq!(r.error_type, Some(ErrorType::Timeout), "{r:?}");
    let pgid = fake.invocations()[0].pgid;
    support::wait_until("the remote group to die", Duration::from_secs(15), || {
        group_gone(pgid)
    });
}

#[test]
fn a_cancel_kills_the_remote_group() {
    let sshd = Sshd::start();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "hang")]);
    let agent = remote_agent(&sshd, &fake, BackendName::Claude);
    let cancel = CancelToken::new();
    let canceller = cancel.clone();
    let watcher = std::thread::spawn({
        let fake_dir = fake.dir.path().to_path_buf();
        move || {
            let record = fake_dir.join("record/1.pid");
            support::wait_until("the remote CLI to start", Duration::from_secs(15), || {
                std::fs::read(&record).is_ok_and(|pid| !pid.is_empty())
            });
            canceller.cancel();
        }
    });
    let r = run(&agent, "work", OutputMode::Json, None, 60, &cancel, None);
    watcher.join().unwrap();
    assert_eq!(r.error_type, Some(ErrorType::CliError), "{r:?}");
    assert!(r.error.as_deref().unwrap().contains("cancel"), "{r:?}");
    let pgid = fake.invocations()[0].pgid;
    support::wait_until("the remote group to die", Duration::from_secs(15), || {
        group_gone(pgid)
    });
}

#[test]
fn ssh_failures_are_classified_apart_from_the_clis_own() {
    let sshd = Sshd::start();
    let fake = FakeClaude::new(&[]);
    let mut agent = remote_agent(&sshd, &fake, BackendName::Claude);

    let mut closed = agent.clone();
    closed.host = Some(format!(
        "{}@127.0.0.1:{}",
        Sshd::user(),
        sshd::closed_port()
    ));
    let r = simple(&closed, "x");
    assert_eq!(r.error_type, Some(ErrorType::Unreachable), "{r:?}");
    assert!(
        r.error.as_deref().unwrap().contains("could not be reached"),
        "{r:?}"
    );

    let other_key = sshd.dir.path().join("other_key");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other_key)
        .status()
        .unwrap();
    let mut wrong_key = agent.clone();
    wrong_key.ssh_options[0] = format!("IdentityFile={}", other_key.display());
    let r = simple(&wrong_key, "x");
    assert_eq!(r.error_type, Some(ErrorType::SshAuth), "{r:?}");
    assert!(
        r.error.as_deref().unwrap().contains("Permission denied"),
        "{r:?}"
    );
    assert!(fake.invocations().is_empty());

    agent.remote_cli = Some("/nowhere/claude".into());
    let r = simple(&agent, "x");
    assert_eq!(r.error_type, Some(ErrorType::NotFound), "{r:?}");
    assert!(
        r.error.as_deref().unwrap().contains("--remote-cli"),
        "{r:?}"
    );

    agent.directory = "/nowhere/project".into();
    let r = simple(&agent, "x");
    assert_eq!(r.error_type, Some(ErrorType::NotFound), "{r:?}");
    let error = r.error.as_deref().unwrap();
    assert!(error.contains("/nowhere/project does not exist on"), "{r:?}");
}
