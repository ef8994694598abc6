//! `add_agent`, `update_agent` and `remove_agent` through a real `serve`:
//! what they store in `agents.yaml`, their answers, every refusal (with
//! nothing written), and that a change drops the agent's cached answers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
#[path = "support/mcp_client.rs"]
mod mcp_client;
mod support;

use agent_dispatch::config::{Agent, Config, store};
use fake::FakeClaude;
use mcp_client::Server;
use serde_json::{Value, json};
use support::{Sandbox, path_str};

fn serve(sandbox: &Sandbox) -> Server {
    Server::initialized(sandbox.command())
}

fn load(sandbox: &Sandbox) -> Config {
    store::load(&sandbox.config()).expect("config loads")
}

fn stored(sandbox: &Sandbox, name: &str) -> Agent {
    load(sandbox)
        .agents
        .get(name)
        .unwrap_or_else(|| panic!("agent {name} stored"))
        .clone()
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// Adds `api` (description "Shop API") through the tool.
fn add_api(server: &mut Server, sandbox: &Sandbox) {
    let dir = sandbox.project("api");
    let (payload, is_error) = server.call(
        90,
        "add_agent",
        json!({"name": "api", "directory": path_str(&dir), "description": "Shop API"}),
    );
    assert!(!is_error, "{payload}");
}

#[test]
fn add_agent_stores_the_agent_and_list_agents_shows_it() {
    let sandbox = Sandbox::new();
    // Granting is this test's setup, not its subject.
    let_mcp_grant(&sandbox);
    let dir = sandbox.project("api");
    let mut server = serve(&sandbox);
    let (added, is_error) = server.call(
        1,
        "add_agent",
        json!({
            "name": "api",
            "directory": path_str(&dir),
            "description": "Shop API",
            "timeout": "600",
            "max_budget_usd": 1.5,
            "permission_mode": "plan",
            "allowed_tools": "Read, Bash(git log:*),,",
            "capabilities": "sql, orders",
            "instructions": "  Answer briefly.\n",
        }),
    );
    assert!(!is_error, "{added}");
    assert_eq!(
        added,
        json!({
            "added": "api",
            "directory": path_str(&dir),
            "description": "Shop API",
            "permission_mode": "plan",
            "allowed_tools": ["Read", "Bash(git log:*)"],
            "capabilities": ["sql", "orders"],
            "instructions": "Answer briefly.",
        })
    );
    assert_eq!(
        keys(&added),
        [
            "added",
            "directory",
            "description",
            "permission_mode",
            "allowed_tools",
            "capabilities",
            "instructions"
        ]
    );

    let (agents, is_error) = server.call(2, "list_agents", json!({}));
    assert!(!is_error, "{agents}");
    assert_eq!(agents[0]["name"], "api");
    assert_eq!(agents[0]["description"], "Shop API");

    let agent = stored(&sandbox, "api");
    assert_eq!(agent.directory, dir);
    assert_eq!(agent.timeout, 600);
    assert_eq!(agent.max_budget_usd, Some(1.5));
    assert_eq!(agent.model, None);
    assert_eq!(agent.permission_mode.as_deref(), Some("plan"));
    assert_eq!(
        agent.allowed_tools,
        Some(vec!["Read".to_owned(), "Bash(git log:*)".to_owned()])
    );
    assert_eq!(agent.disallowed_tools, None, "\"\" inherits the default");
    assert_eq!(agent.capabilities, ["sql", "orders"]);
    assert!(agent.risky_capabilities.is_empty());
    assert_eq!(agent.instructions, "Answer briefly.");
}

#[test]
fn add_agent_guesses_a_description_and_applies_the_defaults() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("api");
    std::fs::write(
        dir.join("CLAUDE.md"),
        "# API\nThe shop API.\nOrders live here.\n",
    )
    .unwrap();
    let mut server = serve(&sandbox);
    let (added, is_error) = server.call(
        1,
        "add_agent",
        json!({"name": "api", "directory": path_str(&dir), "allowed_tools": ","}),
    );
    assert!(!is_error, "{added}");
    assert_eq!(
        added,
        json!({"added": "api", "directory": path_str(&dir), "description": "The shop API. Orders live here."}),
        "an explicitly empty tool list is stored but not echoed"
    );
    let agent = stored(&sandbox, "api");
    assert_eq!(agent.description, "The shop API. Orders live here.");
    assert_eq!(agent.timeout, 300, "timeout 0 means 300");
    assert_eq!(agent.max_budget_usd, None, "budget 0 inherits");
    assert_eq!(agent.permission_mode, None);
    assert_eq!(
        agent.allowed_tools,
        Some(Vec::new()),
        "',' is explicit none"
    );
    assert_eq!(agent.instructions, "");
}

