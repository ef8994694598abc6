//! `add`, `update`, `remove`, `list` and `describe` through the real binary:
//! what they print, what they store, and how they refuse bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

mod support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use agent_dispatch::config::store;
use support::{Sandbox, path_str};

#[test]
fn add_stores_every_option_and_list_shows_it() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("web");
    let out = sandbox
        .run(&[
            "add",
            "web",
            path_str(&dir),
            "-d",
            "Shop front",
            "--timeout",
            "600",
            "--model",
            "sonnet",
            "--max-budget-usd",
            "1.5",
            "--permission-mode",
            "plan",
            "--allowed-tools",
            "Read, Bash(git log:*)",
            "--disallowed-tools",
            ",",
            "--capabilities",
            "frontend,css",
            "--risky-capabilities",
            "deploys",
            "--instructions",
            "  Never push.  ",
        ])
        .ok();
    assert_eq!(out, format!("Added agent 'web' -> {}\n", dir.display()));

    let agent = store::load(&sandbox.config()).unwrap().agents["web"].clone();
    assert_eq!(agent.directory, dir);
    assert_eq!(agent.description, "Shop front");
    assert_eq!(agent.timeout, 600);
    assert_eq!(agent.model.as_deref(), Some("sonnet"));
    assert_eq!(agent.max_budget_usd, Some(1.5));
    assert_eq!(agent.permission_mode.as_deref(), Some("plan"));
    assert_eq!(
        agent.allowed_tools,
        Some(vec!["Read".into(), "Bash(git log:*)".into()])
    );
    assert_eq!(
        agent.disallowed_tools,
        Some(vec![]),
        "',' is an explicit empty list"
    );
    assert_eq!(agent.capabilities, ["frontend", "css"]);
    assert_eq!(agent.risky_capabilities, ["deploys"]);
    assert_eq!(agent.instructions, "Never push.");

    let list = sandbox.run(&["list"]).ok();
    assert_eq!(
        list,
        format!(
            "  web [OK]\n    dir:  {}\n    desc: Shop front\n    config: timeout=600s, model=sonnet, budget=$1.5\n    permission_mode: plan\n    allowed_tools: Read, Bash(git log:*)\n    disallowed_tools: (none)\n    capabilities: frontend, css\n    risky_capabilities: deploys\n\n",
            dir.display()
        )
    );
}

#[test]
fn add_without_description_guesses_one_from_the_project() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("api");
    std::fs::write(
        dir.join("CLAUDE.md"),
        "# API\nServes the shop's HTTP API.\n",
    )
    .unwrap();
    std::fs::write(dir.join("Cargo.toml"), "").unwrap();
    let out = sandbox.run(&["add", "api", path_str(&dir)]).ok();
    assert!(
        out.starts_with("Auto-generated description: Serves the shop's HTTP API. | Stack: Rust\n"),
        "{out}"
    );
    let config = store::load(&sandbox.config()).unwrap();
    assert_eq!(
        config.agents["api"].description,
        "Serves the shop's HTTP API. | Stack: Rust"
    );
    assert_eq!(config.agents["api"].timeout, 300);
}

#[test]
fn add_resolves_relative_and_symlinked_directories() {
    let sandbox = Sandbox::new();
    let real = sandbox.project("real");
    std::os::unix::fs::symlink(&real, sandbox.dir.path().join("link")).unwrap();
    let out = sandbox
        .command()
        .current_dir(sandbox.dir.path())
        .args(["add", "a", "./link/.", "-d", "x"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        store::load(&sandbox.config()).unwrap().agents["a"].directory,
        real
    );
}

#[test]
fn adding_an_existing_name_fails_and_changes_nothing() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("p");
    sandbox
        .run(&["add", "p", path_str(&dir), "-d", "first"])
        .ok();
    let before = sandbox.read_config();
    let err = sandbox
        .run(&["add", "p", path_str(&dir), "-d", "second"])
        .fails(1);
    assert!(err.contains("agent 'p' already exists"), "{err}");
    assert!(err.contains("hint: "), "{err}");
    assert_eq!(sandbox.read_config(), before);
}

