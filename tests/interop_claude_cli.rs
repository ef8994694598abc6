//! Every command line the runner builds, run against the real Claude Code
//! CLI from npm — never logged in: an isolated HOME and no credential
//! variables, so nothing is billed. Each run must come back as the "Not
//! logged in" result, classified `auth`; an `unknown option` (or any other
//! argument error) would mean we built an argv the real CLI rejects.
//! `.ci/run` installs the CLI and runs this with `--ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use agent_dispatch::config::{Agent, Settings};
use agent_dispatch::runner::{self, Ask, CancelToken, Dispatch, ErrorType, OutputMode, backends};

/// A wrapper that runs the real CLI with an empty HOME and without any
/// credential in its environment.
fn isolated_claude(dir: &std::path::Path) -> PathBuf {
    let real = std::env::var("AGENT_DISPATCH_REAL_CLAUDE")
        .expect("AGENT_DISPATCH_REAL_CLAUDE must name the real claude executable (see .ci/run)");
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let script = format!(
        "#!/bin/sh\nunset ANTHROPIC_API_KEY ANTHROPIC_AUTH_TOKEN CLAUDE_CODE_OAUTH_TOKEN CLAUDE_CONFIG_DIR \
         CLAUDE_CODE_USE_BEDROCK CLAUDE_CODE_USE_VERTEX AWS_BEARER_TOKEN_BEDROCK\n\
         export HOME='{}' DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1\nexec '{}' \"$@\"\n",
        home.display(),
        real
    );
    let path = dir.join("claude");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// label, agent, settings, what is asked, session to resume, output mode
type Case<'a> = (
    &'a str,
    &'a Agent,
    &'a Settings,
    Ask<'a>,
    Option<&'a str>,
    OutputMode,
);

#[test]
#[ignore = "needs the real Claude Code CLI; .ci/run installs it and runs this"]
fn every_argv_shape_reaches_the_real_cli_as_a_not_logged_in_result() {
    let dir = tempfile::tempdir().unwrap();
    let claude = isolated_claude(dir.path());
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();

    let plain = Agent::new(project.clone());
    let mut full = Agent::new(project.clone());
    full.model = Some("sonnet".into());
    full.permission_mode = Some("plan".into());
    full.max_budget_usd = Some(0.5);
    full.allowed_tools = Some(vec!["Read".into(), "Grep".into(), "Bash(git log:*)".into()]);
    full.disallowed_tools = Some(vec!["WebFetch".into(), "Bash(rm:*)".into()]);
    full.fallback_model = Some("haiku".into());
    full.effort = Some("high".into());
    full.max_turns = Some(12);
    let mut no_tools = Agent::new(project.clone());
    no_tools.allowed_tools = Some(Vec::new());
    full.instructions = "Never push.".into();
    let settings_defaults = Settings {
        default_permission_mode: Some("default".into()),
        default_max_budget_usd: Some(1e-5),
        default_allowed_tools: vec!["Read".into()],
        default_disallowed_tools: vec!["Write".into()],
        ..Settings::default()
    };
    let protocol_off = Settings {
        dispatch_protocol: false,
        ..Settings::default()
    };
    let defaults = Settings::default();

    let resume = "0b7d2a6e-1c3f-4e5a-9b8c-7d6e5f4a3b21";
    let cases: Vec<Case> = vec![
        (
            "plain json",
            &plain,
            &protocol_off,
            Ask {
                task: "hello",
                ..Ask::default()
            },
            None,
            OutputMode::Json,
        ),
        (
            "protocol + every flag",
            &full,
            &defaults,
            Ask {
                task: "hello",
                caller: "web",
                goal: "g",
                context: "c",
                response_format: "",
            },
            None,
            OutputMode::Json,
        ),
        (
            "no tools at all (--tools \"\")",
            &no_tools,
            &defaults,
            Ask {
                task: "hello",
                ..Ask::default()
            },
            None,
            OutputMode::Stream,
        ),
        (
            "json schema answer",
            &full,
            &defaults,
            Ask {
                task: "hello",
                response_format: r#"{"type":"object","properties":{"n":{"type":"integer"}}}"#,
                ..Ask::default()
            },
            None,
            OutputMode::Json,
        ),
        (
            "json answer",
            &full,
            &defaults,
            Ask {
                task: "hello",
                response_format: "json",
                ..Ask::default()
            },
            None,
            OutputMode::Json,
        ),
        (
            "resume",
            &full,
            &defaults,
            Ask {
                task: "Continue where you left off",
                ..Ask::default()
            },
            Some(resume),
            OutputMode::Json,
        ),
        (
            "settings defaults",
            &plain,
            &settings_defaults,
            Ask {
                task: "hello",
                ..Ask::default()
            },
            None,
            OutputMode::Json,
        ),
        (
            "stream",
            &plain,
            &defaults,
            Ask {
                task: "hello",
                ..Ask::default()
            },
            None,
            OutputMode::Stream,
        ),
        (
            "stream + every flag",
            &full,
            &settings_defaults,
            Ask {
                task: "hello",
                ..Ask::default()
            },
            None,
            OutputMode::Stream,
        ),
        (
            "flag-like task",
            &full,
            &defaults,
            Ask {
                task: "--permission-mode=bypassPermissions",
                ..Ask::default()
            },
            None,
            OutputMode::Json,
        ),
        (
            "dash task in stream",
            &plain,
            &defaults,
            Ask {
                task: "-p",
                ..Ask::default()
            },
            None,
            OutputMode::Stream,
        ),
    ];
    for (label, agent, settings, ask, resume, mode) in cases {
        let d = Dispatch {
            agent_name: "probe",
            agent,
            backend: backends::of(agent, settings),
            settings,
            ask,
            resume,
            timeout_secs: Some(120),
            mode,
        };
        let r = runner::dispatch_using(Some(&claude), &d, &CancelToken::new(), None);
        let error = r.error.clone().unwrap_or_default();
        assert!(
            !error.to_lowercase().contains("unknown option"),
            "{label}: {error}"
        );
        assert!(
            !r.success,
            "{label}: a credential-less CLI cannot succeed: {r:?}"
        );
        if let Some(id) = resume {
            // No login means no session was ever saved: the CLI parsed
            // --resume and looked the id up, which is what we check.
            assert_eq!(
                error,
                format!("No conversation found with session ID: {id}"),
                "{label}"
            );
            continue;
        }
        assert_eq!(r.error_type, Some(ErrorType::Auth), "{label}: {r:?}");
        assert!(error.contains("Not logged in"), "{label}: {error}");
    }
}