#[test]
fn add_agent_expands_tilde_and_resolves_symlinks() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("api");
    std::os::unix::fs::symlink(&dir, sandbox.dir.path().join("api-link")).unwrap();
    let mut command = sandbox.command();
    command.env("HOME", sandbox.dir.path());
    let mut server = Server::initialized(command);
    let (added, is_error) = server.call(
        1,
        "add_agent",
        json!({"name": "api", "directory": "~/api-link", "description": "x"}),
    );
    assert!(!is_error, "{added}");
    assert_eq!(added["directory"], path_str(&dir));
    assert_eq!(stored(&sandbox, "api").directory, dir);
}

#[test]
fn add_agent_refuses_bad_arguments_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("api");
    let file = dir.join("README.md");
    std::fs::write(&file, "not a directory").unwrap();
    let missing = dir.join("gone");
    let project = path_str(&dir);
    let mut server = serve(&sandbox);
    let cases: Vec<(Value, String)> = vec![
        (
            json!({"name": "bad name", "directory": project}),
            "Invalid agent name: 'bad name'. Use only letters, digits, hyphens, and underscores. Must start with a letter or digit.".into(),
        ),
        (
            json!({"name": "-api", "directory": project}),
            "Invalid agent name: '-api'.".into(),
        ),
        (
            json!({"name": "api", "directory": path_str(&missing)}),
            format!("directory '{}' is not an existing directory; create it or check the path.", missing.display()),
        ),
        (
            json!({"name": "api", "directory": path_str(&file)}),
            format!("directory '{}' is not an existing directory", file.display()),
        ),
        (
            json!({"name": "api", "directory": " "}),
            "directory must not be empty".into(),
        ),
        (
            json!({"name": "api", "directory": "~no-such-user-xyz/p"}),
            "directory '~no-such-user-xyz/p' cannot be resolved: '~no-such-user-xyz' names no user".into(),
        ),
        (
            json!({"name": "api", "directory": project, "timeout": -5}),
            "timeout must be between 1 and 604800 seconds (got -5).".into(),
        ),
        (
            json!({"name": "api", "directory": project, "timeout": 604_801}),
            "timeout must be between 1 and 604800 seconds (got 604801).".into(),
        ),
        (
            json!({"name": "api", "directory": project, "max_budget_usd": -1}),
            "max_budget_usd must be a finite number from 0 to 1000000 US dollars (got -1.0).".into(),
        ),
        (
            json!({"name": "api", "directory": project, "max_budget_usd": 2e6}),
            "max_budget_usd must be a finite number from 0 to 1000000 US dollars (got 2000000.0).".into(),
        ),
        (
            json!({"name": "api", "directory": project, "permission_mode": "--dangerously-skip-permissions"}),
            "permission_mode value '--dangerously-skip-permissions' must not start with '-'".into(),
        ),
        (
            json!({"name": "api", "directory": project, "allowed_tools": "Read,--evil"}),
            "allowed_tools value '--evil' must not start with '-'".into(),
        ),
        (
            json!({"name": "api", "directory": project, "disallowed_tools": "Bash\nWrite"}),
            "disallowed_tools value 'Bash\\nWrite' must not contain control characters".into(),
        ),
    ];
    for (id, (arguments, expected)) in (1..).zip(cases) {
        let (payload, is_error) = server.call(id, "add_agent", arguments.clone());
        assert!(is_error, "{arguments}: {payload}");
        assert_eq!(keys(&payload), ["error"], "{payload}");
        let message = payload["error"].as_str().unwrap();
        assert!(
            message.starts_with(&expected),
            "{arguments}\n got: {message}\nwant: {expected}"
        );
        assert!(!sandbox.config().exists(), "{arguments} wrote the config");
    }
}

#[test]
fn add_agent_refuses_undecodable_arguments_as_invalid_params() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("api");
    let mut server = serve(&sandbox);
    for (id, (arguments, named)) in (1..).zip([
        (
            json!({"name": "api", "directory": path_str(&project), "max_budget_usd": "NaN"}),
            "max_budget_usd",
        ),
        (
            json!({"name": "api", "directory": path_str(&project), "timeout": 1.5}),
            "timeout",
        ),
        (
            json!({"name": "api", "directory": path_str(&project), "model": "sonnet"}),
            "model",
        ),
        (json!({"name": "api"}), "directory"),
    ]) {
        let reply = server.request(
            id,
            "tools/call",
            json!({"name": "add_agent", "arguments": arguments}),
        );
        assert_eq!(reply["error"]["code"], -32602, "{reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{message}");
    }
    assert!(!sandbox.config().exists());
}

