//! Every command line the runner builds for the Codex, Gemini and opencode
//! backends, run through the runner against the real CLIs from npm: never
//! logged in (an empty HOME, no credential variables) and with no network
//! (a network namespace of its own where the kernel allows one, and a dead
//! proxy either way), so nothing can be billed or answered. Each shape must
//! get past argument parsing to the CLI's auth or network stage — gemini
//! exits 41, codex names its thread (`thread.started`) and then retries
//! until our timeout, opencode logs the session it created — never to an
//! argument error. `.ci/run` installs the CLIs and runs this with
//! `--ignored`; a CLI that is not there fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::RwLock;

use agent_dispatch::config::{Agent, BackendName, Settings};
use agent_dispatch::runner::{
    self, Ask, CancelToken, Dispatch, DispatchResult, ErrorType, OutputMode, backends,
};

/// Whether this kernel lets us give a process a network of its own.
fn can_unshare_network() -> bool {
    let _forking = EXECUTABLES.read().unwrap_or_else(|p| p.into_inner());
    Command::new("unshare")
        .args(["-rn", "true"])
        .status()
        .is_ok_and(|status| status.success())
}

/// Held to write a wrapper (exclusively) and to start any process (shared):
/// a child forked by another test while a wrapper is still open for writing
/// would keep it open, and exec of that wrapper then fails with "Text file
/// busy".
static EXECUTABLES: RwLock<()> = RwLock::new(());

/// A wrapper named `cli` that runs the real CLI (path in `variable`) with
/// an empty environment but PATH, an isolated HOME, no network, and its
/// stderr also appended to `dir/stderr.log`. `before` goes ahead of our
/// arguments (opencode's global `--print-logs`).
fn isolated(dir: &Path, cli: &str, variable: &str, before: &str) -> PathBuf {
    let real = std::env::var(variable)
        .unwrap_or_else(|_| panic!("{variable} must name the real {cli} executable (see .ci/run)"));
    let home = dir.join("home");
    for sub in ["", ".config", ".local/share", ".cache", ".local/state"] {
        std::fs::create_dir_all(home.join(sub)).unwrap();
    }
    let unshare = if can_unshare_network() {
        "unshare -rn --"
    } else {
        eprintln!("no network namespace here: {cli} runs behind a dead proxy only");
        ""
    };
    let path = std::env::var("PATH").unwrap();
    let h = home.display();
    let script = format!(
        "#!/bin/sh\nexec env -i PATH='{path}' HOME='{h}' XDG_CONFIG_HOME='{h}/.config' \
         XDG_DATA_HOME='{h}/.local/share' XDG_CACHE_HOME='{h}/.cache' XDG_STATE_HOME='{h}/.local/state' \
         NO_COLOR=1 HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 \
         http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 \
         {unshare} '{real}' {before} \"$@\" 2>>'{log}'\n",
        log = dir.join("stderr.log").display()
    );
    let wrapper = dir.join(cli);
    let _writing = EXECUTABLES.write().unwrap_or_else(|p| p.into_inner());
    std::fs::write(&wrapper, script).unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    wrapper
}

struct Shape<'a> {
    label: &'a str,
    agent: Agent,
    settings: Settings,
    mode: OutputMode,
    resume: Option<&'a str>,
}

/// The shapes every backend runs: each permission mode it takes, both
/// output modes, a model, the protocol off, and a task that reads as
/// flags.
fn shapes(cli: BackendName, project: &Path) -> Vec<Shape<'static>> {
    let agent = |mode: Option<&str>, model: Option<&str>| {
        let mut agent = Agent::new(project.to_path_buf());
        agent.backend = Some(cli);
        agent.permission_mode = mode.map(str::to_owned);
        agent.model = model.map(str::to_owned);
        agent.instructions = "Never push.".into();
        agent
    };
    let mut shapes = vec![
        Shape {
            label: "no mode, json",
            agent: agent(None, None),
            settings: Settings::default(),
            mode: OutputMode::Json,
            resume: None,
        },
        Shape {
            label: "no mode, stream",
            agent: agent(None, None),
            settings: Settings::default(),
            mode: OutputMode::Stream,
            resume: None,
        },
        Shape {
            label: "model, protocol off",
            agent: agent(None, Some(model_of(cli))),
            settings: Settings {
                dispatch_protocol: false,
                ..Settings::default()
            },
            mode: OutputMode::Json,
            resume: None,
        },
    ];
    for mode in backends::named(cli).permission_modes().unwrap_or_default() {
        shapes.push(Shape {
            label: mode,
            agent: agent(Some(mode), None),
            settings: Settings::default(),
            mode: OutputMode::Json,
            resume: None,
        });
    }
    shapes
}

fn model_of(cli: BackendName) -> &'static str {
    match cli {
        BackendName::Codex => "gpt-5-codex",
        BackendName::Gemini => "gemini-2.5-pro",
        _ => "opencode/big-pickle",
    }
}

fn run(program: &Path, shape: &Shape, timeout: u64) -> DispatchResult {
    let d = Dispatch {
        agent_name: "probe",
        agent: &shape.agent,
        backend: backends::of(&shape.agent, &shape.settings),
        settings: &shape.settings,
        ask: Ask {
            task: "--yolo -p --dangerously-bypass-approvals-and-sandbox say hi",
            ..Ask::default()
        },
        resume: shape.resume,
        timeout_secs: Some(timeout),
        mode: shape.mode,
    };
    let _running = EXECUTABLES.read().unwrap_or_else(|p| p.into_inner());
    runner::dispatch_using(Some(program), &d, &CancelToken::new(), None)
}

