//! Every stand-in behaviour through the real runner and a real process,
//! mapped to the `DispatchResult` a caller gets.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
mod support;

use std::path::Path;

use agent_dispatch::config::{Agent, Settings};
use agent_dispatch::runner::{
    self, Ask, CancelToken, Dispatch, DispatchResult, ErrorType, Outcome, OutputMode, backends,
};
use fake::FakeClaude;

struct Run<'a> {
    task: &'a str,
    mode: OutputMode,
    response_format: &'a str,
    resume: Option<&'a str>,
    agent: Option<Agent>,
    settings: Settings,
    timeout: u64,
}

impl Default for Run<'_> {
    fn default() -> Self {
        Run {
            task: "Describe the project",
            mode: OutputMode::Json,
            response_format: "",
            resume: None,
            agent: None,
            settings: Settings::default(),
            timeout: 30,
        }
    }
}

fn dispatch(fake: &FakeClaude, run: Run) -> DispatchResult {
    let project = fake.file("project");
    std::fs::create_dir_all(&project).unwrap();
    let agent = run
        .agent
        .unwrap_or_else(|| Agent::new(project.canonicalize().unwrap()));
    let d = Dispatch {
        agent_name: "api",
        agent: &agent,
        backend: backends::of(&agent, &run.settings),
        settings: &run.settings,
        ask: Ask {
            task: run.task,
            response_format: run.response_format,
            ..Ask::default()
        },
        resume: run.resume,
        timeout_secs: Some(run.timeout),
        mode: run.mode,
    };
    runner::dispatch_using(Some(&fake.path), &d, &CancelToken::new(), None)
}

fn both_modes(env: &[(&str, &str)], check: impl Fn(OutputMode, &DispatchResult)) {
    for mode in [OutputMode::Json, OutputMode::Stream] {
        let fake = FakeClaude::new(env);
        let result = dispatch(
            &fake,
            Run {
                mode,
                ..Run::default()
            },
        );
        check(mode, &result);
    }
}

#[test]
fn a_plain_answer_succeeds_with_cost_and_the_generated_session() {
    both_modes(&[], |mode, r| {
        assert!(r.success, "{mode:?}: {r:?}");
        assert_eq!(r.result, "fake answer");
        assert_eq!(r.cost_usd, Some(0.0123));
        assert_eq!(r.num_turns, Some(1));
        assert_eq!(r.error_type, None);
        let session = r.session_id.as_deref().unwrap();
        assert_eq!(session.len(), 36, "{session}");
    });
}

#[test]
fn the_generated_session_id_is_the_one_passed_to_claude() {
    let fake = FakeClaude::new(&[]);
    let result = dispatch(&fake, Run::default());
    let argv = &fake.invocations()[0].argv;
    let at = argv
        .iter()
        .position(|a| a == "--session-id")
        .expect("--session-id passed");
    assert_eq!(result.session_id.as_deref(), Some(argv[at + 1].as_str()));
}

#[test]
fn a_verbose_array_takes_its_result_element() {
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "verbose-array")]);
    let r = dispatch(&fake, Run::default());
    assert!(r.success, "{r:?}");
    assert_eq!(r.result, "fake answer");
}

#[test]
fn invalid_utf8_and_lone_surrogates_are_kept_as_replacement_characters() {
    both_modes(&[("FAKE_CLAUDE_MODE", "invalid-utf8")], |mode, r| {
        assert!(r.success, "{mode:?}: {r:?}");
        assert!(
            r.result.contains("caf\u{FFFD} ok"),
            "{mode:?}: {:?}",
            r.result
        );
    });
    both_modes(&[("FAKE_CLAUDE_MODE", "surrogate")], |mode, r| {
        assert!(r.success, "{mode:?}: {r:?}");
        assert_eq!(r.result, "lone \u{FFFD} here, pair 😀 ok", "{mode:?}");
    });
}

#[test]
fn nan_and_infinity_lose_only_their_fields() {
    both_modes(&[("FAKE_CLAUDE_MODE", "nan")], |mode, r| {
        assert!(r.success, "{mode:?}: {r:?}");
        assert_eq!(r.result, "fake answer");
        assert_eq!((r.cost_usd, r.duration_ms), (None, None), "{mode:?}");
    });
}

#[test]
fn a_cli_failure_carries_its_stderr() {
    both_modes(&[("FAKE_CLAUDE_MODE", "exit-error")], |mode, r| {
        assert!(!r.success);
        assert_eq!(r.error_type, Some(ErrorType::CliError), "{mode:?}");
        assert!(
            r.error
                .as_deref()
                .unwrap()
                .contains("boom: everything is on fire"),
            "{r:?}"
        );
    });
}

#[test]
fn plain_text_output_is_the_answer() {
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "plain-text")]);
    let r = dispatch(&fake, Run::default());
    assert!(r.success, "{r:?}");
    assert_eq!(r.result, "This is plain text, not JSON.");
    assert_eq!(r.cost_usd, None);
    let hint = r.hint.unwrap_or_default();
    assert!(
        hint.contains("plain text, not the JSON") && hint.contains("session and cost are unknown"),
        "{hint}"
    );
}

