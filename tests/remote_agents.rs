//! Remote agents over a real OpenSSH server on 127.0.0.1: the agent CLI
//! (a stand-in) runs through the system `ssh` in a "remote" directory on
//! this machine. Answers, progress, resume, the CLI's path on the host,
//! ssh's own failures classified apart from the CLI's, and nothing left
//! running there after a timeout or a cancel.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
#[path = "support/mcp_client.rs"]
mod mcp_client;
#[path = "support/sshd.rs"]
mod sshd;
mod support;

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_dispatch::config::{Agent, BackendName, Settings};
use agent_dispatch::runner::{
    self, Ask, CancelToken, Dispatch, DispatchResult, ErrorType, OutputMode, backends,
};
use fake::{FakeClaude, group_gone};
use mcp_client::serve;
use serde_json::json;
use sshd::Sshd;
use support::{Sandbox, path_str};

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

/// Waits (at most 15 s) until nothing is left of process group `pgid`.
fn wait_for_group_to_die(pgid: i32) {
    support::wait_until("the remote group to die", Duration::from_secs(15), || {
        group_gone(pgid)
    });
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
    let mut agent = remote_agent(&sshd, &fake, BackendName::Claude);
    // The CLI and all it starts ignore SIGTERM (an ignored signal stays
    // ignored across exec): only a SIGKILL of the group ends them.
    let stubborn = fake.file("stubborn-claude");
    std::fs::write(
        &stubborn,
        format!(
            "#!/bin/sh\ntrap '' TERM\nexec '{}' \"$@\"\n",
            fake.path.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&stubborn, std::fs::Permissions::from_mode(0o755)).unwrap();
    agent.remote_cli = Some(stubborn.to_str().unwrap().to_owned());
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
    wait_for_group_to_die(pgid);
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
    wait_for_group_to_die(pgid);
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
    assert!(
        error.contains("/nowhere/project does not exist on"),
        "{r:?}"
    );
}

/// A sandbox with a local agent `api` and a remote agent `far` on `sshd`
/// whose CLI is `fake`'s claude, added through the CLI.
fn sandbox_with_remote(sshd: &Sshd, fake: &FakeClaude) -> Sandbox {
    let sandbox = Sandbox::with_api_agent();
    let remote_dir = sandbox.project("far-away");
    let options = sshd.options().join(",");
    sandbox
        .run(&[
            "add",
            "far",
            path_str(&remote_dir),
            "-d",
            "Far",
            "--host",
            &sshd.host(),
            "--ssh-options",
            &options,
            "--remote-cli",
            fake.path.to_str().unwrap(),
        ])
        .ok();
    sandbox
}

#[test]
fn serve_runs_local_and_remote_agents_in_parallel_and_cancels_a_remote_job() {
    let sshd = Sshd::start();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_ECHO_PROMPT", "1")]);
    let sandbox = sandbox_with_remote(&sshd, &fake);
    let mut server = serve(&sandbox, fake.dir.path());
    let items = json!([
        {"agent": "api", "task": "here"},
        {"agent": "far", "task": "there"},
    ]);
    let (results, is_error) = server.call(
        1,
        "dispatch_parallel",
        json!({"dispatches": items.to_string()}),
    );
    assert!(!is_error, "{results}");
    let results = results.as_array().unwrap();
    assert!(results.iter().all(|r| r["success"] == true), "{results:?}");
    assert!(results[1]["result"].as_str().unwrap().ends_with("there"));
    let cwds: Vec<String> = fake.invocations().iter().map(|i| i.cwd.clone()).collect();
    assert!(
        cwds.iter().any(|cwd| cwd.ends_with("/far-away")),
        "{cwds:?}"
    );

    let job = server.start_job(2, "far", "[fake:hang] forever");
    support::wait_until("the remote CLI to start", Duration::from_secs(15), || {
        fake.invocations().len() == 3
    });
    let pgid = fake.invocations()[2].pgid;
    let (cancelled, _) = server.call(3, "dispatch_cancel", json!({"job_id": job}));
    assert_eq!(cancelled["outcome"], "cancelled_running", "{cancelled}");
    wait_for_group_to_die(pgid);
}

#[test]
fn sigterm_to_serve_mid_dispatch_kills_the_remote_group_too() {
    let sshd = Sshd::start();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "hang")]);
    let sandbox = sandbox_with_remote(&sshd, &fake);
    let mut server = serve(&sandbox, fake.dir.path());
    server.send(
        1,
        "tools/call",
        json!({"name": "dispatch", "arguments": {"agent": "far", "task": "forever"}}),
    );
    support::wait_until("the remote CLI to start", Duration::from_secs(15), || {
        !fake.invocations().is_empty()
    });
    let pgid = fake.invocations()[0].pgid;
    // SAFETY: a plain signal to our own child.
    unsafe {
        libc::kill(server.child.id() as i32, libc::SIGTERM);
    }
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    // Killed on the host, not only the local ssh.
    assert!(group_gone(pgid), "the remote group outlived serve");
    // And the shared connection's master is gone too.
    let config = agent_dispatch::config::store::load(&sandbox.config()).unwrap();
    let remote = runner::ssh::Remote::of(&config.agents["far"])
        .unwrap()
        .unwrap();
    // `-O exit` is asked, not awaited: the master goes within moments.
    support::wait_until(
        "the shared connection to close",
        Duration::from_secs(5),
        || {
            let check = std::process::Command::new(ssh())
                .args(remote.control_args(&runner::ssh::control_dir().unwrap(), "check"))
                .output()
                .unwrap();
            !check.status.success()
        },
    );
}