fn project(dir: &Path) -> PathBuf {
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    project.canonicalize().unwrap()
}

#[test]
#[ignore = "needs the real Codex CLI; .ci/run installs it and runs this"]
fn every_codex_argv_shape_reaches_the_network_stage() {
    let dir = tempfile::tempdir().unwrap();
    let codex = isolated(dir.path(), "codex", "AGENT_DISPATCH_REAL_CODEX", "");
    let project = project(dir.path());
    let mut thread = None;
    for shape in shapes(BackendName::Codex, &project) {
        let r = run(&codex, &shape, 6);
        let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
        // `thread.started` named the session; then codex retried offline
        // until our timeout ended it.
        assert!(r.session_id.is_some(), "{}: {r:?}\n{log}", shape.label);
        assert!(
            matches!(
                r.error_type,
                Some(ErrorType::Network | ErrorType::Timeout | ErrorType::Auth)
            ),
            "{}: {r:?}\n{log}",
            shape.label
        );
        assert!(
            !log.contains("unexpected argument"),
            "{}: {log}",
            shape.label
        );
        thread = r.session_id;
    }
    let thread = thread.unwrap();
    let resumed = Shape {
        label: "resume",
        agent: shapes(BackendName::Codex, &project).remove(0).agent,
        settings: Settings::default(),
        mode: OutputMode::Json,
        resume: Some(&thread),
    };
    let r = run(&codex, &resumed, 6);
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert!(!log.contains("unexpected argument"), "resume: {log}");
    assert!(
        r.session_id.as_deref() == Some(thread.as_str())
            || r.error
                .as_deref()
                .unwrap_or_default()
                .contains("no rollout found"),
        "resume: {r:?}\n{log}"
    );
}

#[test]
#[ignore = "needs the real Gemini CLI; .ci/run installs it and runs this"]
fn every_gemini_argv_shape_reaches_the_auth_check() {
    let dir = tempfile::tempdir().unwrap();
    let gemini = isolated(dir.path(), "gemini", "AGENT_DISPATCH_REAL_GEMINI", "");
    let project = project(dir.path());
    for shape in shapes(BackendName::Gemini, &project) {
        let r = run(&gemini, &shape, 60);
        let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
        assert_eq!(
            r.error_type,
            Some(ErrorType::Auth),
            "{}: {r:?}\n{log}",
            shape.label
        );
        assert!(r.session_id.is_some(), "{}: {r:?}", shape.label);
    }
    // A session to resume, as the CLI stores one per project directory.
    let id = "5a6b7c8d-1111-4222-8333-944455556666";
    let chats = dir
        .path()
        .join("home/.gemini/tmp")
        .join(project.file_name().unwrap())
        .join("chats");
    std::fs::create_dir_all(&chats).unwrap();
    std::fs::write(
        chats.join("session-2026-01-01T00-00-5a6b7c8d.jsonl"),
        format!(
            "{{\"sessionId\":\"{id}\",\"projectHash\":\"x\",\"startTime\":\"2026-01-01T00:00:00.000Z\",\"lastUpdated\":\"2026-01-01T00:00:00.000Z\"}}\n\
             {{\"id\":\"m1\",\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"type\":\"user\",\"content\":[{{\"text\":\"hi\"}}]}}\n\
             {{\"id\":\"m2\",\"timestamp\":\"2026-01-01T00:00:01.000Z\",\"type\":\"gemini\",\"content\":\"hello\",\"model\":\"gemini-2.5-pro\"}}\n"
        ),
    )
    .unwrap();
    let resumed = Shape {
        label: "resume",
        agent: shapes(BackendName::Gemini, &project).remove(0).agent,
        settings: Settings::default(),
        mode: OutputMode::Json,
        resume: Some(id),
    };
    let r = run(&gemini, &resumed, 60);
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert_eq!(r.error_type, Some(ErrorType::Auth), "resume: {r:?}\n{log}");
    assert_eq!(r.session_id.as_deref(), Some(id), "resume: {r:?}");
}

#[test]
#[ignore = "needs the real opencode CLI; .ci/run installs it and runs this"]
fn every_opencode_argv_shape_creates_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let opencode = isolated(
        dir.path(),
        "opencode",
        "AGENT_DISPATCH_REAL_OPENCODE",
        "--print-logs",
    );
    let project = project(dir.path());
    let log_path = dir.path().join("stderr.log");
    let mut session = None;
    for shape in shapes(BackendName::Opencode, &project) {
        std::fs::write(&log_path, "").unwrap();
        let r = run(&opencode, &shape, 8);
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let created = log
            .split_whitespace()
            .find_map(|word| word.strip_prefix("id=ses_"))
            .filter(|_| log.contains("message=created"));
        assert!(created.is_some(), "{}: {r:?}\n{log}", shape.label);
        assert!(
            !log.contains("run opencode with a message"),
            "{}: help printed",
            shape.label
        );
        session = created.map(|id| format!("ses_{id}"));
    }
    let session = session.unwrap();
    std::fs::write(&log_path, "").unwrap();
    let resumed = Shape {
        label: "resume",
        agent: shapes(BackendName::Opencode, &project).remove(0).agent,
        settings: Settings::default(),
        mode: OutputMode::Stream,
        resume: Some(&session),
    };
    let r = run(&opencode, &resumed, 8);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(!log.contains("Session not found"), "resume: {r:?}\n{log}");
    assert!(
        !log.contains("run opencode with a message"),
        "resume: help printed"
    );
    assert!(
        matches!(r.error_type, Some(ErrorType::Timeout | ErrorType::Network)),
        "resume: {r:?}\n{log}"
    );
}