#[test]
fn update_changes_only_what_is_given_and_none_clears() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("p");
    sandbox
        .run(&[
            "add",
            "p",
            path_str(&dir),
            "-d",
            "d",
            "--model",
            "opus",
            "--max-budget",
            "2",
            "--permission-mode",
            "plan",
            "--allowed-tools",
            "Read",
            "--capabilities",
            "a,b",
            "--instructions",
            "obey",
        ])
        .ok();
    let out = sandbox
        .run(&[
            "update",
            "p",
            "--model",
            "none",
            "--max-budget",
            "0",
            "--permission-mode",
            "",
            "--allowed-tools",
            "NONE",
            "--capabilities",
            "none",
            "--instructions",
            "None",
            "--timeout",
            "42",
        ])
        .ok();
    assert_eq!(
        out,
        "Updated agent 'p': timeout, model, max_budget_usd, permission_mode, allowed_tools, capabilities, instructions\n"
    );
    let agent = store::load(&sandbox.config()).unwrap().agents["p"].clone();
    assert_eq!(agent.description, "d");
    assert_eq!(agent.timeout, 42);
    assert_eq!(agent.model, None);
    assert_eq!(agent.max_budget_usd, None);
    assert_eq!(agent.permission_mode, None);
    assert_eq!(
        agent.allowed_tools, None,
        "'none' means inherit the defaults again"
    );
    assert!(agent.capabilities.is_empty());
    assert_eq!(agent.instructions, "");
}

#[test]
fn update_of_a_missing_agent_names_the_configured_ones() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("p");
    sandbox.run(&["add", "p", path_str(&dir), "-d", "x"]).ok();
    let err = sandbox.run(&["update", "q", "-d", "y"]).fails(1);
    assert_eq!(
        err,
        "error: agent 'q' not found\nhint: configured agents: p\n"
    );
}

#[test]
fn an_unknown_permission_mode_is_stored_with_a_warning() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("p");
    let run = sandbox.run(&[
        "add",
        "p",
        path_str(&dir),
        "-d",
        "x",
        "--permission-mode",
        "yolo",
    ]);
    run.ok();
    assert!(
        run.stderr().contains("warning: Unknown permission_mode: 'yolo'. Known values: acceptEdits, auto, bypassPermissions, default, dontAsk, manual, plan"),
        "{}",
        run.stderr()
    );
    let config = store::load(&sandbox.config()).unwrap();
    assert_eq!(config.agents["p"].permission_mode.as_deref(), Some("yolo"));
    // Every mode of the current claude is known: no warning.
    for mode in ["acceptEdits", "auto", "manual", "dontAsk", "plan"] {
        let known = sandbox.run(&["update", "p", "--permission-mode", mode]);
        known.ok();
        assert!(
            !known.stderr().contains("Unknown"),
            "{mode}: {}",
            known.stderr()
        );
    }
}

#[test]
fn remove_deletes_and_warns_about_groups_still_listing_the_agent() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("p");
    sandbox.run(&["add", "p", path_str(&dir), "-d", "x"]).ok();
    sandbox.run(&["add", "q", path_str(&dir), "-d", "x"]).ok();
    sandbox.run(&["group", "add", "g", "--member", "p"]).ok();
    let run = sandbox.run(&["remove", "p"]);
    assert_eq!(run.ok(), "Removed agent 'p'.\n");
    assert!(
        run.stderr().contains("group 'g' still lists 'p'"),
        "{}",
        run.stderr()
    );
    let config = store::load(&sandbox.config()).unwrap();
    assert_eq!(config.agents.keys().collect::<Vec<_>>(), ["q"]);
    assert_eq!(
        config.groups["g"].members[0].agent, "p",
        "membership is left for the user to fix"
    );
    let err = sandbox.run(&["remove", "p"]).fails(1);
    assert!(err.starts_with("error: agent 'p' not found"), "{err}");
}

#[test]
fn list_and_describe_report_missing_directories() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("gone");
    sandbox
        .run(&["add", "gone", path_str(&dir), "-d", "x"])
        .ok();
    std::fs::remove_dir(&dir).unwrap();
    assert!(
        sandbox
            .run(&["list"])
            .ok()
            .starts_with("  gone [NOT FOUND]\n")
    );
    let json = sandbox.run(&["list", "--json"]).json();
    assert_eq!(json[0]["healthy"], false);
    assert_eq!(json[0]["has_claude_md"], false);
    let describe = sandbox.run(&["describe", "gone"]).ok();
    assert!(describe.starts_with("gone [NOT FOUND]\n"), "{describe}");
    assert!(
        describe.contains("  project files:    (none)\n"),
        "{describe}"
    );
}

