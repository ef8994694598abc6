//! `agent-dispatch doctor` on healthy and broken setups: the JSON report
//! always parses and always has every section, each kind of breakage shows
//! up as the right check, `--strict` turns warnings into exit 1, and a
//! `claude` that hangs or prints invalid UTF-8 never hangs or crashes it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
mod support;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake::FakeClaude;
use serde_json::Value;
use support::{BIN, Sandbox, path_str};

const SECTIONS: [&str; 6] = [
    "Environment",
    "Running servers",
    "Config",
    "MCP registration",
    "Agents",
    "Groups",
];

fn this_binary() -> PathBuf {
    PathBuf::from(BIN).canonicalize().unwrap()
}

/// `claude mcp list` output showing this binary registered.
fn listed_here() -> String {
    format!(
        "agent-dispatch: {} serve - ✓ Connected",
        this_binary().display()
    )
}

/// PATH with the `claude` in `claude_dir` first and this binary's
/// directory on it.
fn full_path(claude_dir: &Path) -> String {
    format!(
        "{}:{}:/usr/bin:/bin",
        claude_dir.display(),
        this_binary().parent().unwrap().display()
    )
}

/// A config with one healthy agent and one healthy group.
fn healthy(sandbox: &Sandbox) {
    let dir = sandbox.project("api");
    std::fs::write(dir.join("CLAUDE.md"), "# api\n").unwrap();
    sandbox.write_config(&format!(
        "agents:\n  api:\n    directory: {}\ngroups:\n  backend:\n    members:\n      - agent: api\n",
        dir.display()
    ));
}

fn doctor(sandbox: &Sandbox, path: &str, args: &[&str]) -> support::Run {
    support::Run(
        sandbox
            .command()
            .env("PATH", path)
            .arg("doctor")
            .args(args)
            .output()
            .unwrap(),
    )
}

/// `doctor --json` with a stand-in `claude` that lists this binary as
/// registered: asserts the exit code and a complete report.
fn registered_report(sandbox: &Sandbox, code: i32) -> (support::Run, Value) {
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MCP_LIST", &listed_here())]);
    let run = doctor(sandbox, &full_path(fake.dir.path()), &["--json"]);
    let report = report(&run);
    assert_eq!(run.code(), code);
    assert_complete(&report);
    (run, report)
}

fn report(run: &support::Run) -> Value {
    serde_json::from_str(&run.stdout())
        .unwrap_or_else(|e| panic!("{e}: {}\nstderr: {}", run.stdout(), run.stderr()))
}

fn sections(report: &Value) -> BTreeSet<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["section"].as_str().unwrap().to_owned())
        .collect()
}

/// The first check in `section` whose message contains `text`.
fn find<'a>(report: &'a Value, section: &str, text: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["section"] == section && c["message"].as_str().unwrap().contains(text))
        .unwrap_or_else(|| panic!("no {section} check with {text:?} in {report:#}"))
}

fn assert_complete(report: &Value) {
    assert_eq!(report["schema_version"], 1);
    let expected: BTreeSet<String> = SECTIONS.iter().map(|s| s.to_string()).collect();
    assert_eq!(sections(report), expected, "{report:#}");
    let checks = report["checks"].as_array().unwrap();
    let count = |status: &str| checks.iter().filter(|c| c["status"] == status).count();
    assert_eq!(report["issues"], count("fail"));
    assert_eq!(report["warnings"], count("warn"));
    assert_eq!(report["passed"], count("ok"));
    for check in checks {
        assert!(check["details"].is_array(), "{check}");
        assert!(
            check["remediation"].is_null() || check["remediation"].is_string(),
            "{check}"
        );
    }
}

#[test]
fn a_healthy_setup_passes_every_section_even_when_strict() {
    let sandbox = Sandbox::new();
    healthy(&sandbox);
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MCP_LIST", &listed_here())]);
    let run = doctor(
        &sandbox,
        &full_path(fake.dir.path()),
        &["--json", "--strict"],
    );
    let report = report(&run);
    assert_eq!(run.code(), 0, "{report:#}");
    assert_complete(&report);
    assert_eq!(report["status"], "ok");
    assert_eq!(
        (report["issues"].as_u64(), report["warnings"].as_u64()),
        (Some(0), Some(0))
    );
    find(&report, "Environment", "supports --append-system-prompt");
    find(&report, "Environment", "accepts `--` before it");
    find(&report, "Environment", "is logged in");
    find(&report, "MCP registration", "starts this binary");
    find(&report, "Agents", "api: ");
    assert!(
        find(&report, "Agents", "api: ")["message"]
            .as_str()
            .unwrap()
            .ends_with("[CLAUDE.md]")
    );
    find(&report, "Groups", "backend: 1 member");
    // Probes never read our stdin.
    let invocations = fake.invocations();
    assert!(!invocations.is_empty(), "doctor never probed claude");
    for invocation in invocations {
        assert_eq!(invocation.stdin, "/dev/null");
    }
}

