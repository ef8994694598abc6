//! The Codex, Gemini and opencode backends through the real runner and a
//! real process: each stand-in (`fixtures/fake-<cli>`, which parses argv as
//! strictly as the real CLI and answers in its formats) mapped to the
//! `DispatchResult` a caller gets, in both output modes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
mod support;

use std::sync::{Arc, Mutex};

use agent_dispatch::config::{Agent, BackendName, Settings};
use agent_dispatch::runner::{
    self, Ask, CancelToken, Dispatch, DispatchResult, ErrorType, Outcome, OutputMode, backends,
};
use fake::FakeClaude;

const CLIS: [BackendName; 3] = [
    BackendName::Codex,
    BackendName::Gemini,
    BackendName::Opencode,
];

/// The stand-in of `cli` with `env` given under its own prefix
/// (`("MODE", "sleep")` is `FAKE_CODEX_MODE=sleep` for codex).
fn stand_in(cli: BackendName, env: &[(&str, &str)]) -> FakeClaude {
    let prefix = format!("FAKE_{}_", cli.as_str().to_uppercase());
    let owned: Vec<(String, String)> = env
        .iter()
        .map(|(key, value)| (format!("{prefix}{key}"), (*value).to_owned()))
        .collect();
    let env: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    FakeClaude::new(&[]).with_cli(cli.as_str(), &env)
}

struct Run<'a> {
    task: &'a str,
    mode: OutputMode,
    response_format: &'a str,
    resume: Option<&'a str>,
    permission_mode: Option<&'a str>,
    timeout: u64,
    progress: Option<runner::Progress>,
}

impl Default for Run<'_> {
    fn default() -> Self {
        Run {
            task: "Describe the project",
            mode: OutputMode::Json,
            response_format: "",
            resume: None,
            permission_mode: None,
            timeout: 30,
            progress: None,
        }
    }
}

fn dispatch(fake: &FakeClaude, cli: BackendName, run: Run) -> DispatchResult {
    let project = fake.file("project");
    std::fs::create_dir_all(&project).unwrap();
    let mut agent = Agent::new(project.canonicalize().unwrap());
    agent.backend = Some(cli);
    agent.permission_mode = run.permission_mode.map(str::to_owned);
    let settings = Settings::default();
    let d = Dispatch {
        agent_name: "api",
        agent: &agent,
        backend: backends::of(&agent, &settings),
        settings: &settings,
        ask: Ask {
            task: run.task,
            response_format: run.response_format,
            ..Ask::default()
        },
        resume: run.resume,
        timeout_secs: Some(run.timeout),
        mode: run.mode,
    };
    let program = fake.file(cli.as_str());
    runner::dispatch_using(Some(&program), &d, &CancelToken::new(), run.progress)
}

/// Every backend in both output modes, each with a fresh stand-in.
fn every_cli_and_mode(
    env: &[(&str, &str)],
    check: impl Fn(BackendName, OutputMode, FakeClaude, DispatchResult),
) {
    for cli in CLIS {
        for mode in [OutputMode::Json, OutputMode::Stream] {
            let fake = stand_in(cli, env);
            let result = dispatch(
                &fake,
                cli,
                Run {
                    mode,
                    ..Run::default()
                },
            );
            check(cli, mode, fake, result);
        }
    }
}

#[test]
fn each_cli_answers_with_its_session_tokens_and_only_opencode_with_money() {
    every_cli_and_mode(&[], |cli, mode, fake, r| {
        let label = format!("{cli} {mode:?}");
        assert!(r.success, "{label}: {r:?}");
        assert_eq!(r.result, "fake answer", "{label}");
        let session = r.session_id.clone().unwrap_or_default();
        match cli {
            BackendName::Codex => assert_eq!(session, "01a2345b-c0de-7000-8000-000000000001"),
            BackendName::Opencode => assert_eq!(session, "ses_dcba0000fffeFAKEsession001"),
            // The id we generated and passed with --session-id.
            _ => assert_eq!(session.len(), 36, "{label}: {session}"),
        }
        let usage = r.usage.unwrap_or_else(|| panic!("{label}: no usage"));
        assert!(
            usage.input_tokens > 0 && usage.output_tokens > 0,
            "{label}: {usage:?}"
        );
        assert_eq!(
            r.cost_usd.is_some(),
            cli == BackendName::Opencode,
            "{label}: {r:?}"
        );
        let runs = fake.invocations_of(cli.as_str());
        assert_eq!(runs.len(), 1, "{label}");
        assert_eq!(runs[0].stdin, "/dev/null", "{label}");
        assert_eq!(runs[0].depth, "1", "{label}");
    });
}