#[test]
fn describe_prints_the_full_configuration() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("web");
    std::fs::write(dir.join("CLAUDE.md"), "x").unwrap();
    std::fs::write(dir.join("package.json"), "{}").unwrap();
    sandbox
        .run(&[
            "add",
            "web",
            path_str(&dir),
            "-d",
            "Shop",
            "--model",
            "sonnet",
            "--max-budget",
            "0.00001",
            "--risky-capabilities",
            "deploys",
            "--disallowed-tools",
            ",",
            "--instructions",
            "one\ntwo",
        ])
        .ok();
    let out = sandbox.run(&["describe", "web"]).ok();
    let expected = format!(
        "web [OK]
  directory:        {}
  description:      Shop
  timeout:          300s
  model:            sonnet
  max_budget_usd:   $1e-05
  risky_caps:       deploys
  instructions:     one
                    two
  allowed_tools:    (inherit defaults)
  disallowed_tools: (none — explicit override)
  project files:    CLAUDE.md, package.json
",
        dir.display()
    );
    assert_eq!(out, expected);
}

#[test]
fn json_output_has_the_mcp_shapes() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("api");
    std::fs::write(dir.join(".mcp.json"), r#"{"mcpServers": {"postgres": {}}}"#).unwrap();
    std::fs::write(dir.join("go.mod"), "").unwrap();
    std::fs::write(dir.join("README.md"), "line1\nline2\n").unwrap();
    sandbox
        .run(&[
            "add",
            "api",
            path_str(&dir),
            "-d",
            "API",
            "--allowed-tools",
            ",",
            "--capabilities",
            "sql",
            "--instructions",
            "be terse",
        ])
        .ok();
    assert_eq!(
        sandbox.run(&["list", "--json"]).json(),
        serde_json::json!([{
            "name": "api", "directory": path_str(&dir), "description": "API", "healthy": true,
            "backend": "claude", "instruction_file": "CLAUDE.md", "has_claude_md": false, "has_mcp_config": true, "mcp_servers": ["postgres"], "stacks": ["Go"],
            "allowed_tools": [], "capabilities": ["sql"], "timeout": 300,
        }])
    );
    let detail = sandbox.run(&["describe", "api", "--json"]).json();
    let keys: Vec<&str> = detail
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "name",
            "directory",
            "description",
            "backend",
            "timeout",
            "allowed_tools",
            "capabilities",
            "instructions",
            "healthy",
            "instruction_file",
            "mcp_servers",
            "stacks",
            "dbs",
            "has_claude_md",
            "has_readme",
            "has_mcp_config",
        ]
    );
    assert_eq!(detail["instructions"], "be terse");
    assert_eq!(
        sandbox
            .run(&["list", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn an_empty_config_lists_nothing_in_both_formats() {
    let sandbox = Sandbox::new();
    assert_eq!(
        sandbox.run(&["list"]).ok(),
        "No agents configured. Run: agent-dispatch add <name> <directory>\n"
    );
    assert_eq!(
        sandbox.run(&["list", "--json"]).json(),
        serde_json::json!([])
    );
    assert!(
        !sandbox.config().exists(),
        "reading never creates the config"
    );
}

#[test]
fn bad_command_lines_exit_2_naming_the_field() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("p");
    let d = path_str(&dir);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["add", "bad name", d], "Invalid agent name: 'bad name'"),
        (vec!["add", "-x", d], "invalid option '-x'"),
        (vec!["add", "--", "-x", d], "Invalid agent name: '-x'"),
        (vec!["add", "p"], "missing argument DIRECTORY"),
        (vec!["add"], "missing argument NAME"),
        (
            vec!["add", "p", "/no/such/dir"],
            "DIRECTORY '/no/such/dir' is not an existing directory",
        ),
        (
            vec!["add", "p", " "],
            "DIRECTORY must not be empty; pass the project's path",
        ),
        (
            vec!["add", "p", d, "--timeout", "0"],
            "--timeout must be between 1 and 604800 seconds (got 0)",
        ),
        (
            vec!["add", "p", d, "--timeout", "-5"],
            "--timeout must be between 1",
        ),
        (
            vec!["add", "p", d, "--timeout", "1.5"],
            "--timeout expects a whole number of seconds, got '1.5'",
        ),
        (
            vec!["add", "p", d, "--timeout", "9999999"],
            "--timeout must be between 1 and 604800",
        ),
        (
            vec!["add", "p", d, "--max-budget", "nan"],
            "--max-budget must be a finite number",
        ),
        (
            vec!["add", "p", d, "--max-budget-usd", "-1"],
            "--max-budget must be a finite number from 0",
        ),
        (
            vec!["add", "p", d, "--max-budget", "inf"],
            "--max-budget must be a finite number",
        ),
        (
            vec!["add", "p", d, "--max-budget", "cheap"],
            "--max-budget expects a number of US dollars, got 'cheap'",
        ),
        (
            vec!["add", "p", d, "--model", "--dangerously-skip-permissions"],
            "--model value '--dangerously-skip-permissions' must not start with '-'",
        ),
        (
            vec!["add", "p", d, "--permission-mode", "-x"],
            "--permission-mode value '-x' must not start with '-'",
        ),
        (
            vec!["add", "p", d, "--allowed-tools", "Read,--evil"],
            "--allowed-tools value '--evil' must not start with '-'",
        ),
        (
            vec!["add", "p", d, "--disallowed-tools", "-Bash"],
            "--disallowed-tools value '-Bash'",
        ),
        (
            vec!["add", "p", d, "--model", "a\nb"],
            "--model value 'a\\nb' must not contain control characters",
        ),
        (vec!["add", "p", d, "--bogus"], "invalid option '--bogus'"),
        (vec!["add", "p", d, "extra"], "unexpected argument 'extra'"),
        (
            vec!["add", "p", d, "--timeout"],
            "missing argument for option '--timeout'",
        ),
        (vec!["update", "p"], "nothing to update"),
        (
            vec!["update", "p", "--timeout", "0"],
            "--timeout must be between 1",
        ),
        (
            vec!["update", "p", "--max-budget", "-0.5"],
            "--max-budget must be a finite number from 0",
        ),
        (vec!["remove"], "missing argument NAME"),
        (vec!["describe"], "missing argument NAME"),
        (vec!["list", "--yaml"], "invalid option '--yaml'"),
        (vec!["frobnicate"], "unknown command 'frobnicate'"),
    ];
    for (args, expected) in cases {
        let err = sandbox.run(&args).fails(2);
        assert!(
            err.contains(expected),
            "{args:?}\n  got: {err}\n  want: {expected}"
        );
        assert!(
            err.contains("\nhint: run 'agent-dispatch "),
            "{args:?}: {err}"
        );
    }
    assert!(
        !sandbox.config().exists(),
        "no bad command line may create or touch the config"
    );
}