#[test]
fn the_text_report_has_sections_tags_and_a_summary() {
    let sandbox = Sandbox::new();
    healthy(&sandbox);
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MCP_LIST", &listed_here())]);
    let out = doctor(&sandbox, &full_path(fake.dir.path()), &[]).ok();
    for section in SECTIONS {
        assert!(out.contains(&format!("\n{section}\n  [")), "{out}");
    }
    assert!(out.contains("  [OK] claude CLI: "), "{out}");
    assert!(
        out.trim_end().ends_with("Summary\n  All checks passed."),
        "{out}"
    );
}

#[test]
fn a_missing_agent_directory_fails() {
    let sandbox = Sandbox::new();
    healthy(&sandbox);
    std::fs::remove_dir_all(sandbox.project("api")).unwrap();
    let (run, report) = registered_report(&sandbox, 1);
    assert_eq!(report["status"], "fail");
    let check = find(&report, "Agents", "api: directory missing - ");
    assert_eq!(check["status"], "fail");
    assert!(run.stderr().contains("error: doctor found 1 issue"));
}

#[test]
fn bad_yaml_fails_the_config_and_skips_agents_and_groups() {
    let sandbox = Sandbox::new();
    sandbox.write_config("agents: [unclosed\n");
    let (_, report) = registered_report(&sandbox, 1);
    assert_eq!(
        find(&report, "Config", "Config not valid YAML: ")["status"],
        "fail"
    );
    assert_eq!(find(&report, "Agents", "Skipped")["status"], "warn");
    assert_eq!(find(&report, "Groups", "Skipped")["status"], "warn");
}

#[test]
fn a_dangling_group_member_fails_with_the_fix() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("api");
    sandbox.write_config(&format!(
        "agents:\n  api:\n    directory: {}\ngroups:\n  g:\n    members:\n      - agent: api\n      - agent: ghost\n",
        dir.display()
    ));
    let (_, report) = registered_report(&sandbox, 1);
    let check = find(&report, "Groups", "g: unknown member(s): ghost");
    assert_eq!(check["status"], "fail");
    assert!(
        check["remediation"]
            .as_str()
            .unwrap()
            .contains("agent-dispatch group remove g")
    );
}

#[test]
fn a_missing_claude_fails_and_skips_the_registration_check() {
    let sandbox = Sandbox::new();
    healthy(&sandbox);
    let empty = tempfile::tempdir().unwrap();
    let run = doctor(&sandbox, path_str(empty.path()), &["--json"]);
    let report = report(&run);
    assert_eq!(run.code(), 1);
    assert_complete(&report);
    let check = find(&report, "Environment", "claude CLI not found on PATH");
    assert_eq!(check["status"], "fail");
    assert!(
        check["remediation"]
            .as_str()
            .unwrap()
            .starts_with("Install: ")
    );
    assert_eq!(
        find(&report, "MCP registration", "Skipped (claude CLI missing)")["status"],
        "warn"
    );
}

#[test]
fn a_config_with_invalid_utf8_fails_without_crashing() {
    let sandbox = Sandbox::new();
    sandbox.write_config("");
    std::fs::write(sandbox.config(), b"agents:\n  caf\xe9: {directory: /tmp}\n").unwrap();
    let (_, report) = registered_report(&sandbox, 1);
    let check = find(&report, "Config", "Config is not valid UTF-8: ");
    assert_eq!(check["remediation"], "Re-save the file as UTF-8.");
}

#[test]
fn an_unreadable_config_fails_as_unreadable() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    healthy(&sandbox);
    let cfg_dir = sandbox.config().parent().unwrap().to_path_buf();
    std::fs::set_permissions(&cfg_dir, std::fs::Permissions::from_mode(0o000)).unwrap();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MCP_LIST", &listed_here())]);
    let run = doctor(&sandbox, &full_path(fake.dir.path()), &["--json"]);
    std::fs::set_permissions(&cfg_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let report = report(&run);
    assert_complete(&report);
    if std::fs::read_dir("/root").is_ok() {
        return; // running as root: permissions are not enforced
    }
    assert_eq!(run.code(), 1);
    assert_eq!(
        find(&report, "Config", "Config could not be read: ")["status"],
        "fail"
    );
}