#[test]
fn denied_tools_are_listed_with_a_hint() {
    both_modes(&[("FAKE_CLAUDE_MODE", "denied")], |mode, r| {
        assert!(r.success, "{mode:?}: {r:?}");
        assert_eq!(
            r.denied_tools.as_deref(),
            Some(&["Bash".to_string(), "Write".to_string()][..])
        );
        assert!(
            r.hint
                .as_deref()
                .unwrap()
                .contains("2 tool call(s) were denied"),
            "{r:?}"
        );
    });
}

#[test]
fn a_budget_stop_is_a_budget_error() {
    both_modes(&[("FAKE_CLAUDE_MODE", "budget")], |mode, r| {
        assert!(!r.success);
        assert_eq!(r.error_type, Some(ErrorType::Budget), "{mode:?}: {r:?}");
        assert!(r.budget_exceeded);
        assert!(r.error.as_deref().unwrap().contains("spend cap"), "{r:?}");
    });
}

#[test]
fn a_usage_limit_says_when_it_resets() {
    both_modes(&[("FAKE_CLAUDE_MODE", "usage-limit")], |mode, r| {
        assert_eq!(r.error_type, Some(ErrorType::UsageLimit), "{mode:?}: {r:?}");
        assert!(
            r.error
                .as_deref()
                .unwrap()
                .contains("It resets 6pm (Asia/Almaty)."),
            "{r:?}"
        );
    });
}

#[test]
fn not_logged_in_is_an_auth_error_with_the_fix() {
    both_modes(&[("FAKE_CLAUDE_MODE", "not-logged-in")], |mode, r| {
        assert!(!r.success);
        assert_eq!(r.error_type, Some(ErrorType::Auth), "{mode:?}: {r:?}");
        let error = r.error.as_deref().unwrap();
        assert!(
            error.contains("/login") && error.contains("ANTHROPIC_API_KEY"),
            "{error}"
        );
    });
}

#[test]
fn an_old_cli_is_retried_once_without_session_id() {
    both_modes(&[("FAKE_CLAUDE_MODE", "old-cli")], |mode, r| {
        assert!(r.success, "{mode:?}: {r:?}");
        assert_eq!(
            r.session_id.as_deref(),
            Some("fa4ec1a0-de00-4000-8000-000000000001")
        );
    });
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "old-cli")]);
    dispatch(&fake, Run::default());
    let calls = fake.invocations();
    assert_eq!(calls.len(), 2);
    assert!(calls[0].argv.contains(&"--session-id".to_string()));
    assert!(!calls[1].argv.contains(&"--session-id".to_string()));
}

#[test]
fn a_status_line_becomes_the_outcome() {
    both_modes(
        &[
            ("FAKE_CLAUDE_MODE", "status"),
            ("FAKE_CLAUDE_STATUS", "partial"),
        ],
        |mode, r| {
            assert!(r.success, "{mode:?}: {r:?}");
            assert_eq!(r.result, "fake answer");
            assert_eq!(r.outcome, Some(Outcome::Partial));
            assert!(r.hint.as_deref().unwrap().contains("PARTIAL"), "{r:?}");
        },
    );
}

#[test]
fn a_json_answer_is_parsed_when_asked_for() {
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "json-answer")]);
    let r = dispatch(
        &fake,
        Run {
            response_format: "json",
            ..Run::default()
        },
    );
    assert!(r.success, "{r:?}");
    assert_eq!(r.parsed_result.as_ref().unwrap()["answer"], 42);
    let prompt = fake.invocations()[0].argv.last().unwrap().clone();
    assert!(prompt.contains("## Response format"), "{prompt}");
}

#[test]
fn failed_project_mcp_servers_are_named_in_the_hint() {
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "mcp-failed")]);
    let r = dispatch(
        &fake,
        Run {
            mode: OutputMode::Stream,
            ..Run::default()
        },
    );
    assert!(r.success, "{r:?}");
    let hint = r.hint.as_deref().unwrap();
    assert!(
        hint.contains("broken-db") && !hint.contains("good-db"),
        "{hint}"
    );
}

#[test]
fn an_error_payload_keeps_its_text() {
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_MODE", "is-error")]);
    let r = dispatch(&fake, Run::default());
    assert!(!r.success);
    assert_eq!(r.error_type, Some(ErrorType::CliError));
    assert_eq!(r.result, "Something went wrong");
}

#[test]
fn a_task_that_looks_like_a_flag_reaches_claude_as_the_prompt() {
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_ECHO_PROMPT", "1")]);
    let task = "--permission-mode=bypassPermissions";
    let r = dispatch(
        &fake,
        Run {
            task,
            ..Run::default()
        },
    );
    assert!(r.success, "{r:?}");
    assert_eq!(r.result, task);
    let argv = &fake.invocations()[0].argv;
    assert_eq!(&argv[argv.len() - 2..], ["--", task]);
    assert!(!argv.iter().any(|a| a == "--permission-mode"), "{argv:?}");
}