#[test]
fn a_non_utf8_directory_is_refused() {
    let sandbox = Sandbox::new();
    let raw = sandbox.dir.path().join(OsStr::from_bytes(b"caf\xe9"));
    std::fs::create_dir_all(&raw).unwrap();
    let err = sandbox
        .run_os(&[OsStr::new("add"), OsStr::new("p"), raw.as_os_str()])
        .fails(2);
    assert!(err.contains("is not valid UTF-8"), "{err}");
}

#[test]
fn help_and_version_work_everywhere() {
    let sandbox = Sandbox::new();
    assert!(
        sandbox
            .run(&["--help"])
            .ok()
            .contains("Usage: agent-dispatch COMMAND")
    );
    assert!(
        sandbox
            .run(&[])
            .ok()
            .contains("Usage: agent-dispatch COMMAND")
    );
    for command in [
        vec!["add", "--help"],
        vec!["update", "-h"],
        vec!["remove", "--help"],
        vec!["list", "--help"],
        vec!["describe", "--help"],
        vec!["group", "--help"],
        vec!["group", "add", "--help"],
        vec!["group", "list", "--help"],
        vec!["group", "inspect", "--help"],
        vec!["group", "update", "--help"],
        vec!["group", "remove", "--help"],
    ] {
        let out = sandbox.run(&command).ok();
        assert!(out.contains("Usage: agent-dispatch "), "{command:?}: {out}");
        assert!(
            out.lines().all(|l| l.chars().count() <= 79),
            "{command:?} has a line over 79 columns:\n{out}"
        );
    }
    assert_eq!(
        sandbox.run(&["--version"]).ok(),
        format!("agent-dispatch {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_broken_config_is_reported_with_path_and_key() {
    let sandbox = Sandbox::new();
    let path = sandbox.config();
    let cases = [
        (
            "agents:\n  a: {directory: /x, timeout: -1}\n",
            "is invalid: agents.a.timeout: must be between 0 and",
        ),
        (
            "agents:\n  a: {directory: /x}\n  a: {directory: /y}\n",
            "is not valid YAML: duplicate key 'a' at line 3",
        ),
        ("agents: [\n", "is not valid YAML"),
        (
            "settings:\n  default_max_budget_usd: .nan\n",
            "settings.default_max_budget_usd: must be a finite number",
        ),
    ];
    for (text, expected) in cases {
        sandbox.write_config(text);
        for args in [
            vec!["list"],
            vec!["list", "--json"],
            vec!["describe", "a"],
            vec!["update", "a", "-d", "x"],
        ] {
            let err = sandbox.run(&args).fails(1);
            assert!(
                err.starts_with(&format!("error: config at {} ", path.display())),
                "{err}"
            );
            assert!(err.contains(expected), "{args:?} on {text:?}\n  got: {err}");
            assert!(err.contains("hint: fix that spot in the file"), "{err}");
        }
        assert_eq!(
            sandbox.read_config(),
            text,
            "a failed command never rewrites a broken config"
        );
    }
    std::fs::write(&path, b"agents: {}\ncaf\xe9: 1\n").unwrap();
    let err = sandbox.run(&["list"]).fails(1);
    assert!(
        err.contains("is not valid UTF-8") && err.contains("hint: re-save the file as UTF-8"),
        "{err}"
    );
}

/// A NUL cannot reach the binary through argv (execve refuses it, as the
/// first assertion shows), so the refusal is checked on the parser the
/// binary runs, with the argv a caller building one in memory would pass.
#[test]
fn stored_texts_with_a_nul_are_refused_by_add_and_update() {
    use agent_dispatch::cli::{error::CliError, parse};
    use std::ffi::OsString;
    let sandbox = Sandbox::new();
    assert!(
        sandbox
            .command()
            .args(["add", "web", "/tmp", "-d", "a\0b"])
            .output()
            .is_err(),
        "argv cannot carry a NUL"
    );
    for option in [
        "--description",
        "--instructions",
        "--capabilities",
        "--risky-capabilities",
    ] {
        for head in [&["add", "web", "/tmp"][..], &["update", "web"][..]] {
            let mut argv: Vec<OsString> = head.iter().map(OsString::from).collect();
            argv.push(option.into());
            argv.push("a\0b".into());
            let err = parse(argv).expect_err("a NUL is refused");
            assert!(matches!(err, CliError::Usage { .. }), "{err:?}");
            assert_eq!(err.exit_code(), 2);
            assert!(
                err.to_string()
                    .starts_with(&format!("{option} must not contain a NUL character")),
                "{err}"
            );
        }
    }
}

/// The raw bytes a hostile description would send to the terminal: set the
/// window title, ring the bell, clear the screen.
const HOSTILE: &str = "\x1b]0;pwned\x07\x1b[2J";
/// How the human-readable views show it instead.
const HOSTILE_SHOWN: &str = r"\x1b]0;pwned\x07\x1b[2J";

#[track_caller]
fn assert_no_raw_controls(out: &str) {
    assert!(
        !out.chars().any(|c| c.is_control() && c != '\n'),
        "raw control characters in {out:?}"
    );
}

#[test]
fn list_and_describe_show_control_characters_escaped_and_json_keeps_them() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("web");
    sandbox
        .run(&[
            "add",
            "web",
            path_str(&dir),
            "-d",
            HOSTILE,
            "--capabilities",
            "css\x1b[8m",
            "--instructions",
            "Never push.\nAsk\x1b[2J first.",
        ])
        .ok();
    let list = sandbox.run(&["list"]).ok();
    assert_no_raw_controls(&list);
    assert!(
        list.contains(&format!("    desc: {HOSTILE_SHOWN}\n")),
        "{list}"
    );
    assert!(list.contains(r"capabilities: css\x1b[8m"), "{list}");

    let describe = sandbox.run(&["describe", "web"]).ok();
    assert_no_raw_controls(&describe);
    assert!(
        describe.contains(&format!("  description:      {HOSTILE_SHOWN}\n")),
        "{describe}"
    );
    // Instructions are meant to span lines: the newline stays a line break.
    assert!(
        describe.contains(&format!(
            "  instructions:     Never push.\n{}Ask\\x1b[2J first.\n",
            " ".repeat(20)
        )),
        "{describe}"
    );

    let json = sandbox.run(&["list", "--json"]).json();
    assert_eq!(json[0]["description"], HOSTILE);
    let json = sandbox.run(&["describe", "web", "--json"]).json();
    assert_eq!(json["description"], HOSTILE);
    assert_eq!(json["instructions"], "Never push.\nAsk\x1b[2J first.");
}

#[test]
fn describe_never_shows_a_project_file_behind_a_symlink_leading_outside() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("web");
    let outside = sandbox.project("elsewhere");
    std::fs::write(outside.join("notes.md"), "SECRET-TOKEN-4711 is the key.\n").unwrap();
    std::os::unix::fs::symlink(outside.join("notes.md"), dir.join("CLAUDE.md")).unwrap();
    let added = sandbox.run(&["add", "web", path_str(&dir)]).ok();
    let describe = sandbox.run(&["describe", "web"]).ok();
    let json = sandbox.run(&["describe", "web", "--json"]).ok();
    let list = sandbox.run(&["list"]).ok();
    for out in [&added, &describe, &json, &list] {
        assert!(!out.contains("SECRET"), "{out}");
    }
    assert!(
        added.contains("Auto-generated description: Agent in web"),
        "{added}"
    );
}