#[test]
fn a_task_that_looks_like_a_flag_reaches_each_cli_as_the_prompt() {
    for cli in CLIS {
        for task in [
            "--yolo",
            "-p --dangerously-bypass-approvals-and-sandbox",
            "--auto -s x",
        ] {
            let fake = stand_in(cli, &[("ECHO_PROMPT", "1")]);
            let r = dispatch(
                &fake,
                cli,
                Run {
                    task,
                    ..Run::default()
                },
            );
            assert!(r.success, "{cli} {task}: {r:?}");
            assert!(r.result.contains(task), "{cli}: {:?}", r.result);
            // The protocol travels with the prompt where the CLI has no
            // system prompt of its own, and as developer instructions
            // to codex.
            let argv = &fake.invocations_of(cli.as_str())[0].argv;
            let protocol_in_prompt = r.result.contains("Dispatch protocol");
            assert_eq!(
                protocol_in_prompt,
                cli != BackendName::Codex,
                "{cli}: {argv:?}"
            );
            if cli == BackendName::Codex {
                assert!(
                    argv.iter()
                        .any(|a| a.starts_with("developer_instructions="))
                );
            }
        }
    }
}

#[test]
fn status_lines_and_json_answers_are_read_as_for_claude() {
    for cli in CLIS {
        let fake = stand_in(cli, &[("MODE", "status"), ("STATUS", "blocked")]);
        let r = dispatch(&fake, cli, Run::default());
        assert!(r.success, "{cli}: {r:?}");
        assert_eq!(r.outcome, Some(Outcome::Blocked), "{cli}");
        assert_eq!(r.result, "fake answer", "{cli}");
        assert!(r.hint.is_some(), "{cli}");

        let fake = stand_in(cli, &[("MODE", "json-answer")]);
        let r = dispatch(
            &fake,
            cli,
            Run {
                response_format: "json",
                mode: OutputMode::Stream,
                ..Run::default()
            },
        );
        assert_eq!(
            r.parsed_result.as_ref().unwrap()["answer"],
            42,
            "{cli}: {r:?}"
        );
    }
}

#[test]
fn a_stream_reports_each_clis_steps_as_progress() {
    for cli in CLIS {
        let fake = stand_in(cli, &[]);
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&seen);
        let r = dispatch(
            &fake,
            cli,
            Run {
                mode: OutputMode::Stream,
                progress: Some(Arc::new(move |m: &str| {
                    sink.lock().unwrap().push(m.to_owned())
                })),
                ..Run::default()
            },
        );
        assert!(r.success, "{cli}: {r:?}");
        let seen = seen.lock().unwrap();
        assert!(
            seen.iter()
                .any(|m| m.starts_with("Using tool: ") || m.starts_with("Running: ")),
            "{cli}: {seen:?}"
        );
    }
}

#[test]
fn not_logged_in_is_auth_with_that_clis_login_in_the_hint() {
    let logins = [
        (BackendName::Codex, "not-logged-in", "codex login"),
        (BackendName::Gemini, "not-logged-in", "GEMINI_API_KEY"),
        (BackendName::Opencode, "auth-error", "opencode auth login"),
    ];
    for (cli, mode, login) in logins {
        for output in [OutputMode::Json, OutputMode::Stream] {
            let fake = stand_in(cli, &[("MODE", mode)]);
            let r = dispatch(
                &fake,
                cli,
                Run {
                    mode: output,
                    timeout: 20,
                    ..Run::default()
                },
            );
            assert!(!r.success, "{cli} {output:?}: {r:?}");
            assert_eq!(
                r.error_type,
                Some(ErrorType::Auth),
                "{cli} {output:?}: {r:?}"
            );
            assert!(r.error.as_deref().unwrap().contains(login), "{cli}: {r:?}");
        }
    }
}

#[test]
fn a_usage_limit_is_its_own_type_for_every_cli() {
    for cli in CLIS {
        let fake = stand_in(cli, &[("MODE", "usage-limit")]);
        let r = dispatch(&fake, cli, Run::default());
        assert_eq!(r.error_type, Some(ErrorType::UsageLimit), "{cli}: {r:?}");
        assert!(
            r.error.as_deref().unwrap().contains("usage limit"),
            "{cli}: {r:?}"
        );
    }
}

#[test]
fn a_cli_that_retries_forever_offline_ends_at_our_timeout_as_network() {
    for cli in [BackendName::Codex, BackendName::Gemini] {
        let fake = stand_in(cli, &[("MODE", "offline")]);
        let r = dispatch(
            &fake,
            cli,
            Run {
                timeout: 2,
                mode: OutputMode::Stream,
                ..Run::default()
            },
        );
        assert_eq!(r.error_type, Some(ErrorType::Network), "{cli}: {r:?}");
        let error = r.error.as_deref().unwrap();
        assert!(error.contains("could not reach its service"), "{error}");
        assert!(error.contains("2 s timeout"), "{error}");
    }
    // opencode gives up by itself with an APIError.
    let fake = stand_in(
        BackendName::Opencode,
        &[("MODE", "offline"), ("RETRY_SECS", "0")],
    );
    let r = dispatch(&fake, BackendName::Opencode, Run::default());
    assert_eq!(r.error_type, Some(ErrorType::Network), "{r:?}");
}