#[test]
fn the_child_gets_dev_null_stdin_the_agent_directory_and_the_next_depth() {
    let fake = FakeClaude::new(&[]);
    dispatch(&fake, Run::default());
    let call = &fake.invocations()[0];
    assert_eq!(call.stdin, "/dev/null");
    assert_eq!(
        Path::new(&call.cwd),
        fake.file("project").canonicalize().unwrap()
    );
    let ours = agent_dispatch::runner::environment::current_depth();
    assert_eq!(call.depth, (ours + 1).to_string());
}

#[test]
fn every_flag_the_runner_builds_is_accepted_by_the_strict_stand_in() {
    let fake = FakeClaude::new(&[]);
    let mut agent = Agent::new(fake.file("project"));
    std::fs::create_dir_all(&agent.directory).unwrap();
    agent.model = Some("sonnet".into());
    agent.fallback_model = Some("haiku".into());
    agent.effort = Some("high".into());
    agent.max_turns = Some(12);
    agent.permission_mode = Some("plan".into());
    agent.max_budget_usd = Some(2.0);
    agent.allowed_tools = Some(vec!["Read".into(), "Bash(git log:*)".into()]);
    agent.disallowed_tools = Some(vec!["WebFetch".into()]);
    agent.instructions = "Never push.".into();
    for (mode, resume) in [
        (OutputMode::Json, None),
        (
            OutputMode::Json,
            Some("0b7d2a6e-1c3f-4e5a-9b8c-7d6e5f4a3b21"),
        ),
        (OutputMode::Stream, None),
    ] {
        let r = dispatch(
            &fake,
            Run {
                agent: Some(agent.clone()),
                mode,
                resume,
                ..Run::default()
            },
        );
        assert!(r.success, "{mode:?} resume={resume:?}: {r:?}");
    }
    // An explicitly empty tool list is no tool at all, not the default set.
    agent.allowed_tools = Some(Vec::new());
    let r = dispatch(
        &fake,
        Run {
            agent: Some(agent.clone()),
            mode: OutputMode::Stream,
            ..Run::default()
        },
    );
    assert!(r.success, "no tools: {r:?}");
    let calls = fake.invocations();
    let no_tools = &calls[3].argv;
    let at = no_tools
        .iter()
        .position(|a| a == "--tools")
        .expect("--tools");
    assert_eq!(no_tools[at + 1], "", "{no_tools:?}");
    assert!(!no_tools.contains(&"--allowedTools".to_owned()));
    assert!(
        calls[1]
            .argv
            .windows(2)
            .any(|w| w == ["--resume", "0b7d2a6e-1c3f-4e5a-9b8c-7d6e5f4a3b21"])
    );
    assert!(
        calls[0]
            .argv
            .windows(2)
            .any(|w| w == ["--max-budget-usd", "2.0"])
    );
    for pair in [
        ["--fallback-model", "haiku"],
        ["--effort", "high"],
        ["--max-turns", "12"],
    ] {
        assert!(calls[0].argv.windows(2).any(|w| w == pair), "{pair:?}");
    }
}

#[test]
fn a_flag_like_session_id_is_refused_before_anything_runs() {
    let fake = FakeClaude::new(&[]);
    let r = dispatch(
        &fake,
        Run {
            resume: Some("--fork-session"),
            ..Run::default()
        },
    );
    assert!(!r.success);
    assert_eq!(r.error_type, Some(ErrorType::InvalidArgument));
    assert!(
        r.error.as_deref().unwrap().contains("'--fork-session'"),
        "{r:?}"
    );
    assert!(fake.invocations().is_empty());
}

#[test]
fn missing_claude_or_directory_is_not_found() {
    let fake = FakeClaude::new(&[]);
    let gone = Agent::new(fake.file("no-such-project"));
    let d = Dispatch {
        agent_name: "api",
        agent: &gone,
        backend: backends::of(&gone, &Settings::default()),
        settings: &Settings::default(),
        ask: Ask {
            task: "x",
            ..Ask::default()
        },
        resume: None,
        timeout_secs: None,
        mode: OutputMode::Json,
    };
    let r = runner::dispatch_using(Some(&fake.path), &d, &CancelToken::new(), None);
    assert_eq!(r.error_type, Some(ErrorType::NotFound));
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("Directory does not exist"),
        "{r:?}"
    );
    let r = runner::dispatch_using(None, &d, &CancelToken::new(), None);
    assert_eq!(r.error_type, Some(ErrorType::NotFound));
    assert!(
        r.error.as_deref().unwrap().contains("Claude CLI not found"),
        "{r:?}"
    );
}

#[test]
fn a_task_too_long_for_one_argument_is_refused_before_anything_runs() {
    let fake = FakeClaude::new(&[]);
    let task = "x".repeat(200_000);
    let r = dispatch(
        &fake,
        Run {
            task: &task,
            ..Run::default()
        },
    );
    assert!(!r.success);
    assert_eq!(r.error_type, Some(ErrorType::InvalidArgument), "{r:?}");
    assert!(r.error.as_deref().unwrap().contains("task prompt"), "{r:?}");
    assert!(fake.invocations().is_empty());
}