#[test]
fn add_and_update_help_list_every_shared_option_with_its_default() {
    let sandbox = Sandbox::new();
    for command in ["add", "update"] {
        let out = sandbox.run(&[command, "--help"]).ok();
        for option in [
            "--description",
            "--timeout",
            "--model",
            "--max-budget",
            "--permission-mode",
            "--allowed-tools",
            "--disallowed-tools",
            "--capabilities",
            "--risky-capabilities",
            "--instructions",
            "--help",
        ] {
            assert!(
                out.contains(option),
                "{command} --help lacks {option}:\n{out}"
            );
        }
        assert!(out.contains("(default 300)"), "{command} --help:\n{out}");
        assert!(
            out.lines().all(|l| l.chars().count() <= 79),
            "{command} --help has a line over 79 columns:\n{out}"
        );
    }
}

#[test]
fn help_command_is_the_commands_own_help() {
    let sandbox = Sandbox::new();
    for command in [
        vec!["add"],
        vec!["update"],
        vec!["list"],
        vec!["stats"],
        vec!["group", "add"],
    ] {
        let mut via_help = vec!["help"];
        via_help.extend(&command);
        let mut via_option = command.clone();
        via_option.push("--help");
        assert_eq!(
            sandbox.run(&via_help).ok(),
            sandbox.run(&via_option).ok(),
            "{command:?}"
        );
    }
    assert!(
        sandbox
            .run(&["help"])
            .ok()
            .contains("Usage: agent-dispatch COMMAND")
    );
}