#[test]
fn a_silent_run_times_out_with_the_session_the_cli_named() {
    let fake = stand_in(BackendName::Codex, &[("MODE", "hang")]);
    let r = dispatch(
        &fake,
        BackendName::Codex,
        Run {
            timeout: 1,
            ..Run::default()
        },
    );
    assert_eq!(r.error_type, Some(ErrorType::Timeout), "{r:?}");
    assert_eq!(
        r.session_id.as_deref(),
        Some("01a2345b-c0de-7000-8000-000000000001")
    );
    assert!(
        r.error.as_deref().unwrap().contains("dispatch_session"),
        "{r:?}"
    );
}

#[test]
fn a_failed_cli_is_a_cli_error_with_its_stderr() {
    for cli in CLIS {
        let fake = stand_in(cli, &[("MODE", "exit-error")]);
        let r = dispatch(&fake, cli, Run::default());
        assert_eq!(r.error_type, Some(ErrorType::CliError), "{cli}: {r:?}");
        assert!(r.error.as_deref().unwrap().contains("boom"), "{cli}: {r:?}");
    }
}

#[test]
fn resume_passes_the_session_in_each_clis_form() {
    let cases = [
        (BackendName::Codex, "01a2345b-c0de-7000-8000-00000000abcd"),
        (BackendName::Gemini, "0b7d2a6e-1c3f-4e5a-9b8c-7d6e5f4a3b21"),
        (BackendName::Opencode, "ses_dcba0000fffeFAKEsession777"),
    ];
    for (cli, id) in cases {
        let fake = stand_in(cli, &[]);
        let r = dispatch(
            &fake,
            cli,
            Run {
                resume: Some(id),
                ..Run::default()
            },
        );
        assert!(r.success, "{cli}: {r:?}");
        assert_eq!(r.session_id.as_deref(), Some(id), "{cli}");
        let argv = &fake.invocations_of(cli.as_str())[0].argv;
        assert!(argv.iter().any(|a| a == id), "{cli}: {argv:?}");
    }
}

#[test]
fn permission_modes_become_each_clis_own_flags() {
    let cases: [(BackendName, &str, &[&str]); 6] = [
        (BackendName::Codex, "plan", &["-s", "read-only"]),
        (
            BackendName::Codex,
            "acceptEdits",
            &["-s", "workspace-write"],
        ),
        (
            BackendName::Codex,
            "bypassPermissions",
            &["--dangerously-bypass-approvals-and-sandbox"],
        ),
        (
            BackendName::Gemini,
            "acceptEdits",
            &["--approval-mode", "auto_edit"],
        ),
        (
            BackendName::Gemini,
            "bypassPermissions",
            &["--approval-mode", "yolo"],
        ),
        (BackendName::Opencode, "bypassPermissions", &["--auto"]),
    ];
    for (cli, mode, flags) in cases {
        let fake = stand_in(cli, &[]);
        let r = dispatch(
            &fake,
            cli,
            Run {
                permission_mode: Some(mode),
                ..Run::default()
            },
        );
        assert!(r.success, "{cli} {mode}: {r:?}");
        let argv = &fake.invocations_of(cli.as_str())[0].argv;
        assert!(
            argv.windows(flags.len())
                .any(|w| w.iter().zip(flags.iter()).all(|(a, b)| a == b)),
            "{cli} {mode}: {argv:?}"
        );
    }
}

#[test]
fn a_mode_or_setting_the_cli_cannot_honour_is_refused_before_it_runs() {
    for (cli, mode) in [
        (BackendName::Gemini, "auto"),
        (BackendName::Opencode, "auto"),
        (BackendName::Codex, "someFutureMode"),
    ] {
        let fake = stand_in(cli, &[]);
        let r = dispatch(
            &fake,
            cli,
            Run {
                permission_mode: Some(mode),
                ..Run::default()
            },
        );
        assert_eq!(
            r.error_type,
            Some(ErrorType::InvalidArgument),
            "{cli}: {r:?}"
        );
        let error = r.error.as_deref().unwrap();
        assert!(
            error.contains(mode) && error.contains(cli.as_str()),
            "{error}"
        );
        assert!(fake.invocations_of(cli.as_str()).is_empty(), "{cli} ran");
    }
}

#[test]
fn opencode_refusing_a_tool_for_want_of_permission_is_a_permission_failure() {
    let fake = stand_in(BackendName::Opencode, &[("MODE", "denied")]);
    let r = dispatch(&fake, BackendName::Opencode, Run::default());
    assert_eq!(r.error_type, Some(ErrorType::Permission), "{r:?}");
    assert!(
        r.denied_tools.as_ref().is_some_and(|t| !t.is_empty()),
        "{r:?}"
    );
}

#[test]
fn a_missing_cli_names_its_npm_package() {
    for (cli, package) in [
        (BackendName::Codex, "@openai/codex"),
        (BackendName::Gemini, "@google/gemini-cli"),
        (BackendName::Opencode, "opencode-ai"),
    ] {
        let r = backends::named(cli).not_found("api");
        assert_eq!(r.error_type, Some(ErrorType::NotFound));
        assert!(r.error.as_deref().unwrap().contains(package), "{r:?}");
    }
}