#[test]
fn add_agent_refuses_an_existing_name_and_leaves_the_file_alone() {
    let sandbox = Sandbox::new();
    let mut server = serve(&sandbox);
    add_api(&mut server, &sandbox);
    let before = sandbox.read_config();
    let other = sandbox.project("other");
    let (payload, is_error) = server.call(
        1,
        "add_agent",
        json!({"name": "api", "directory": path_str(&other), "description": "Other"}),
    );
    assert!(is_error);
    assert_eq!(
        payload,
        json!({"error": "Agent 'api' already exists. Remove it first."})
    );
    assert_eq!(sandbox.read_config(), before);
}

#[test]
fn add_agent_reports_an_unknown_permission_mode_but_saves_it() {
    let sandbox = Sandbox::new();
    // Granting is this test's setup, not its subject.
    let_mcp_grant(&sandbox);
    let dir = sandbox.project("api");
    let mut server = serve(&sandbox);
    let (added, is_error) = server.call(
        1,
        "add_agent",
        json!({"name": "api", "directory": path_str(&dir), "description": "x", "permission_mode": " yolo "}),
    );
    assert!(!is_error, "{added}");
    assert_eq!(added["permission_mode"], "yolo");
    assert_eq!(
        added["warnings"],
        json!([
            "Unknown permission_mode: 'yolo'. Known values: acceptEdits, auto, bypassPermissions, default, dontAsk, manual, plan"
        ])
    );
    assert_eq!(
        stored(&sandbox, "api").permission_mode.as_deref(),
        Some("yolo")
    );
}

#[test]
fn update_agent_applies_only_the_given_fields_in_the_original_order() {
    let sandbox = Sandbox::new();
    let mut server = serve(&sandbox);
    add_api(&mut server, &sandbox);
    let_mcp_grant(&sandbox);
    // Argument order is scrambled on purpose: `fields` follows the
    // original's order, not the caller's.
    let (updated, is_error) = server.call(
        1,
        "update_agent",
        json!({
            "instructions": "  Use UTC.  ",
            "risky_capabilities": "drop tables",
            "capabilities": "sql",
            "disallowed_tools": "Write",
            "allowed_tools": "Read,Grep",
            "permission_mode": "plan",
            "model": " sonnet ",
            "max_budget_usd": 2.5,
            "timeout": 900,
            "description": "Orders API",
            "name": "api",
        }),
    );
    assert!(!is_error, "{updated}");
    assert_eq!(
        updated,
        json!({"updated": "api", "fields": [
            "description", "timeout", "max_budget_usd", "model", "permission_mode",
            "allowed_tools", "disallowed_tools", "capabilities", "risky_capabilities",
            "instructions"
        ]})
    );
    let agent = stored(&sandbox, "api");
    assert_eq!(agent.description, "Orders API");
    assert_eq!(agent.timeout, 900);
    assert_eq!(agent.max_budget_usd, Some(2.5));
    assert_eq!(agent.model.as_deref(), Some("sonnet"));
    assert_eq!(agent.permission_mode.as_deref(), Some("plan"));
    assert_eq!(
        agent.allowed_tools,
        Some(vec!["Read".to_owned(), "Grep".to_owned()])
    );
    assert_eq!(agent.disallowed_tools, Some(vec!["Write".to_owned()]));
    assert_eq!(agent.capabilities, ["sql"]);
    assert_eq!(agent.risky_capabilities, ["drop tables"]);
    assert_eq!(agent.instructions, "Use UTC.");

    // Empty strings, timeout 0 and budget 0 mean "leave it alone".
    let (updated, is_error) = server.call(
        2,
        "update_agent",
        json!({"name": "api", "timeout": 60, "description": "", "model": "", "max_budget_usd": 0, "instructions": "   "}),
    );
    assert!(!is_error, "{updated}");
    assert_eq!(updated, json!({"updated": "api", "fields": ["timeout"]}));
    let after = stored(&sandbox, "api");
    assert_eq!(after.timeout, 60);
    assert_eq!(
        Agent {
            timeout: 900,
            ..after
        },
        agent
    );
}