#[test]
fn list_agents_shows_an_unreachable_host_quickly_and_remote_projects_as_local_ones() {
    let sshd = Sshd::start();
    let fake = FakeClaude::new(&[]);
    let sandbox = sandbox_with_remote(&sshd, &fake);
    let far = sandbox.project("far-away");
    std::fs::write(far.join("CLAUDE.md"), "# Far project\nremote rules\n").unwrap();
    std::fs::write(
        far.join(".mcp.json"),
        r#"{"mcpServers": {"warehouse": {}}}"#,
    )
    .unwrap();
    std::fs::write(far.join("go.mod"), "module far\n").unwrap();
    // An agent whose host refuses connections.
    let dead = sandbox.project("dead");
    sandbox
        .run(&[
            "add",
            "dead",
            path_str(&dead),
            "-d",
            "Dead",
            "--host",
            &format!("{}@127.0.0.1:{}", Sshd::user(), sshd::closed_port()),
            "--no-check",
        ])
        .ok();
    let mut server = serve(&sandbox, fake.dir.path());
    let started = std::time::Instant::now();
    let (list, _) = server.call(1, "list_agents", json!({}));
    let took = started.elapsed();
    let by_name = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("api")["healthy"], true);
    let dead = by_name("dead");
    assert_eq!(dead["healthy"], "UNREACHABLE", "{dead}");
    assert!(
        dead["unreachable"].as_str().unwrap().contains("refused"),
        "{dead}"
    );
    let far = by_name("far");
    assert_eq!(far["healthy"], true, "{far}");
    assert_eq!(far["host"], sshd.host());
    assert_eq!(far["has_claude_md"], true, "{far}");
    assert_eq!(far["mcp_servers"], json!(["warehouse"]), "{far}");
    assert_eq!(far["stacks"], json!(["Go"]), "{far}");
    // Bounded by the survey wait, whatever ssh's own timeout.
    assert!(took < Duration::from_secs(10), "list_agents took {took:?}");

    let (detail, _) = server.call(
        2,
        "inspect_agent",
        json!({"name": "far", "preview_lines": 5}),
    );
    assert_eq!(
        detail["claude_md_preview"], "# Far project\nremote rules",
        "{detail}"
    );
}

