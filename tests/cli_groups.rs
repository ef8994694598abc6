//! `group add|list|inspect|update|remove` through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

mod support;

use agent_dispatch::config::store;
use support::{Sandbox, path_str};

fn sandbox_with_agents(names: &[&str]) -> Sandbox {
    let sandbox = Sandbox::new();
    for name in names {
        sandbox.add_agent(name, &format!("{name} agent"));
    }
    sandbox
}

#[test]
fn add_creates_a_group_of_existing_agents() {
    let sandbox = sandbox_with_agents(&["api", "db"]);
    let out = sandbox
        .run(&[
            "group",
            "add",
            "backend",
            "-d",
            "Backend",
            "--shared-context",
            "Prod is read-only.",
            "--member",
            "api",
            "--member",
            "db",
        ])
        .ok();
    assert_eq!(out, "Added group 'backend' (2 member(s)).\n");
    let group = store::load(&sandbox.config()).unwrap().groups["backend"].clone();
    assert_eq!(group.description, "Backend");
    assert_eq!(group.shared_context, "Prod is read-only.");
    assert_eq!(
        group
            .members
            .iter()
            .map(|m| m.agent.as_str())
            .collect::<Vec<_>>(),
        ["api", "db"]
    );
}

#[test]
fn add_refuses_unknown_members_duplicates_and_bad_names() {
    let sandbox = sandbox_with_agents(&["api"]);
    let err = sandbox
        .run(&["group", "add", "g", "--member", "api", "--member", "nope"])
        .fails(1);
    assert!(
        err.starts_with("error: --member 'nope': no such agent\nhint: add the agent first"),
        "{err}"
    );
    assert!(store::load(&sandbox.config()).unwrap().groups.is_empty());

    let err = sandbox.run(&["group", "add", "bad.name"]).fails(2);
    assert!(err.contains("Invalid group name: 'bad.name'"), "{err}");

    sandbox.run(&["group", "add", "g"]).ok();
    let err = sandbox
        .run(&["group", "add", "g", "--member", "api"])
        .fails(1);
    assert!(err.contains("group 'g' already exists"), "{err}");
}

#[test]
fn an_empty_group_is_allowed_with_a_warning() {
    let sandbox = sandbox_with_agents(&[]);
    let run = sandbox.run(&["group", "add", "later"]);
    assert_eq!(run.ok(), "Added group 'later' (0 member(s)).\n");
    assert!(
        run.stderr()
            .starts_with("warning: group has no members yet"),
        "{}",
        run.stderr()
    );
}

#[test]
fn list_and_inspect_flag_unknown_members() {
    let sandbox = sandbox_with_agents(&["api", "db"]);
    sandbox
        .run(&[
            "group",
            "add",
            "backend",
            "-d",
            "Backend",
            "--shared-context",
            "line 1\nline 2",
            "--member",
            "api",
            "--member",
            "db",
        ])
        .ok();
    sandbox.run(&["remove", "db"]).ok();
    assert_eq!(
        sandbox.run(&["group", "list"]).ok(),
        "  backend (2 member(s))\n    desc: Backend\n    members: api, db(unknown)\n    shared context: yes\n\n"
    );
    assert_eq!(
        sandbox.run(&["group", "inspect", "backend"]).ok(),
        "backend\n  description:    Backend\n  shared_context:\n    line 1\n    line 2\n  members (2):\n    - api\n    - db (unknown)\n"
    );
    let listed = sandbox.run(&["group", "list", "--json"]).json();
    assert_eq!(
        listed,
        serde_json::json!([{
            "name": "backend", "description": "Backend", "shared_context_present": true, "member_count": 2,
            "members": [{"agent": "api", "healthy": true}, {"agent": "db", "unknown": true}],
        }])
    );
    let inspected = sandbox
        .run(&["group", "inspect", "backend", "--json"])
        .json();
    assert_eq!(inspected["shared_context"], "line 1\nline 2");
    assert_eq!(
        inspected["members"][0]["directory"],
        path_str(&sandbox.project("api"))
    );
    assert_eq!(inspected["members"][0]["description"], "api agent");
    assert_eq!(
        inspected["members"][1],
        serde_json::json!({"agent": "db", "unknown": true})
    );
}