#[test]
fn update_agent_none_clears_and_a_negative_budget_removes_the_cap() {
    let sandbox = Sandbox::new();
    let mut server = serve(&sandbox);
    add_api(&mut server, &sandbox);
    let_mcp_grant(&sandbox);
    let (set, is_error) = server.call(
        1,
        "update_agent",
        json!({"name": "api", "max_budget_usd": 3, "model": "opus", "permission_mode": "plan",
               "allowed_tools": "Read", "disallowed_tools": "Write", "capabilities": "sql",
               "risky_capabilities": "deploy", "instructions": "Be careful."}),
    );
    assert!(!is_error, "{set}");
    let (updated, is_error) = server.call(
        2,
        "update_agent",
        json!({"name": "api", "max_budget_usd": -1, "model": "None", "permission_mode": "none",
               "allowed_tools": "NONE", "disallowed_tools": " none ", "capabilities": "none",
               "risky_capabilities": "none", "instructions": " none "}),
    );
    assert!(!is_error, "{updated}");
    assert_eq!(updated["fields"].as_array().unwrap().len(), 8);
    let agent = stored(&sandbox, "api");
    assert_eq!(agent.max_budget_usd, None);
    assert_eq!(agent.model, None);
    assert_eq!(agent.permission_mode, None);
    assert_eq!(agent.allowed_tools, None, "none inherits the default again");
    assert_eq!(agent.disallowed_tools, None);
    assert!(agent.capabilities.is_empty());
    assert!(agent.risky_capabilities.is_empty());
    assert_eq!(agent.instructions, "");
    assert_eq!(agent.description, "Shop API", "not named, not touched");
}

#[test]
fn update_agent_refuses_bad_values_and_empty_updates_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let mut server = serve(&sandbox);
    add_api(&mut server, &sandbox);
    let before = sandbox.read_config();
    for (id, (arguments, expected)) in (1..).zip([
        (
            json!({"name": "api"}),
            "Nothing to update. Pass at least one non-empty field.",
        ),
        (
            json!({"name": "api", "description": "", "timeout": 0, "max_budget_usd": 0, "instructions": "  "}),
            "Nothing to update. Pass at least one non-empty field.",
        ),
        (
            json!({"name": "nope", "timeout": 60}),
            "Agent 'nope' not found. Available: api",
        ),
        (
            json!({"name": "api", "timeout": -1}),
            "timeout must be between 1 and 604800 seconds (got -1).",
        ),
        (
            json!({"name": "api", "timeout": 10_000_000}),
            "timeout must be between 1 and 604800 seconds (got 10000000).",
        ),
        (
            json!({"name": "api", "max_budget_usd": 1e7}),
            "max_budget_usd must be a finite number from 0 to 1000000 US dollars (got 10000000.0).",
        ),
        (
            json!({"name": "api", "model": "--dangerously-skip-permissions"}),
            "model value '--dangerously-skip-permissions' must not start with '-' (it would be read as a claude option).",
        ),
        (
            // Blank is "not given", like "".
            json!({"name": "api", "model": "  "}),
            "Nothing to update. Pass at least one non-empty field.",
        ),
        (
            json!({"name": "api", "model": "a\nb"}),
            "model value 'a\\nb' must not contain control characters such as newlines.",
        ),
        (
            json!({"name": "api", "permission_mode": "-x"}),
            "permission_mode value '-x' must not start with '-' (it would be read as a claude option).",
        ),
        (
            json!({"name": "api", "disallowed_tools": "Write, --allow-all"}),
            "disallowed_tools value '--allow-all' must not start with '-' (it would be read as a claude option).",
        ),
    ]) {
        let (payload, is_error) = server.call(id, "update_agent", arguments.clone());
        assert!(is_error, "{arguments}: {payload}");
        assert_eq!(payload, json!({"error": expected}), "{arguments}");
        assert_eq!(sandbox.read_config(), before, "{arguments} wrote the config");
    }
    let reply = server.request(
        99,
        "tools/call",
        json!({"name": "update_agent", "arguments": {"name": "api", "max_budget_usd": "-inf"}}),
    );
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    assert_eq!(sandbox.read_config(), before);
}

#[test]
fn update_agent_reports_an_unknown_permission_mode() {
    let sandbox = Sandbox::new();
    let mut server = serve(&sandbox);
    add_api(&mut server, &sandbox);
    let_mcp_grant(&sandbox);
    let (updated, is_error) = server.call(
        1,
        "update_agent",
        json!({"name": "api", "permission_mode": "dontAsk2"}),
    );
    assert!(!is_error, "{updated}");
    assert_eq!(
        updated,
        json!({"updated": "api", "fields": ["permission_mode"], "warnings": [
            "Unknown permission_mode: 'dontAsk2'. Known values: acceptEdits, auto, bypassPermissions, default, dontAsk, manual, plan"
        ]})
    );
    assert_eq!(
        stored(&sandbox, "api").permission_mode.as_deref(),
        Some("dontAsk2")
    );
}