#[test]
fn invalid_utf8_from_mcp_list_still_reads_as_registered_in_text_and_json() {
    let sandbox = Sandbox::new();
    healthy(&sandbox);
    let fake = FakeClaude::new(&[]);
    let listing = OsStr::from_bytes(b"agent-dispatch: /opt/\xff\xfe/bin serve - Connected");
    let run = |args: &[&str]| {
        support::Run(
            sandbox
                .command()
                .env("PATH", full_path(fake.dir.path()))
                .env("FAKE_CLAUDE_MCP_LIST", listing)
                .arg("doctor")
                .args(args)
                .output()
                .unwrap(),
        )
    };
    let json = run(&["--json"]);
    let report = report(&json);
    assert_complete(&report);
    let registered = find(
        &report,
        "MCP registration",
        "is registered with Claude Code",
    );
    assert_eq!(registered["status"], "ok");
    assert_eq!(
        registered["details"][0],
        "command: /opt/\u{fffd}\u{fffd}/bin serve"
    );
    // It is registered, but not as this binary.
    let other = find(&report, "MCP registration", "starts another program");
    assert_eq!(other["status"], "warn");
    assert_eq!(
        other["remediation"],
        "Run: agent-dispatch init (registers this binary instead)"
    );

    let text = run(&[]);
    assert!(
        text.stdout()
            .contains("[OK] agent-dispatch is registered with Claude Code"),
        "{}",
        text.stdout()
    );
    assert!(!text.stderr().contains("panicked"), "{}", text.stderr());
}

#[test]
fn warnings_fail_only_with_strict_and_failures_always_fail() {
    let sandbox = Sandbox::new();
    healthy(&sandbox);
    // Healthy except that `claude` says it is logged out: one warning.
    let fake = FakeClaude::new(&[
        ("FAKE_CLAUDE_MCP_LIST", &listed_here()),
        ("FAKE_CLAUDE_AUTH", "logged-out"),
    ]);
    let relaxed = doctor(&sandbox, &full_path(fake.dir.path()), &["--json"]);
    let report = report(&relaxed);
    assert_eq!(relaxed.code(), 0, "{report:#}");
    assert_eq!(report["status"], "warn");
    assert_eq!(report["warnings"], 1);
    assert_eq!(
        find(&report, "Environment", "not logged in")["remediation"],
        "Run: claude auth login"
    );

    let strict = doctor(
        &sandbox,
        &full_path(fake.dir.path()),
        &["--json", "--strict"],
    );
    assert_eq!(strict.code(), 1);
    assert_eq!(strict.stdout(), relaxed.stdout());
    assert!(
        strict
            .stderr()
            .starts_with("error: doctor found 1 warning (--strict)"),
        "{}",
        strict.stderr()
    );

    std::fs::remove_dir_all(sandbox.project("api")).unwrap();
    let failing = doctor(&sandbox, &full_path(fake.dir.path()), &[]);
    assert_eq!(failing.code(), 1);
    assert!(
        failing.stdout().trim_end().ends_with("1 issue, 1 warning"),
        "{}",
        failing.stdout()
    );
}

#[test]
fn an_old_cli_without_the_flag_warns_that_every_dispatch_will_fail() {
    let sandbox = Sandbox::new();
    healthy(&sandbox);
    let help = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        help.path(),
        "Usage: claude [options] [command] [prompt]\n\nOptions:\n  -p, --print  Print\n",
    )
    .unwrap();
    // The stand-in prints FAKE_CLAUDE_HELP_FILE only when it is a copy
    // without its own help file beside it; make such a copy.
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("claude");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fake-claude"),
        &copy,
    )
    .unwrap();
    let run = support::Run(
        sandbox
            .command()
            .env("PATH", full_path(copy_dir.path()))
            .env("FAKE_CLAUDE_HELP_FILE", help.path())
            .env("FAKE_CLAUDE_MCP_LIST", listed_here())
            .args(["doctor", "--json"])
            .output()
            .unwrap(),
    );
    let report = report(&run);
    assert_complete(&report);
    let check = find(&report, "Environment", "predates --append-system-prompt");
    assert_eq!(check["status"], "warn");
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .ends_with("every dispatch will fail")
    );
    assert_eq!(check["remediation"], "Upgrade claude: claude update");
    assert_eq!(
        find(&report, "Environment", "accepts `--` before it")["status"],
        "ok"
    );
}

