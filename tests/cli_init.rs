//! `agent-dispatch init` against the stand-in `claude`: the config it
//! creates (and never overwrites), the exact registration command, and
//! what it does on a second run, with another binary registered, with
//! `claude` missing and with `claude` refusing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
mod support;

use std::path::PathBuf;

use fake::FakeClaude;
use support::{BIN, Sandbox, path_with};

fn this_binary() -> String {
    PathBuf::from(BIN)
        .canonicalize()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

fn registration_json() -> String {
    format!(
        r#"{{"type":"stdio","command":"{}","args":["serve"]}}"#,
        this_binary()
    )
}

fn init(sandbox: &Sandbox, path: &str) -> support::Run {
    support::Run(
        sandbox
            .command()
            .env("PATH", path)
            .arg("init")
            .output()
            .unwrap(),
    )
}

fn argvs(fake: &FakeClaude) -> Vec<Vec<String>> {
    fake.invocations().into_iter().map(|i| i.argv).collect()
}

#[test]
fn init_creates_the_default_config_and_registers_this_binary_for_the_user() {
    let sandbox = Sandbox::new();
    let fake = FakeClaude::new(&[]);
    let out = init(&sandbox, &path_with(fake.dir.path())).ok();
    assert!(
        out.starts_with(&format!("Created config: {}\n", sandbox.config().display())),
        "{out}"
    );
    assert!(out.contains("Registered MCP server with Claude Code (user scope)"));
    assert!(out.contains("Next steps:"));

    let config = sandbox.read_config();
    assert!(config.starts_with("agents: {}\nsettings:\n"), "{config}");
    assert!(config.contains("dispatch_protocol: true"), "{config}");

    let calls = argvs(&fake);
    assert_eq!(calls[0], ["mcp", "list"]);
    assert_eq!(
        calls[1],
        [
            "mcp",
            "add-json",
            "agent-dispatch",
            &registration_json(),
            "--scope",
            "user"
        ]
    );
    assert_eq!(calls.len(), 2);
    for invocation in fake.invocations() {
        assert_eq!(invocation.stdin, "/dev/null");
    }
}

#[test]
fn a_second_init_keeps_the_config_and_leaves_a_registration_of_this_binary_alone() {
    let sandbox = Sandbox::new();
    init(&sandbox, &path_with(FakeClaude::new(&[]).dir.path())).ok();
    let before = std::fs::read(sandbox.config()).unwrap();

    let listed = format!(
        "Checking MCP server health...\n\nagent-dispatch: {} serve - ✓ Connected",
        this_binary()
    );
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MCP_LIST", &listed)]);
    let out = init(&sandbox, &path_with(fake.dir.path())).ok();
    assert!(out.contains("Config already exists"), "{out}");
    assert!(out.contains("Already registered with Claude Code"), "{out}");
    assert_eq!(argvs(&fake), [["mcp", "list"]]);
    assert_eq!(std::fs::read(sandbox.config()).unwrap(), before);
}

#[test]
fn init_re_registers_when_the_registration_starts_another_program() {
    let sandbox = Sandbox::new();
    let fake = FakeClaude::new(&[(
        "FAKE_CLAUDE_MCP_LIST",
        "agent-dispatch: /home/u/.local/bin/agent-dispatch serve - ✓ Connected",
    )]);
    let out = init(&sandbox, &path_with(fake.dir.path())).ok();
    assert!(
        out.contains("starts /home/u/.local/bin/agent-dispatch serve; re-registering"),
        "{out}"
    );
    let calls = argvs(&fake);
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(
        calls[1],
        ["mcp", "remove", "agent-dispatch", "--scope", "user"]
    );
    assert_eq!(calls[2][..3], ["mcp", "add-json", "agent-dispatch"]);
    assert_eq!(calls[2][3], registration_json());
}

#[test]
fn init_without_claude_creates_the_config_and_prints_the_manual_command() {
    let sandbox = Sandbox::new();
    let empty = tempfile::tempdir().unwrap();
    let run = init(&sandbox, empty.path().to_str().unwrap());
    let out = run.ok();
    assert!(
        run.stderr()
            .contains("claude CLI not found on PATH; the MCP server was not registered"),
        "{}",
        run.stderr()
    );
    let manual = format!(
        "  claude mcp add-json agent-dispatch '{}' --scope user\n",
        registration_json()
    );
    assert!(out.contains(&manual), "{out}");
    assert!(sandbox.read_config().starts_with("agents: {}"));
}

#[test]
fn init_never_overwrites_an_existing_config_even_a_broken_one() {
    let sandbox = Sandbox::new();
    let text = "# mine\nagents: [this is: not valid\n";
    sandbox.write_config(text);
    let fake = FakeClaude::new(&[]);
    let out = init(&sandbox, &path_with(fake.dir.path())).ok();
    assert!(out.contains("Config already exists"), "{out}");
    assert_eq!(sandbox.read_config(), text);
}

#[test]
fn a_refused_registration_fails_with_the_manual_command_and_keeps_the_config() {
    let sandbox = Sandbox::new();
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MCP_ADD_FAIL", "settings file is read-only")]);
    let run = init(&sandbox, &path_with(fake.dir.path()));
    let stderr = run.fails(1);
    assert!(stderr.contains("settings file is read-only"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "hint: the config is in place; register by hand: claude mcp add-json agent-dispatch '{}' --scope user",
            registration_json()
        )),
        "{stderr}"
    );
    assert!(run.stdout().starts_with("Created config:"));
    assert!(sandbox.read_config().starts_with("agents: {}"));
}