#[test]
fn remove_agent_removes_it_and_then_the_name_is_unknown() {
    let sandbox = Sandbox::new();
    let mut server = serve(&sandbox);
    add_api(&mut server, &sandbox);
    let (removed, is_error) = server.call(1, "remove_agent", json!({"name": "api"}));
    assert!(!is_error, "{removed}");
    assert_eq!(removed, json!({"removed": "api"}));
    assert!(load(&sandbox).agents.is_empty());

    let (again, is_error) = server.call(2, "remove_agent", json!({"name": "api"}));
    assert!(is_error);
    assert_eq!(
        again,
        json!({"error": "Agent 'api' not found. Available: (none)"})
    );
    let (inspect, is_error) = server.call(3, "inspect_agent", json!({"name": "api"}));
    assert!(is_error);
    assert_eq!(
        inspect,
        json!({"error": "Unknown agent: 'api'. Available: (none configured)"})
    );
    let (update, is_error) = server.call(4, "update_agent", json!({"name": "api", "timeout": 5}));
    assert!(is_error);
    assert_eq!(
        update,
        json!({"error": "Agent 'api' not found. Available: (none)"})
    );
}

#[test]
fn remove_agent_names_groups_that_still_list_it() {
    let sandbox = Sandbox::new();
    let mut server = serve(&sandbox);
    add_api(&mut server, &sandbox);
    sandbox
        .run(&["group", "add", "shop", "--member", "api"])
        .ok();
    let (removed, is_error) = server.call(1, "remove_agent", json!({"name": "api"}));
    assert!(!is_error, "{removed}");
    assert_eq!(
        removed,
        json!({"removed": "api", "warnings": [
            "group 'shop' still lists 'api' as a member; update the group or edit agents.yaml"
        ]})
    );
    let config = load(&sandbox);
    assert!(config.agents.is_empty());
    assert!(config.groups["shop"].has_member("api"), "left as it was");
}

#[test]
fn a_change_drops_only_that_agents_cached_answers() {
    let sandbox = Sandbox::new();
    let fake = FakeClaude::new(&[]);
    let mut server = mcp_client::serve(&sandbox, fake.dir.path());
    add_api(&mut server, &sandbox);
    let web = sandbox.project("web");
    server.call(
        1,
        "add_agent",
        json!({"name": "web", "directory": path_str(&web), "description": "Web"}),
    );
    let ask_api = json!({"agent": "api", "task": "Count rows"});
    let ask_web = json!({"agent": "web", "task": "Count rows"});
    let (first, _) = server.call(2, "dispatch", ask_api.clone());
    assert_eq!(first.get("cached"), None, "{first}");
    server.call(3, "dispatch", ask_web.clone());
    let (second, _) = server.call(4, "dispatch", ask_api.clone());
    assert_eq!(second["cached"], true);
    assert_eq!(fake.invocations().len(), 2);

    // The description is not part of the cache key, so only the
    // invalidation can make the next dispatch run `claude` again.
    let (updated, is_error) = server.call(
        5,
        "update_agent",
        json!({"name": "api", "description": "Shop API v2"}),
    );
    assert!(!is_error, "{updated}");
    let (third, is_error) = server.call(6, "dispatch", ask_api);
    assert!(!is_error, "{third}");
    assert_eq!(third.get("cached"), None, "{third}");
    assert_eq!(fake.invocations().len(), 3, "api ran again");
    let (other, _) = server.call(7, "dispatch", ask_web);
    assert_eq!(other["cached"], true, "web's answer survives");
    assert_eq!(fake.invocations().len(), 3);
}

#[test]
fn a_broken_config_gives_the_same_envelope_as_the_reading_tools() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("api");
    sandbox.write_config("agents: [\n");
    let mut server = serve(&sandbox);
    let (expected, is_error) = server.call(1, "list_agents", json!({}));
    assert!(is_error);
    assert!(expected["hint"].is_string(), "{expected}");
    for (id, tool, arguments) in [
        (
            2,
            "add_agent",
            json!({"name": "api", "directory": path_str(&dir), "description": "x"}),
        ),
        (3, "update_agent", json!({"name": "api", "timeout": 60})),
        (4, "remove_agent", json!({"name": "api"})),
    ] {
        let (payload, is_error) = server.call(id, tool, arguments);
        assert!(is_error, "{tool}");
        assert_eq!(payload, expected, "{tool}");
    }
    assert_eq!(sandbox.read_config(), "agents: [\n");
}

#[test]
fn management_tools_are_listed_after_dispatch_and_before_cache_with_their_hints() {
    let sandbox = Sandbox::new();
    let mut server = serve(&sandbox);
    let reply = server.request(1, "tools/list", json!({}));
    let tools = reply["result"]["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let at = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .unwrap_or_else(|| panic!("{name} listed"))
    };
    assert!(at("dispatch_stream") < at("add_agent"));
    assert_eq!(at("update_agent"), at("add_agent") + 1);
    assert_eq!(at("remove_agent"), at("add_agent") + 2);
    assert!(at("remove_agent") < at("cache_stats"));

    let tool = |name: &str| &tools[at(name)];
    assert_eq!(tool("add_agent")["annotations"]["destructiveHint"], false);
    assert_eq!(
        tool("update_agent")["annotations"]["destructiveHint"],
        false
    );
    assert_eq!(tool("remove_agent")["annotations"]["destructiveHint"], true);
    assert_eq!(
        tool("add_agent")["inputSchema"]["required"],
        json!(["name", "directory"])
    );
    assert_eq!(
        keys(&tool("update_agent")["inputSchema"]["properties"]),
        [
            "name",
            "description",
            "backend",
            "timeout",
            "max_budget_usd",
            "model",
            "permission_mode",
            "allowed_tools",
            "disallowed_tools",
            "capabilities",
            "risky_capabilities",
            "instructions"
        ]
    );
    assert!(
        tool("add_agent")["inputSchema"]["properties"]
            .get("model")
            .is_none(),
        "add_agent takes no model, as in the original"
    );
}

