//! Agents of different CLIs side by side, end to end: the CLI and the MCP
//! tools set `backend`, refuse what a CLI cannot honour, and show each
//! agent's CLI and files; `serve` runs parallel dispatches, a dialogue and
//! a cancelled job across claude, codex and gemini stand-ins.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
#[path = "support/mcp_client.rs"]
mod mcp_client;
mod support;

use std::time::Duration;

use fake::{FakeClaude, live_in_group};
use mcp_client::{Server, serve};
use serde_json::{Value, json};
use support::{Sandbox, path_str, wait_until};

/// Agents `api` (claude), `cx` (codex) and `gm` (gemini), and a server
/// whose PATH has the three stand-ins.
fn setup() -> (Sandbox, FakeClaude, Server) {
    let sandbox = Sandbox::new();
    sandbox.add_agent("api", "API");
    for (name, backend) in [("cx", "codex"), ("gm", "gemini")] {
        let dir = sandbox.project(name);
        sandbox
            .run(&[
                "add",
                name,
                path_str(&dir),
                "-d",
                name,
                "--backend",
                backend,
            ])
            .ok();
    }
    let fake = FakeClaude::new(&[])
        .with_cli("codex", &[])
        .with_cli("gemini", &[]);
    let server = serve(&sandbox, fake.dir.path());
    (sandbox, fake, server)
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
}

#[test]
fn parallel_dispatches_run_each_agent_on_its_own_cli() {
    let (_sandbox, fake, mut server) = setup();
    let items = json!([
        {"agent": "api", "task": "first"},
        {"agent": "cx", "task": "--second"},
        {"agent": "gm", "task": "third"},
    ]);
    let (payload, is_error) = server.call(
        1,
        "dispatch_parallel",
        json!({"dispatches": items.to_string()}),
    );
    assert!(!is_error, "{payload}");
    let results = payload.as_array().unwrap();
    assert!(results.iter().all(|r| r["success"] == true), "{payload}");
    let agents: Vec<&str> = results.iter().map(|r| text(&r["agent"])).collect();
    assert_eq!(agents, ["api", "cx", "gm"]);
    // Money only where the CLI reports it; tokens from every CLI.
    assert!(results[0]["cost_usd"].is_number());
    assert!(results[1].get("cost_usd").is_none() && results[2].get("cost_usd").is_none());
    assert!(results.iter().all(|r| r["usage"]["output_tokens"].is_u64()));
    for cli in ["claude", "codex", "gemini"] {
        assert_eq!(fake.invocations_of(cli).len(), 1, "{cli}");
    }
    let codex = &fake.invocations_of("codex")[0];
    assert!(codex.cwd.ends_with("/cx"));
    assert!(
        codex.argv.last().unwrap().ends_with("--second"),
        "{:?}",
        codex.argv
    );
    let gemini = &fake.invocations_of("gemini")[0];
    assert!(gemini.cwd.ends_with("/gm"));
    assert!(
        gemini.argv.last().unwrap().ends_with("third"),
        "{:?}",
        gemini.argv
    );
}

#[test]
fn a_dialogue_between_claude_and_codex_resumes_each_side_in_its_own_cli() {
    let (_sandbox, fake, mut server) = setup();
    let (payload, is_error) = server.call(
        1,
        "dispatch_dialogue",
        json!({"requester": "api", "responder": "cx", "topic": "Plan it", "max_rounds": "2"}),
    );
    assert!(!is_error, "{payload}");
    assert_eq!(payload["rounds"], 2, "{payload}");
    let codex = fake.invocations_of("codex");
    let claude = fake.invocations();
    assert_eq!((codex.len(), claude.len()), (2, 2));
    assert!(!codex[0].argv.contains(&"resume".to_owned()));
    // Round two resumes the thread codex named in round one.
    let resumed = &codex[1].argv;
    assert!(resumed.contains(&"resume".to_owned()), "{resumed:?}");
    assert!(
        resumed.contains(&"01a2345b-c0de-7000-8000-000000000001".to_owned()),
        "{resumed:?}"
    );
    assert!(claude[1].argv.contains(&"--resume".to_owned()));
}