#[test]
fn a_mistyped_command_suggests_the_nearest_one() {
    let sandbox = Sandbox::new();
    let err = sandbox.run(&["lsit"]).fails(2);
    assert!(err.contains("unknown command 'lsit'"), "{err}");
    assert!(err.contains("did you mean 'list'?"), "{err}");
    let err = sandbox.run(&["help", "stat"]).fails(2);
    assert!(err.contains("did you mean 'stats'?"), "{err}");
    let err = sandbox.run(&["group", "lst"]).fails(2);
    assert!(err.contains("did you mean 'group list'?"), "{err}");
    let err = sandbox.run(&["deploy"]).fails(2);
    assert!(!err.contains("did you mean"), "{err}");
}

#[test]
fn update_directory_moves_the_agent_checked_like_adds_directory() {
    let sandbox = Sandbox::with_api_agent();
    let moved = sandbox.project("moved");
    let out = sandbox
        .run(&["update", "api", "--directory", path_str(&moved)])
        .ok();
    assert!(out.contains("Updated agent 'api': directory"), "{out}");
    assert!(
        sandbox.read_config().contains(path_str(&moved)),
        "{}",
        sandbox.read_config()
    );
    let err = sandbox
        .run(&["update", "api", "--directory", "/no/such/dir"])
        .fails(2);
    assert!(
        err.contains("--directory '/no/such/dir' is not an existing directory"),
        "{err}"
    );
    let err = sandbox.run(&["update", "api", "--directory", " "]).fails(2);
    assert!(err.contains("--directory must not be empty"), "{err}");
    assert!(sandbox.read_config().contains(path_str(&moved)));
}

#[test]
fn list_json_carries_the_timeout_model_and_budget_list_shows() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("api");
    sandbox
        .run(&[
            "add",
            "api",
            path_str(&dir),
            "-d",
            "API",
            "--timeout",
            "900",
            "--model",
            "opus",
            "--max-budget",
            "2.5",
        ])
        .ok();
    let text = sandbox.run(&["list"]).ok();
    assert!(
        text.contains("timeout=900s, model=opus, budget=$2.5"),
        "{text}"
    );
    let item = &sandbox.run(&["list", "--json"]).json()[0];
    assert_eq!(item["timeout"], 900);
    assert_eq!(item["model"], "opus");
    assert_eq!(item["max_budget_usd"], 2.5);
}