#[test]
fn add_checks_the_remote_directory_unless_told_not_to() {
    let sshd = Sshd::start();
    let sandbox = Sandbox::new();
    let options = sshd.options().join(",");
    let missing = sandbox
        .run(&[
            "add",
            "far",
            "/nowhere/at/all",
            "--host",
            &sshd.host(),
            "--ssh-options",
            &options,
        ])
        .fails(1);
    assert!(
        missing.contains("/nowhere/at/all is not a directory on"),
        "{missing}"
    );
    let refused = sandbox
        .run(&[
            "add",
            "far",
            "/srv",
            "--host",
            "-oProxyCommand=touch /tmp/pwned",
        ])
        .fails(2);
    assert!(refused.contains("is not a host"), "{refused}");
    let refused = sandbox
        .run(&[
            "add",
            "far",
            "/srv",
            "--host",
            "h",
            "--ssh-options",
            "ProxyCommand=sh",
        ])
        .fails(2);
    assert!(refused.contains("not allowed"), "{refused}");
    sandbox
        .run(&[
            "add",
            "far",
            "/nowhere/at/all",
            "--host",
            &sshd.host(),
            "--no-check",
        ])
        .ok();
    let config = sandbox.read_config();
    assert!(
        config.contains("host: ") && config.contains("/nowhere/at/all"),
        "{config}"
    );
    // A remote agent's new directory is a path on its host, taken as given.
    sandbox
        .run(&["update", "far", "--directory", "~/elsewhere"])
        .ok();
    assert!(sandbox.read_config().contains("directory: ~/elsewhere"));
    // Leaving the host needs the directory here.
    let refused = sandbox.run(&["update", "far", "--host", "none"]).fails(2);
    assert!(refused.contains("--directory is needed"), "{refused}");
    let here = sandbox.project("here");
    sandbox
        .run(&[
            "update",
            "far",
            "--host",
            "none",
            "--directory",
            path_str(&here),
        ])
        .ok();
    let config = sandbox.read_config();
    assert!(
        !config.contains("host: ") && config.contains("/here"),
        "{config}"
    );
}

#[test]
fn doctor_asks_each_host_for_its_cli_and_login_and_names_an_unreachable_one() {
    let sshd = Sshd::start();
    let fake = FakeClaude::new(&[]);
    let sandbox = sandbox_with_remote(&sshd, &fake);
    let dead = sandbox.project("dead");
    sandbox
        .run(&[
            "add",
            "dead",
            path_str(&dead),
            "--host",
            &format!("{}@127.0.0.1:{}", Sshd::user(), sshd::closed_port()),
            "--no-check",
        ])
        .ok();
    let report: serde_json::Value = serde_json::from_str(
        &sandbox
            .command_with_claude(fake.dir.path())
            .args(["doctor", "--json"])
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap(),
    )
    .unwrap();
    let find = |text: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["message"].as_str().unwrap().contains(text))
            .unwrap_or_else(|| panic!("no check with {text:?}: {report:#}"))
            .clone()
    };
    let cli = find(&format!("far: {} on {}", fake.path.display(), sshd.host()));
    assert_eq!(cli["status"], "ok", "{cli}");
    assert_eq!(cli["details"][0], "version 2.1.330");
    assert_eq!(find("is logged in")["status"], "ok");
    let unreachable = find("dead: ");
    assert_eq!(unreachable["status"], "fail", "{unreachable}");
    assert!(
        unreachable["message"].as_str().unwrap().contains("refused"),
        "{unreachable}"
    );
}

#[test]
fn switching_the_cli_of_a_remote_agent_warns_about_its_old_path_and_jumps_stay_whole() {
    let sshd = Sshd::start();
    let fake = FakeClaude::new(&[]);
    let sandbox = sandbox_with_remote(&sshd, &fake);
    let run = sandbox.run(&["update", "far", "--backend", "codex"]);
    run.ok();
    assert!(
        run.stderr().contains("remote_cli still names"),
        "{}",
        run.stderr()
    );
    sandbox
        .run(&[
            "update",
            "far",
            "--ssh-options",
            "ProxyJump=hop1,hop2:2222,Port=22",
        ])
        .ok();
    let config = sandbox.read_config();
    assert!(config.contains("ProxyJump=hop1,hop2:2222"), "{config}");
}