#[test]
fn cancelling_a_running_codex_job_kills_its_process_group() {
    let (_sandbox, fake, mut server) = setup();
    let id = server.start_job(1, "cx", "[fake:hang] forever");
    wait_until("codex to start", Duration::from_secs(15), || {
        !fake.invocations_of("codex").is_empty()
    });
    let pgid = fake.invocations_of("codex")[0].pgid;
    assert!(!live_in_group(pgid).is_empty());
    let (cancelled, _) = server.call(2, "dispatch_cancel", json!({"job_id": id}));
    assert_eq!(cancelled["outcome"], "cancelled_running", "{cancelled}");
    wait_until("the codex group to die", Duration::from_secs(15), || {
        live_in_group(pgid).is_empty()
    });
}

#[test]
fn discovery_shows_each_agents_cli_and_the_files_that_cli_reads() {
    let (sandbox, _fake, mut server) = setup();
    let cx = sandbox.project("cx");
    std::fs::write(cx.join("AGENTS.md"), "# Codex project\nrules\n").unwrap();
    std::fs::write(cx.join("CLAUDE.md"), "# not read by codex\n").unwrap();
    std::fs::create_dir_all(cx.join(".codex")).unwrap();
    std::fs::write(
        cx.join(".codex/config.toml"),
        "model = \"x\"\n[mcp_servers.db]\ncommand = \"db\"\n[mcp_servers.\"logs\"]\n[mcp_servers.db.env]\n",
    )
    .unwrap();
    let (list, _) = server.call(1, "list_agents", json!({}));
    let by_name = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("api")["backend"], "claude");
    assert_eq!(by_name("api")["instruction_file"], "CLAUDE.md");
    assert_eq!(by_name("gm")["instruction_file"], "GEMINI.md");
    let codex = by_name("cx");
    assert_eq!(codex["backend"], "codex");
    assert_eq!(codex["instruction_file"], "AGENTS.md");
    assert_eq!(codex["has_claude_md"], true, "{codex}");
    assert_eq!(codex["mcp_servers"], json!(["db", "logs"]), "{codex}");

    let (detail, _) = server.call(
        2,
        "inspect_agent",
        json!({"name": "cx", "preview_lines": 5}),
    );
    assert_eq!(detail["backend"], "codex");
    assert_eq!(
        detail["claude_md_preview"], "# Codex project\nrules",
        "{detail}"
    );

    let described = sandbox.run(&["describe", "cx"]).ok();
    assert!(described.contains("backend:          codex"), "{described}");
}