#[test]
fn stored_texts_with_a_nul_are_refused_naming_the_field_and_nothing_is_written() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("web");
    let mut server = serve(&sandbox);
    add_api(&mut server, &sandbox);
    let before = sandbox.read_config();
    for (id, field) in (1..).zip([
        "description",
        "instructions",
        "capabilities",
        "risky_capabilities",
    ]) {
        let mut added = json!({"name": "web", "directory": path_str(&dir)});
        added[field] = json!("a\u{0}b");
        let (payload, is_error) = server.call(id, "add_agent", added);
        assert!(is_error, "add_agent {field}: {payload}");
        let message = payload["error"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{field} must not contain a NUL character")),
            "{message}"
        );
        let mut updated = json!({"name": "api"});
        updated[field] = json!("a\u{0}b");
        let (payload, is_error) = server.call(100 + id, "update_agent", updated);
        assert!(is_error, "update_agent {field}: {payload}");
        assert!(
            payload["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field} must not contain a NUL character")),
            "{payload}"
        );
        assert_eq!(sandbox.read_config(), before, "{field} wrote the config");
    }
}

/// Lets MCP callers grant permissions, as a user would by editing the
/// setting (in a fresh config, or in the one `add` wrote).
fn let_mcp_grant(sandbox: &Sandbox) {
    if sandbox.config().exists() {
        sandbox.edit_config("mcp_may_grant: false", "mcp_may_grant: true");
    } else {
        sandbox.write_config("settings:\n  mcp_may_grant: true\n");
    }
}

/// Asserts `payload` is a refusal naming `refused` and the `command` a
/// person runs instead.
#[track_caller]
fn assert_refused_grant(payload: &Value, refused: &str, command: &str) {
    let message = payload["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{payload}"));
    assert!(
        message.contains("may not raise the permissions"),
        "{message}"
    );
    assert!(message.contains(refused), "want {refused:?} in {message}");
    assert!(message.ends_with("; nothing was changed."), "{message}");
    let hint = payload["hint"]
        .as_str()
        .unwrap_or_else(|| panic!("{payload}"));
    assert!(
        hint.starts_with(&format!("Ask the user to run: {command} (or ")),
        "want {command:?} in {hint}"
    );
    assert!(hint.contains("`mcp_may_grant: true`"), "{hint}");
}

#[test]
fn update_agent_may_not_raise_an_agents_permissions() {
    let sandbox = Sandbox::new();
    sandbox.add_agent("api", "Shop API");
    sandbox
        .run(&[
            "update",
            "api",
            "--permission-mode",
            "plan",
            "--allowed-tools",
            "Read",
            "--disallowed-tools",
            "Write,Bash(rm *)",
        ])
        .ok();
    let mut server = serve(&sandbox);
    let before = sandbox.read_config();
    for (id, (arguments, refused, command)) in (1..).zip([
        (
            json!({"name": "api", "permission_mode": "bypassPermissions"}),
            "permission_mode 'plan' -> 'bypassPermissions'",
            "agent-dispatch update api --permission-mode bypassPermissions",
        ),
        (
            json!({"name": "api", "permission_mode": "default"}),
            "permission_mode 'plan' -> 'default'",
            "agent-dispatch update api --permission-mode default",
        ),
        (
            json!({"name": "api", "permission_mode": "none"}),
            "permission_mode 'plan' -> 'default'",
            "agent-dispatch update api --permission-mode none",
        ),
        (
            // A mode we do not know may allow anything.
            json!({"name": "api", "permission_mode": "yolo"}),
            "permission_mode 'plan' -> 'yolo'",
            "agent-dispatch update api --permission-mode yolo",
        ),
        (
            json!({"name": "api", "allowed_tools": "Read,Bash(git *),Write"}),
            "allowed_tools gains 'Bash(git *)', 'Write'",
            "agent-dispatch update api --allowed-tools 'Read,Bash(git *),Write'",
        ),
        (
            json!({"name": "api", "disallowed_tools": "Write"}),
            "disallowed_tools loses 'Bash(rm *)'",
            "agent-dispatch update api --disallowed-tools Write",
        ),
        (
            json!({"name": "api", "disallowed_tools": "none"}),
            "disallowed_tools loses 'Write', 'Bash(rm *)'",
            "agent-dispatch update api --disallowed-tools none",
        ),
        (
            json!({"name": "api", "description": "also changed", "permission_mode": "acceptEdits", "allowed_tools": "Read,Edit"}),
            "permission_mode 'plan' -> 'acceptEdits'; allowed_tools gains 'Edit'",
            "agent-dispatch update api --permission-mode acceptEdits --allowed-tools Read,Edit",
        ),
    ]) {
        let (payload, is_error) = server.call(id, "update_agent", arguments.clone());
        assert!(is_error, "{arguments}: {payload}");
        assert_refused_grant(&payload, refused, command);
        assert_eq!(sandbox.read_config(), before, "{arguments} wrote the config");
    }
}

