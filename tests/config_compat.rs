//! The config file is shared with the Python original: what it writes, we
//! read in full; what we write keeps everything, including keys we do not
//! know.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

mod support;

use std::path::Path;

use agent_dispatch::config::store;
use support::Sandbox;

const PYYAML_WRITTEN: &str = include_str!("../fixtures/config/pyyaml-written.yaml");

#[test]
fn a_config_written_by_the_original_loads_with_every_value() {
    let config = store::parse(Path::new("fixture"), PYYAML_WRITTEN.as_bytes()).unwrap();
    assert_eq!(
        config.agents.keys().collect::<Vec<_>>(),
        ["web", "api", "ops_2", "notes"]
    );

    let web = &config.agents["web"];
    assert_eq!(web.directory, Path::new("/srv/projects/web"));
    assert_eq!(
        web.description,
        "Shop front-end: the customer-facing site with 'quotes' and \"double\" — ünïcödé"
    );
    assert_eq!(web.timeout, 600);
    assert_eq!(web.max_budget_usd, Some(1.5));
    assert_eq!(web.model.as_deref(), Some("sonnet"));
    assert_eq!(web.permission_mode.as_deref(), Some("plan"));
    assert_eq!(
        web.allowed_tools,
        Some(vec!["Read".into(), "Bash(git log:*)".into()])
    );
    assert_eq!(web.disallowed_tools, None);
    assert_eq!(web.capabilities, ["frontend", "css"]);
    assert_eq!(
        web.instructions,
        "Line one\n  Line two: with colon\nNever push."
    );

    let api = &config.agents["api"];
    assert!(
        api.description
            .ends_with("PyYAML folds it across lines: yes"),
        "{}",
        api.description
    );
    assert_eq!(api.timeout, 0);
    assert_eq!(api.disallowed_tools, Some(vec![]));
    assert_eq!(api.risky_capabilities, ["db-writes"]);

    let ops = &config.agents["ops_2"];
    assert_eq!(ops.directory, Path::new("/srv/projects/проект"));
    assert_eq!(ops.description, "yes");
    assert_eq!(ops.max_budget_usd, Some(0.0));
    assert_eq!(ops.allowed_tools, Some(vec![]));
    assert_eq!(
        ops.disallowed_tools,
        Some(vec!["WebFetch".into(), "Bash(rm:*)".into()])
    );
    assert_eq!(config.agents["notes"].max_budget_usd, Some(1e-5));
    assert_eq!(config.agents["notes"].instructions, "#1 rule: be brief");

    let backend = &config.groups["backend"];
    assert_eq!(backend.shared_context, "Prod DB is read-only.\nUse UTC.\n");
    let members: Vec<_> = backend
        .members
        .iter()
        .map(|m| (m.agent.as_str(), m.use_for.as_str()))
        .collect();
    assert_eq!(
        members,
        [
            ("api", "HTTP API and its logs"),
            ("ops_2", ""),
            ("gone", "")
        ]
    );
    assert!(config.groups["empty"].members.is_empty());

    let s = &config.settings;
    assert_eq!(s.default_timeout, 450);
    assert_eq!(s.default_max_budget_usd, Some(2.5));
    assert_eq!(s.default_permission_mode.as_deref(), Some("default"));
    assert_eq!(s.default_allowed_tools, ["Read", "Grep"]);
    assert_eq!(s.default_disallowed_tools, ["Bash(curl:*)"]);
    assert_eq!((s.max_dispatch_depth, s.max_concurrency), (2, 8));
    assert!(!s.cache.enabled);
    assert_eq!((s.cache.ttl, s.cache.max_size), (60, 50));
    assert_eq!(s.job_retention_days, 14);
    assert!(!s.dispatch_protocol && !s.usage_log);
}

#[test]
fn saving_and_reloading_the_original_s_config_changes_nothing() {
    let config = store::parse(Path::new("fixture"), PYYAML_WRITTEN.as_bytes()).unwrap();
    let sandbox = Sandbox::new();
    store::save(&sandbox.config(), &config).unwrap();
    assert_eq!(store::load(&sandbox.config()).unwrap(), config);
}

#[test]
fn a_cli_edit_keeps_every_other_value_and_unknown_keys() {
    let sandbox = Sandbox::new();
    let with_unknown = PYYAML_WRITTEN
        .replace(
            "settings:\n",
            "x_future: {keep: me}\nsettings:\n  x_new_setting: 7\n",
        )
        .replace(
            "    timeout: 600\n",
            "    timeout: 600\n    x_agent_note: hand-written\n",
        );
    sandbox.write_config(&with_unknown);
    let before = store::load(&sandbox.config()).unwrap();

    sandbox
        .run(&["update", "web", "--description", "changed"])
        .ok();

    let mut after = store::load(&sandbox.config()).unwrap();
    assert_eq!(after.agents["web"].description, "changed");
    after.agents.get_mut("web").unwrap().description = before.agents["web"].description.clone();
    assert_eq!(after, before);
    let text = sandbox.read_config();
    assert!(
        text.contains("x_future:") && text.contains("keep: me"),
        "{text}"
    );
    assert!(text.contains("x_new_setting: 7"), "{text}");
    assert!(text.contains("x_agent_note: hand-written"), "{text}");
    let agents_at = text.find("agents:").unwrap();
    assert!(text.find("web:").unwrap() > agents_at);
    assert!(text.find("web:").unwrap() < text.find("api:").unwrap());
    assert!(text.find("api:").unwrap() < text.find("ops_2:").unwrap());
}

#[test]
fn a_fresh_config_writes_every_setting_with_its_default() {
    let sandbox = Sandbox::new();
    let project = sandbox.project("p");
    sandbox
        .run(&["add", "p", support::path_str(&project), "-d", "x"])
        .ok();
    let text = sandbox.read_config();
    for line in [
        "  default_timeout: 300",
        "  default_allowed_tools: []",
        "  default_disallowed_tools: []",
        "  max_dispatch_depth: 3",
        "  max_concurrency: 5",
        "    enabled: true",
        "    ttl: 300",
        "    max_size: 1000",
        "  job_retention_days: 0",
        "  dispatch_protocol: true",
        "  usage_log: true",
        "  mcp_may_grant: false",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(
        !text.contains("groups:"),
        "empty groups are pruned:\n{text}"
    );
}
