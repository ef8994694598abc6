//! Interoperability with the Python original (agent-dispatch 0.16.0) on one
//! shared config file: it reads what we write, we read what it writes, and
//! the two tools' writers honour one lock. `.ci/run` installs the original
//! into a venv and runs these with `--ignored`; without the original they
//! fail rather than pass vacuously.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use agent_dispatch::config::{Config, store};
use serde_json::{Value, json};
use support::{Sandbox, path_str};

/// The venv `bin` directory holding the original's `agent-dispatch` and its
/// `python`.
fn original_bin() -> PathBuf {
    let dir = std::env::var_os("AGENT_DISPATCH_ORIGINAL_BIN").expect(
        "AGENT_DISPATCH_ORIGINAL_BIN must name the venv bin dir of the Python original (see .ci/run)",
    );
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("agent-dispatch").is_file(),
        "no agent-dispatch in {}",
        dir.display()
    );
    dir
}

fn original(sandbox: &Sandbox, args: &[&str]) -> String {
    let out = Command::new(original_bin().join("agent-dispatch"))
        .args(args)
        .env("AGENT_DISPATCH_CONFIG", sandbox.config())
        .env("NO_COLOR", "1")
        .output()
        .expect("run the original");
    assert!(
        out.status.success(),
        "original {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The config as the original's own loader sees it, as JSON.
fn loaded_by_original(path: &Path) -> Value {
    let script = "import json, sys; from pathlib import Path; from agent_dispatch.config import load_config; \
                  print(json.dumps(load_config(Path(sys.argv[1])).model_dump(mode='json')))";
    let out = Command::new(original_bin().join("python"))
        .args(["-c", script, path_str(path)])
        .output()
        .expect("run the original's python");
    assert!(
        out.status.success(),
        "original could not load our config:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json from python")
}

/// Our view of the same config in the original's model_dump shape.
fn as_original_dump(config: &Config) -> Value {
    let agents: serde_json::Map<String, Value> = config
        .agents
        .iter()
        .map(|(name, a)| {
            (
                name.clone(),
                json!({
                    "directory": path_str(&a.directory), "description": a.description, "timeout": a.timeout,
                    "max_budget_usd": a.max_budget_usd, "model": a.model, "permission_mode": a.permission_mode,
                    "allowed_tools": a.allowed_tools, "disallowed_tools": a.disallowed_tools,
                    "capabilities": a.capabilities, "risky_capabilities": a.risky_capabilities,
                    "instructions": a.instructions,
                }),
            )
        })
        .collect();
    let groups: serde_json::Map<String, Value> = config
        .groups
        .iter()
        .map(|(name, g)| {
            let members: Vec<Value> = g.members.iter().map(|m| json!({"agent": m.agent, "use_for": m.use_for})).collect();
            (name.clone(), json!({"description": g.description, "shared_context": g.shared_context, "members": members}))
        })
        .collect();
    let s = &config.settings;
    json!({
        "agents": agents,
        "groups": groups,
        "settings": {
            "default_timeout": s.default_timeout, "default_max_budget_usd": s.default_max_budget_usd,
            "default_permission_mode": s.default_permission_mode, "default_allowed_tools": s.default_allowed_tools,
            "default_disallowed_tools": s.default_disallowed_tools, "max_dispatch_depth": s.max_dispatch_depth,
            "max_concurrency": s.max_concurrency,
            "cache": {"enabled": s.cache.enabled, "ttl": s.cache.ttl, "max_size": s.cache.max_size},
            "job_retention_days": s.job_retention_days, "dispatch_protocol": s.dispatch_protocol, "usage_log": s.usage_log,
        },
    })
}

#[test]
#[ignore = "needs the Python original; .ci/run installs it and runs this"]
fn the_original_loads_exactly_what_we_write() {
    let sandbox = Sandbox::new();
    let web = sandbox.project("проект web");
    let api = sandbox.project("api");
    std::fs::write(api.join("CLAUDE.md"), "API").unwrap();
    let tricky = [
        "yes",
        "no",
        "y",
        "on",
        "300",
        "1.5",
        "~",
        "null",
        "- dash",
        "# hash",
        "a: b",
        "'single'",
        "\"double\"",
        " padded ",
        "tab\there",
        "ünïcödé — ok",
        "trailing newline\n",
        "line1\n  line2",
        "@at",
        "*star",
        "&amp",
        "!bang",
        "%pc",
        "[x]",
        "{y}",
        "a #b",
    ];
    for (i, text) in tricky.iter().enumerate() {
        sandbox
            .run(&["add", &format!("t{i}"), path_str(&web), "-d", text])
            .ok();
    }
    sandbox
        .run(&[
            "add",
            "api",
            path_str(&api),
            "-d",
            "API",
            "--timeout",
            "900",
            "--model",
            "sonnet",
            "--max-budget",
            "0.00001",
            "--permission-mode",
            "bypassPermissions",
            "--allowed-tools",
            "Read, Bash(git log:*)",
            "--disallowed-tools",
            ",",
            "--capabilities",
            "sql,logs",
            "--risky-capabilities",
            "writes",
            "--instructions",
            "Never push.\nAsk nobody.",
        ])
        .ok();
    sandbox
        .run(&[
            "group",
            "add",
            "g",
            "-d",
            "desc: colon",
            "--shared-context",
            "fact one\n\nfact two\n",
            "--member",
            "api",
            "--member",
            "t0",
        ])
        .ok();

    let ours = store::load(&sandbox.config()).unwrap();
    assert_eq!(
        loaded_by_original(&sandbox.config()),
        as_original_dump(&ours)
    );
    // Their CLI sees what ours shows.
    assert_eq!(
        original(&sandbox, &["describe", "api"]),
        sandbox.run(&["describe", "api"]).ok()
    );
    // One deliberate difference: a one-line field shows its control
    // characters escaped where the original printed them raw (SECURITY.md,
    // "Terminal output").
    let mut their_list = original(&sandbox, &["list"]);
    for (raw, shown) in [
        ("tab\there", r"tab\there"),
        ("trailing newline\n", r"trailing newline\n"),
        ("line1\n  line2", r"line1\n  line2"),
    ] {
        their_list = their_list.replace(&format!("desc: {raw}\n"), &format!("desc: {shown}\n"));
    }
    assert_eq!(their_list, sandbox.run(&["list"]).ok());
    assert_eq!(
        original(&sandbox, &["group", "list"]),
        sandbox.run(&["group", "list"]).ok()
    );
    assert_eq!(
        original(&sandbox, &["group", "inspect", "g"]),
        sandbox.run(&["group", "inspect", "g"]).ok()
    );
    sandbox.run(&["group", "add", "bare"]).ok();
    assert_eq!(
        original(&sandbox, &["group", "inspect", "bare"]),
        sandbox.run(&["group", "inspect", "bare"]).ok()
    );
}

#[test]
#[ignore = "needs the Python original; .ci/run installs it and runs this"]
fn we_load_exactly_what_the_original_writes() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("p");
    original(
        &sandbox,
        &[
            "add",
            "a",
            path_str(&dir),
            "-d",
            "Long text that PyYAML will fold across more than one line because it is well over eighty characters: yes",
            "--max-budget",
            "2",
            "--allowed-tools",
            ",",
        ],
    );
    original(
        &sandbox,
        &[
            "add",
            "b",
            path_str(&dir),
            "-d",
            "yes",
            "--instructions",
            "x\n  y: z",
        ],
    );
    original(
        &sandbox,
        &[
            "group",
            "add",
            "g",
            "--shared-context",
            "a\nb\n",
            "--member",
            "a",
        ],
    );
    original(&sandbox, &["update", "a", "--model", "opus"]);
    let ours = store::load(&sandbox.config()).expect("we load the original's file");
    assert_eq!(
        as_original_dump(&ours),
        loaded_by_original(&sandbox.config())
    );
    assert_eq!(ours.agents["a"].model.as_deref(), Some("opus"));
    assert_eq!(ours.agents["a"].allowed_tools, Some(vec![]));
}

#[test]
#[ignore = "needs the Python original; .ci/run installs it and runs this"]
fn both_tools_adding_at_once_lose_nothing() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("p");
    let script = |bin: &Path, prefix: &str| {
        format!(
            "for i in $(seq 1 15); do '{}' add {prefix}-$i '{}' -d x >/dev/null || exit 1; done",
            bin.display(),
            dir.display()
        )
    };
    let spawn = |script: String| {
        Command::new("sh")
            .args(["-c", &script])
            .env("AGENT_DISPATCH_CONFIG", sandbox.config())
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut theirs = spawn(script(&original_bin().join("agent-dispatch"), "py"));
    let mut ours = spawn(script(Path::new(support::BIN), "rs"));
    assert!(theirs.wait().unwrap().success());
    assert!(ours.wait().unwrap().success());
    let config = store::load(&sandbox.config()).unwrap();
    for prefix in ["py", "rs"] {
        for i in 1..=15 {
            assert!(
                config.agents.contains_key(&format!("{prefix}-{i}")),
                "{prefix}-{i} lost"
            );
        }
    }
}

#[test]
#[ignore = "needs the Python original; .ci/run installs it and runs this"]
fn job_history_is_shared_both_ways() {
    use agent_dispatch::jobs::JobStore;
    use agent_dispatch::runner::DispatchResult;

    let sandbox = Sandbox::new();
    let jobs_dir = sandbox.config().parent().unwrap().join("jobs");
    // Ours, read by the original.
    let store = JobStore::new(jobs_dir.clone());
    let mut result = DispatchResult::new("api", true);
    result.result = "данные ok".into();
    result.cost_usd = Some(0.25);
    let ours = store
        .create_completed("api", "count rows", &result, Some("ctx".into()), None, None)
        .unwrap();
    let pending = store
        .create("web", "later", None, Some("caller".into()), None, None)
        .unwrap();
    let listed: Value = serde_json::from_str(&original(&sandbox, &["jobs", "--json"]))
        .expect("original lists our jobs");
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&ours.id.as_str()) && ids.contains(&pending.id.as_str()),
        "{listed}"
    );
    let shown: Value =
        serde_json::from_str(&original(&sandbox, &["job", &ours.id, "--json"])).unwrap();
    assert_eq!(shown["result"]["result"], "данные ok");
    assert_eq!(shown["status"], "done");

    // Theirs, read by us.
    let script = "import sys; from pathlib import Path; from agent_dispatch.jobs import JobStore; \
                  from agent_dispatch.models import DispatchResult; \
                  s = JobStore(Path(sys.argv[1])); j = s.create('api', 'from python', context='c', caller='k', goal='g'); \
                  s.mark_running(j.id); s.finish(j.id, DispatchResult(agent='api', success=True, result='py answer', cost_usd=0.5)); \
                  print(j.id)";
    let out = Command::new(original_bin().join("python"))
        .args(["-c", script, path_str(&jobs_dir)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let job = store
        .get(&theirs)
        .unwrap()
        .expect("we read the original's record");
    assert_eq!(job.status.as_str(), "done");
    assert_eq!(job.result.as_ref().unwrap().result, "py answer");
    assert_eq!(
        (
            job.context.as_deref(),
            job.caller.as_deref(),
            job.goal.as_deref()
        ),
        (Some("c"), Some("k"), Some("g"))
    );
    let cli = sandbox.run(&["job", &theirs, "--json"]).json();
    assert_eq!(cli["result"]["cost_usd"], 0.5);
}

#[test]
#[ignore = "needs the Python original; .ci/run installs it and runs this"]
fn the_original_reads_a_config_with_backends_and_we_keep_them() {
    let sandbox = Sandbox::new();
    let cx = sandbox.project("cx");
    let api = sandbox.project("api");
    sandbox
        .run(&[
            "add",
            "cx",
            path_str(&cx),
            "-d",
            "Codex side",
            "--backend",
            "codex",
        ])
        .ok();
    sandbox
        .run(&["add", "api", path_str(&api), "-d", "API"])
        .ok();
    sandbox.edit_config("settings:\n", "settings:\n  default_backend: claude\n");
    let ours = store::load(&sandbox.config()).unwrap();
    assert_eq!(
        ours.agents["cx"].backend,
        Some(agent_dispatch::config::BackendName::Codex)
    );
    // The original ignores the keys it does not know and sees the rest
    // exactly as we do.
    assert_eq!(
        loaded_by_original(&sandbox.config()),
        as_original_dump(&ours)
    );
    let listed = original(&sandbox, &["list"]);
    assert!(listed.contains("cx") && listed.contains("api"), "{listed}");
    // We keep the key through our own rewrites.
    sandbox.run(&["update", "api", "--timeout", "60"]).ok();
    let after = store::load(&sandbox.config()).unwrap();
    assert_eq!(
        after.agents["cx"].backend,
        Some(agent_dispatch::config::BackendName::Codex)
    );
    assert_eq!(
        after.settings.default_backend,
        Some(agent_dispatch::config::BackendName::Claude)
    );
}