#[test]
fn add_agent_may_not_grant_more_than_a_new_agent_gets() {
    let sandbox = Sandbox::new();
    sandbox.add_agent("api", "Shop API");
    let root = "/";
    let mut server = serve(&sandbox);
    let before = sandbox.read_config();
    for (id, (arguments, refused, command)) in (1..).zip([
        (
            json!({"name": "root", "directory": root, "permission_mode": "bypassPermissions", "allowed_tools": "Bash,Write,Edit"}),
            "permission_mode 'default' -> 'bypassPermissions'; allowed_tools gains 'Bash', 'Write', 'Edit'",
            "agent-dispatch add root / --permission-mode bypassPermissions --allowed-tools Bash,Write,Edit",
        ),
        (
            json!({"name": "root", "directory": root, "permission_mode": "acceptEdits"}),
            "permission_mode 'default' -> 'acceptEdits'",
            "agent-dispatch add root / --permission-mode acceptEdits",
        ),
        (
            // An allowed_tools list pre-approves tools: a new agent without
            // one has none pre-approved.
            json!({"name": "root", "directory": root, "allowed_tools": "Read"}),
            "allowed_tools gains 'Read'",
            "agent-dispatch add root / --allowed-tools Read",
        ),
    ]) {
        let (payload, is_error) = server.call(id, "add_agent", arguments.clone());
        assert!(is_error, "{arguments}: {payload}");
        assert_refused_grant(&payload, refused, command);
        assert_eq!(sandbox.read_config(), before, "{arguments} wrote the config");
    }
}

#[test]
fn lowering_permissions_over_mcp_is_allowed() {
    let sandbox = Sandbox::new();
    sandbox.add_agent("api", "Shop API");
    sandbox
        .run(&[
            "update",
            "api",
            "--permission-mode",
            "bypassPermissions",
            "--allowed-tools",
            "Read,Bash",
        ])
        .ok();
    let mut server = serve(&sandbox);
    let (updated, is_error) = server.call(
        1,
        "update_agent",
        json!({"name": "api", "permission_mode": "plan", "allowed_tools": "Read,Bash(git log:*)", "disallowed_tools": "Write"}),
    );
    assert!(!is_error, "{updated}");
    let agent = stored(&sandbox, "api");
    assert_eq!(agent.permission_mode.as_deref(), Some("plan"));
    assert_eq!(
        agent.allowed_tools,
        Some(vec!["Read".to_owned(), "Bash(git log:*)".to_owned()])
    );
    assert_eq!(agent.disallowed_tools, Some(vec!["Write".to_owned()]));
    // An explicit empty list pre-approves nothing.
    let (updated, is_error) = server.call(
        2,
        "update_agent",
        json!({"name": "api", "allowed_tools": ","}),
    );
    assert!(!is_error, "{updated}");
    assert_eq!(stored(&sandbox, "api").allowed_tools, Some(vec![]));

    let dir = sandbox.project("docs");
    let (added, is_error) = server.call(
        3,
        "add_agent",
        json!({"name": "docs", "directory": path_str(&dir), "description": "Docs", "permission_mode": "plan", "allowed_tools": ",", "disallowed_tools": "Bash"}),
    );
    assert!(!is_error, "{added}");
    assert_eq!(
        stored(&sandbox, "docs").permission_mode.as_deref(),
        Some("plan")
    );
}

#[test]
fn mcp_may_grant_lets_mcp_callers_raise_permissions() {
    let sandbox = Sandbox::new();
    sandbox.add_agent("api", "Shop API");
    let_mcp_grant(&sandbox);
    let mut server = serve(&sandbox);
    let (updated, is_error) = server.call(
        1,
        "update_agent",
        json!({"name": "api", "permission_mode": "bypassPermissions", "allowed_tools": "Bash"}),
    );
    assert!(!is_error, "{updated}");
    assert_eq!(
        stored(&sandbox, "api").permission_mode.as_deref(),
        Some("bypassPermissions")
    );
    let (added, is_error) = server.call(
        2,
        "add_agent",
        json!({"name": "root", "directory": "/", "description": "x", "permission_mode": "bypassPermissions"}),
    );
    assert!(!is_error, "{added}");
}