#[test]
fn update_changes_texts_and_empty_clears() {
    let sandbox = sandbox_with_agents(&[]);
    sandbox
        .run(&[
            "group",
            "add",
            "g",
            "-d",
            "old",
            "--shared-context",
            "facts",
        ])
        .ok();
    assert_eq!(
        sandbox
            .run(&["group", "update", "g", "-d", "new", "--shared-context", ""])
            .ok(),
        "Updated group 'g': description, shared_context\n"
    );
    let group = store::load(&sandbox.config()).unwrap().groups["g"].clone();
    assert_eq!(
        (group.description.as_str(), group.shared_context.as_str()),
        ("new", "")
    );
    let err = sandbox.run(&["group", "update", "g"]).fails(2);
    assert!(
        err.contains("nothing to update: pass --description and/or --shared-context"),
        "{err}"
    );
    let err = sandbox
        .run(&["group", "update", "nope", "-d", "x"])
        .fails(1);
    assert_eq!(
        err,
        "error: group 'nope' not found\nhint: configured groups: g\n"
    );
    let err = sandbox
        .run(&["group", "update", "g", "--member", "x"])
        .fails(2);
    assert!(err.contains("invalid option '--member'"), "{err}");
}

#[test]
fn remove_deletes_only_the_group() {
    let sandbox = sandbox_with_agents(&["api"]);
    sandbox.run(&["group", "add", "g", "--member", "api"]).ok();
    assert_eq!(
        sandbox.run(&["group", "remove", "g"]).ok(),
        "Removed group 'g'.\n"
    );
    let config = store::load(&sandbox.config()).unwrap();
    assert!(config.groups.is_empty());
    assert!(config.agents.contains_key("api"));
    assert!(!sandbox.read_config().contains("groups:"));
    let err = sandbox.run(&["group", "remove", "g"]).fails(1);
    assert!(
        err.contains("group 'g' not found") && err.contains("no groups are configured yet"),
        "{err}"
    );
}

#[test]
fn empty_listings_in_both_formats() {
    let sandbox = sandbox_with_agents(&[]);
    assert_eq!(
        sandbox.run(&["group", "list"]).ok(),
        "No groups configured. Run: agent-dispatch group add <name> --member <agent>\n"
    );
    assert_eq!(
        sandbox.run(&["group", "list", "--json"]).json(),
        serde_json::json!([])
    );
    let err = sandbox.run(&["group", "frob"]).fails(2);
    assert!(err.contains("unknown command 'group frob'"), "{err}");
}

/// As for agents: argv cannot carry a NUL, so the parser is checked.
#[test]
fn group_texts_with_a_nul_are_refused_by_add_and_update() {
    use agent_dispatch::cli::parse;
    use std::ffi::OsString;
    for option in ["--description", "-d", "--shared-context"] {
        for head in [&["group", "add", "g"][..], &["group", "update", "g"][..]] {
            let mut argv: Vec<OsString> = head.iter().map(OsString::from).collect();
            argv.push(option.into());
            argv.push("facts\0more".into());
            let err = parse(argv).expect_err("a NUL is refused");
            assert_eq!(err.exit_code(), 2);
            let named = if option == "-d" {
                "--description"
            } else {
                option
            };
            assert!(
                err.to_string()
                    .starts_with(&format!("{named} must not contain a NUL character")),
                "{err}"
            );
        }
    }
}

#[test]
fn group_views_show_control_characters_escaped_and_json_keeps_them() {
    let sandbox = sandbox_with_agents(&["api"]);
    sandbox
        .run(&[
            "group",
            "add",
            "backend",
            "-d",
            "Shop\x1b]0;pwned\x07",
            "--shared-context",
            "Prod is read-only.\n\x1b[2JReally.",
            "--member",
            "api",
        ])
        .ok();
    for args in [&["group", "list"][..], &["group", "inspect", "backend"][..]] {
        let out = sandbox.run(args).ok();
        assert!(
            !out.chars().any(|c| c.is_control() && c != '\n'),
            "{args:?}: {out:?}"
        );
        assert!(out.contains(r"Shop\x1b]0;pwned\x07"), "{args:?}: {out}");
    }
    let inspect = sandbox.run(&["group", "inspect", "backend"]).ok();
    assert!(
        inspect.contains("  shared_context:\n    Prod is read-only.\n    \\x1b[2JReally.\n"),
        "{inspect}"
    );
    let json = sandbox
        .run(&["group", "inspect", "backend", "--json"])
        .json();
    assert_eq!(json["description"], "Shop\x1b]0;pwned\x07");
    assert_eq!(json["shared_context"], "Prod is read-only.\n\x1b[2JReally.");
}