#[test]
fn what_a_cli_cannot_honour_is_refused_by_name_and_nothing_is_saved() {
    let (sandbox, fake, mut server) = setup();
    let before = sandbox.read_config();
    let dir = sandbox.project("new");
    // Another CLI runs the same settings its own way: over MCP, a switch is
    // a grant, refused unless the user allows MCP callers to grant.
    let (reply, is_error) = server.call(
        1,
        "add_agent",
        json!({"name": "new", "directory": path_str(&dir), "backend": "codex"}),
    );
    assert!(is_error, "{reply}");
    assert!(
        text(&reply["error"]).contains("backend claude -> codex"),
        "{reply}"
    );
    assert!(text(&reply["hint"]).contains("--backend codex"), "{reply}");
    let (reply, is_error) = server.call(
        2,
        "update_agent",
        json!({"name": "api", "backend": "gemini"}),
    );
    assert!(is_error, "{reply}");
    assert!(
        text(&reply["error"]).contains("backend claude -> gemini"),
        "{reply}"
    );
    let (reply, is_error) =
        server.call(3, "update_agent", json!({"name": "api", "backend": "gpt"}));
    assert!(is_error, "{reply}");
    assert!(
        text(&reply["error"]).contains("claude, codex, gemini, opencode"),
        "{reply}"
    );
    assert_eq!(sandbox.read_config(), before);

    let refused = sandbox
        .run(&[
            "update",
            "api",
            "--backend",
            "opencode",
            "--allowed-tools",
            "Read",
        ])
        .fails(1);
    assert!(refused.contains("tool lists"), "{refused}");
    assert_eq!(sandbox.read_config(), before);

    // Granted: what the CLI cannot honour is still refused by name.
    sandbox.edit_config("mcp_may_grant: false", "mcp_may_grant: true");
    let granting = sandbox.read_config();
    let (reply, is_error) = server.call(
        4,
        "add_agent",
        json!({"name": "new", "directory": path_str(&dir), "backend": "codex", "max_budget_usd": 2.0}),
    );
    assert!(is_error, "{reply}");
    assert!(text(&reply["error"]).contains("spend cap"), "{reply}");
    let (reply, is_error) = server.call(
        5,
        "update_agent",
        json!({"name": "gm", "permission_mode": "auto"}),
    );
    assert!(is_error, "{reply}");
    let error = text(&reply["error"]);
    assert!(
        error.contains("gemini") && error.contains("\"auto\""),
        "{error}"
    );
    assert_eq!(sandbox.read_config(), granting);
    let (reply, is_error) = server.call(
        6,
        "update_agent",
        json!({"name": "api", "backend": "gemini"}),
    );
    assert!(!is_error, "{reply}");
    assert_eq!(reply["fields"], json!(["backend"]));
    assert!(sandbox.read_config().contains("backend: gemini"));

    // A call's own run control is refused for a CLI without it, unrun.
    let (reply, is_error) = server.call(
        7,
        "dispatch",
        json!({"agent": "cx", "task": "t", "max_turns": 3}),
    );
    assert!(is_error, "{reply}");
    assert!(text(&reply["error"]).contains("max_turns"), "{reply}");
    // Refused before a job exists, so no job fails later either.
    let (reply, is_error) = server.call(
        8,
        "dispatch_async",
        json!({"agent": "cx", "task": "t", "effort": "low"}),
    );
    assert!(
        is_error && text(&reply["error"]).contains("effort"),
        "{reply}"
    );
    assert!(reply.get("job_id").is_none(), "{reply}");
    let (jobs, _) = server.call(9, "dispatch_jobs", json!({}));
    assert_eq!(jobs, json!([]), "{jobs}");
    assert!(fake.invocations_of("codex").is_empty());
}

#[test]
fn the_settings_default_backend_is_part_of_the_cache_key() {
    let (sandbox, fake, mut server) = setup();
    let ask = json!({"agent": "api", "task": "same question"});
    let (first, _) = server.call(1, "dispatch", ask.clone());
    let (again, _) = server.call(2, "dispatch", ask.clone());
    assert_eq!(again["cached"], true, "{again}");
    assert!(first["success"] == true);
    // `api` names no backend: the default decides, and a new default must
    // not be answered from the old CLI's cache.
    sandbox.edit_config("settings:\n", "settings:\n  default_backend: codex\n");
    let (moved, _) = server.call(3, "dispatch", ask);
    assert!(moved.get("cached").is_none(), "{moved}");
    assert_eq!(fake.invocations_of("codex").len(), 1);
    assert_eq!(fake.invocations().len(), 1);
}

#[test]
fn a_json_schema_response_format_reaches_claude_as_its_flag_and_a_bad_one_is_refused() {
    let (_sandbox, fake, mut server) = setup();
    let schema = "{\n  \"type\": \"object\"\n}";
    let (answer, is_error) = server.call(
        1,
        "dispatch",
        json!({"agent": "api", "task": "shape it", "response_format": schema}),
    );
    assert!(!is_error, "{answer}");
    let argv = &fake.invocations()[0].argv;
    let at = argv
        .iter()
        .position(|a| a == "--json-schema")
        .expect("--json-schema");
    assert_eq!(argv[at + 1], r#"{"type":"object"}"#);
    assert!(
        argv.last().unwrap().ends_with(r#"{"type":"object"}"#),
        "in the prompt too"
    );

    let reply = server.request(
        2,
        "tools/call",
        json!({"name": "dispatch", "arguments": {"agent": "api", "task": "x", "response_format": "{not json"}}),
    );
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("response_format")
    );
    assert_eq!(fake.invocations().len(), 1);
}