#[test]
fn the_cli_grants_permissions_whatever_mcp_may_grant_says() {
    let sandbox = Sandbox::new();
    sandbox.add_agent("api", "Shop API");
    assert!(sandbox.read_config().contains("mcp_may_grant: false"));
    sandbox
        .run(&[
            "update",
            "api",
            "--permission-mode",
            "bypassPermissions",
            "--allowed-tools",
            "Bash,Write",
            "--disallowed-tools",
            "none",
        ])
        .ok();
    let agent = stored(&sandbox, "api");
    assert_eq!(agent.permission_mode.as_deref(), Some("bypassPermissions"));
    assert_eq!(
        agent.allowed_tools,
        Some(vec!["Bash".to_owned(), "Write".to_owned()])
    );
    let dir = sandbox.project("web");
    sandbox
        .run(&[
            "add",
            "web",
            path_str(&dir),
            "-d",
            "x",
            "--permission-mode",
            "acceptEdits",
        ])
        .ok();
    assert_eq!(
        stored(&sandbox, "web").permission_mode.as_deref(),
        Some("acceptEdits")
    );
}

/// The message a CLI command line is refused with, without `error: ` and
/// the hint.
fn cli_refusal(sandbox: &Sandbox, args: &[&str]) -> String {
    let err = sandbox.run(args).fails(2);
    let message = err.strip_prefix("error: ").unwrap_or(&err);
    message.split("\nhint: ").next().unwrap().to_owned()
}

#[test]
fn the_cli_and_mcp_refuse_the_same_bad_value_with_the_same_words() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("web");
    let gone = dir.join("gone");
    let mut server = serve(&sandbox);
    add_api(&mut server, &sandbox);
    let before = sandbox.read_config();
    // (CLI argv, its name for the field, MCP tool, arguments, its name)
    let cases: Vec<(Vec<&str>, &str, &str, Value, &str)> = vec![
        (
            vec!["update", "api", "--timeout", "604801"],
            "--timeout",
            "update_agent",
            json!({"name": "api", "timeout": 604_801}),
            "timeout",
        ),
        (
            vec!["add", "web", path_str(&dir), "--timeout", "-5"],
            "--timeout",
            "add_agent",
            json!({"name": "web", "directory": path_str(&dir), "timeout": -5}),
            "timeout",
        ),
        (
            vec!["add", "web", path_str(&dir), "--max-budget", "2000000"],
            "--max-budget",
            "add_agent",
            json!({"name": "web", "directory": path_str(&dir), "max_budget_usd": 2e6}),
            "max_budget_usd",
        ),
        (
            vec!["update", "api", "--model", "--dangerously-skip-permissions"],
            "--model",
            "update_agent",
            json!({"name": "api", "model": "--dangerously-skip-permissions"}),
            "model",
        ),
        (
            vec!["add", "web", path_str(&gone)],
            "DIRECTORY",
            "add_agent",
            json!({"name": "web", "directory": path_str(&gone)}),
            "directory",
        ),
    ];
    for (id, (argv, cli_name, tool, arguments, mcp_name)) in (1..).zip(cases) {
        let cli = cli_refusal(&sandbox, &argv);
        let (payload, is_error) = server.call(id, tool, arguments.clone());
        assert!(is_error, "{arguments}: {payload}");
        let mcp = payload["error"].as_str().unwrap();
        assert!(mcp.starts_with(mcp_name), "{mcp}");
        assert_eq!(
            cli,
            format!("{cli_name}{}", &mcp[mcp_name.len()..]),
            "{argv:?} / {arguments}"
        );
        assert_eq!(sandbox.read_config(), before, "{argv:?} wrote the config");
    }

    // argv cannot carry a NUL, so the CLI side is the parser the binary runs.
    let argv = ["add", "web", path_str(&dir), "--instructions", "a\0b"];
    let cli = agent_dispatch::cli::parse(argv.iter().map(Into::into).collect())
        .expect_err("a NUL is refused")
        .to_string();
    let (payload, _) = server.call(
        99,
        "add_agent",
        json!({"name": "web", "directory": path_str(&dir), "instructions": "a\u{0}b"}),
    );
    let mcp = payload["error"].as_str().unwrap();
    assert_eq!(cli, format!("--{mcp}"));
    assert!(
        cli.starts_with("--instructions must not contain a NUL character"),
        "{cli}"
    );
}