#[test]
fn a_server_running_another_version_is_reported_as_drift() {
    let sandbox = Sandbox::new();
    healthy(&sandbox);
    let servers = sandbox.config().parent().unwrap().join("servers");
    std::fs::create_dir_all(&servers).unwrap();
    let entry = servers.join("4242.json");
    std::fs::write(
        &entry,
        r#"{"pid": 4242, "version": "0.16.0", "started_at": 1.0, "config": "/x"}"#,
    )
    .unwrap();
    // Hold the entry's lock, as a live server would.
    let held = std::fs::File::open(&entry).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MCP_LIST", &listed_here())]);
    let run = doctor(&sandbox, &full_path(fake.dir.path()), &["--json"]);
    let report = report(&run);
    assert_complete(&report);
    find(
        &report,
        "Running servers",
        "1 server process(es) registered, 0 on ",
    );
    let drift = find(
        &report,
        "Running servers",
        "still executing older code: 1x 0.16.0",
    );
    assert_eq!(drift["status"], "warn");
    assert!(
        drift["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.as_str().unwrap().starts_with("pid 4242: 0.16.0, up "))
    );
    drop(held);
}

#[test]
fn a_hanging_claude_costs_one_time_limit_and_leaves_nothing_running() {
    let sandbox = Sandbox::new();
    healthy(&sandbox);
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_SUBCMD_HANG", "1")]);
    let mut child = sandbox
        .command()
        .env("PATH", full_path(fake.dir.path()))
        .env("AGENT_DISPATCH_TEST_PROBE_TIMEOUT_MS", "1000")
        .args(["doctor", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A watchdog, not a timing assertion: four hung probes run at once and
    // each is killed after 1 s (shortened from 10 s for the test); anything
    // near a minute means doctor hung.
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("doctor hung on a hanging claude");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = support::Run(child.wait_with_output().unwrap());
    let report = report(&run);
    assert_complete(&report);
    assert_eq!(
        find(&report, "Environment", "Could not run `claude --help`")["details"][0],
        "claude --help timed out after 1 s"
    );
    find(
        &report,
        "Environment",
        "Could not check whether claude is logged in",
    );
    find(
        &report,
        "MCP registration",
        "Could not check MCP registration: claude mcp list timed out",
    );
    let invocations = fake.invocations();
    assert_eq!(invocations.len(), 4);
    for invocation in invocations {
        assert!(fake::group_gone(invocation.pgid), "{invocation:?}");
    }
}

#[test]
fn doctor_rejects_unknown_options_as_a_usage_error() {
    let sandbox = Sandbox::new();
    let out = Command::new(BIN)
        .env("AGENT_DISPATCH_CONFIG", sandbox.config())
        .args(["doctor", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
}

#[test]
fn each_agent_cli_in_use_is_found_versioned_and_asked_for_its_login() {
    let sandbox = Sandbox::new();
    let cx = sandbox.project("cx");
    let gm = sandbox.project("gm");
    let oc = sandbox.project("oc");
    let home = sandbox.project("home");
    sandbox.write_config(&format!(
        "agents:\n  cx:\n    directory: {}\n    backend: codex\n  gm:\n    directory: {}\n    backend: gemini\n    permission_mode: auto\n  oc:\n    directory: {}\n    backend: opencode\n",
        cx.display(),
        gm.display(),
        oc.display()
    ));
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MCP_LIST", &listed_here())])
        .with_cli("codex", &[("FAKE_CODEX_AUTH", "logged-out")])
        .with_cli("opencode", &[]);
    // No gemini on PATH.
    std::fs::remove_file(fake.file("gemini")).ok();
    let run = support::Run(
        sandbox
            .command()
            .env("PATH", full_path(fake.dir.path()))
            .env("HOME", &home)
            .env_remove("GEMINI_API_KEY")
            .args(["doctor", "--json"])
            .output()
            .unwrap(),
    );
    let report = report(&run);
    assert_complete(&report);
    assert_eq!(run.code(), 1, "a missing CLI is a failure");

    let codex = find(&report, "Environment", "codex CLI: ");
    assert_eq!(codex["status"], "ok");
    assert!(codex["message"].as_str().unwrap().contains("used by cx"));
    assert_eq!(codex["details"][0], "version 0.171.0", "{codex}");
    let login = find(&report, "Environment", "codex CLI is not logged in");
    assert_eq!(login["status"], "warn");
    assert!(
        login["remediation"]
            .as_str()
            .unwrap()
            .contains("codex login")
    );

    let gemini = find(
        &report,
        "Environment",
        "gemini CLI not found on PATH (used by gm)",
    );
    assert_eq!(gemini["status"], "fail");
    assert!(
        gemini["remediation"]
            .as_str()
            .unwrap()
            .contains("@google/gemini-cli")
    );
    // opencode runs its free models without a login.
    let opencode = find(
        &report,
        "Environment",
        "opencode CLI has no provider credentials",
    );
    assert_eq!(opencode["status"], "ok");
    // An agent asking its CLI for what it cannot do fails by name.
    let refused = find(&report, "Agents", "gm: cannot run");
    assert_eq!(refused["status"], "fail");
    assert!(refused["message"].as_str().unwrap().contains("\"auto\""));
    assert_eq!(find(&report, "Agents", "cx (codex)")["status"], "ok");
    // No agent runs claude: registration still checks it, nothing fails.
    assert_eq!(find(&report, "Environment", "claude CLI: ")["status"], "ok");
}
