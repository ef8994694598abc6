//! The `claude` command line for one dispatch. Flags first, in a fixed
//! order, then `--` and the prompt as the very last argument: whatever the
//! task says, the CLI reads it as the prompt and never as an option. Values
//! that follow a flag (session id, model, permission mode, tool names) are
//! refused if they could be read as a flag themselves.

use std::ffi::OsString;

use crate::pyfmt::repr_float;
use crate::runner::command::{CommandLine, OutputMode, Refused, Session, fits, flag_value};
use crate::runner::preflight::FlagArgument;

/// Builds the arguments after the program name.
pub fn arguments(line: &CommandLine) -> Result<Vec<OsString>, Refused> {
    fits("task prompt (task, context, caller and goal)", line.prompt)?;
    if let Some(text) = line.system_prompt {
        fits(
            "system prompt (dispatch protocol and the agent's instructions)",
            text,
        )?;
    }
    let mut args: Vec<OsString> = vec!["-p".into(), "--output-format".into()];
    args.push(match line.mode {
        OutputMode::Json => "json".into(),
        OutputMode::Stream => "stream-json".into(),
    });
    let mut flag =
        |name: &str, value: &str, argument: Option<FlagArgument>| -> Result<(), Refused> {
            if let Some(argument) = argument {
                flag_value(argument, value)?;
            }
            args.push(name.into());
            args.push(value.into());
            Ok(())
        };
    if let Some(text) = line.system_prompt {
        flag("--append-system-prompt", text, None)?;
    }
    match line.session {
        Session::Resume(id) => flag("--resume", id, Some(FlagArgument::SessionId))?,
        Session::New(id) => flag("--session-id", id, Some(FlagArgument::SessionId))?,
        Session::Unnamed => {}
    }
    if let Some(budget) = line.budget_usd {
        flag("--max-budget-usd", &repr_float(budget), None)?;
    }
    if let Some(model) = line.model {
        flag("--model", model, Some(FlagArgument::Model))?;
    }
    if let Some(models) = line.fallback_model {
        flag("--fallback-model", models, Some(FlagArgument::Model))?;
    }
    if let Some(effort) = line.effort {
        flag("--effort", effort, Some(FlagArgument::Effort))?;
    }
    if let Some(turns) = line.max_turns {
        flag("--max-turns", &turns.to_string(), None)?;
    }
    if let Some(schema) = line.json_schema {
        fits("response_format (a JSON Schema)", schema)?;
        // A JSON object on one line: it opens with `{`, never with `-`.
        flag("--json-schema", schema, None)?;
    }
    if let Some(mode) = line.permission_mode {
        flag(
            "--permission-mode",
            mode,
            Some(FlagArgument::PermissionMode),
        )?;
    }
    for tool in line.allowed_tools {
        flag("--allowedTools", tool, Some(FlagArgument::AllowedTool))?;
    }
    for tool in line.disallowed_tools {
        flag(
            "--disallowedTools",
            tool,
            Some(FlagArgument::DisallowedTool),
        )?;
    }
    if line.no_tools {
        // `--tools ""`: no built-in tool. Variadic, so the `--` below keeps
        // the prompt from being read as one more tool.
        args.extend(["--tools".into(), "".into()]);
    }
    if line.mode == OutputMode::Stream {
        args.push("--verbose".into());
    }
    args.push("--".into());
    args.push(line.prompt.into());
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::rules::FlagValueProblem;
    use crate::runner::command::MAX_ARGUMENT_BYTES;
    use crate::runner::command::testing::{self, strings};

    fn line<'a>(session: &'a Session) -> CommandLine<'a> {
        testing::line("--permission-mode=bypassPermissions", session)
    }

    #[test]
    fn the_prompt_is_last_after_a_separator() {
        let session = Session::Unnamed;
        assert_eq!(
            strings(arguments(&line(&session)).unwrap()),
            [
                "-p",
                "--output-format",
                "json",
                "--",
                "--permission-mode=bypassPermissions"
            ]
        );
    }

    #[test]
    fn a_json_schema_travels_as_its_flag() {
        let session = Session::Unnamed;
        let args = strings(
            arguments(&CommandLine {
                json_schema: Some(r#"{"type":"object"}"#),
                ..line(&session)
            })
            .unwrap(),
        );
        assert!(
            args.windows(2)
                .any(|w| w == ["--json-schema", r#"{"type":"object"}"#]),
            "{args:?}"
        );
    }

    #[test]
    fn an_explicitly_empty_tool_list_is_no_tools_before_the_separator() {
        let session = Session::Unnamed;
        let args = strings(
            arguments(&CommandLine {
                no_tools: true,
                ..line(&session)
            })
            .unwrap(),
        );
        assert_eq!(
            args[3..],
            ["--tools", "", "--", "--permission-mode=bypassPermissions"]
        );
    }

    #[test]
    fn every_flag_in_order() {
        let session = Session::New("0b7d2a6e-1c3f-4e5a-9b8c-7d6e5f4a3b21".into());
        let allowed = ["Read".to_string(), "Bash(git log:*)".to_string()];
        let disallowed = ["WebFetch".to_string()];
        let full = CommandLine {
            mode: OutputMode::Stream,
            prompt: "task",
            system_prompt: Some("## Dispatch protocol"),
            budget_usd: Some(2.0),
            model: Some("sonnet"),
            permission_mode: Some("plan"),
            allowed_tools: &allowed,
            disallowed_tools: &disallowed,
            ..line(&session)
        };
        assert_eq!(
            strings(arguments(&full).unwrap()),
            [
                "-p",
                "--output-format",
                "stream-json",
                "--append-system-prompt",
                "## Dispatch protocol",
                "--session-id",
                "0b7d2a6e-1c3f-4e5a-9b8c-7d6e5f4a3b21",
                "--max-budget-usd",
                "2.0",
                "--model",
                "sonnet",
                "--permission-mode",
                "plan",
                "--allowedTools",
                "Read",
                "--allowedTools",
                "Bash(git log:*)",
                "--disallowedTools",
                "WebFetch",
                "--verbose",
                "--",
                "task",
            ]
        );
    }

    #[test]
    fn resume_replaces_the_new_session_id_and_budgets_render_like_python() {
        let session = Session::Resume("abc".into());
        let args = strings(
            arguments(&CommandLine {
                budget_usd: Some(1e-5),
                ..line(&session)
            })
            .unwrap(),
        );
        assert_eq!(
            &args[3..7],
            ["--resume", "abc", "--max-budget-usd", "1e-05"]
        );
        assert!(!args.contains(&"--session-id".to_string()));
    }

    #[test]
    fn a_prompt_too_long_for_one_argument_is_refused() {
        let session = Session::Unnamed;
        let long = "x".repeat(MAX_ARGUMENT_BYTES);
        let err = arguments(&CommandLine {
            prompt: &long,
            ..line(&session)
        })
        .unwrap_err();
        assert!(
            matches!(err, Refused::TooLong { bytes, .. } if bytes == MAX_ARGUMENT_BYTES),
            "{err:?}"
        );
        let just_fits = "x".repeat(MAX_ARGUMENT_BYTES - 1);
        assert!(
            arguments(&CommandLine {
                prompt: &just_fits,
                ..line(&session)
            })
            .is_ok()
        );
        let err = arguments(&CommandLine {
            system_prompt: Some(&long),
            ..line(&session)
        })
        .unwrap_err();
        assert!(
            matches!(err, Refused::TooLong { what, .. } if what.starts_with("system prompt")),
            "{err:?}"
        );
    }

    #[test]
    fn flag_like_values_are_refused_with_their_label() {
        let evil = Session::Resume("--fork-session".into());
        assert_eq!(
            arguments(&line(&evil)).unwrap_err(),
            Refused::BadFlagValue {
                argument: FlagArgument::SessionId,
                value: "--fork-session".into(),
                problem: FlagValueProblem::StartsWithDash,
            }
        );
        let session = Session::Unnamed;
        let tools = ["-x".to_string()];
        assert_eq!(
            arguments(&CommandLine {
                disallowed_tools: &tools,
                ..line(&session)
            })
            .unwrap_err(),
            Refused::BadFlagValue {
                argument: FlagArgument::DisallowedTool,
                value: "-x".into(),
                problem: FlagValueProblem::StartsWithDash,
            }
        );
        assert_eq!(
            arguments(&CommandLine {
                model: Some("-m"),
                ..line(&session)
            })
            .unwrap_err(),
            Refused::BadFlagValue {
                argument: FlagArgument::Model,
                value: "-m".into(),
                problem: FlagValueProblem::StartsWithDash,
            }
        );
        let blank = Session::Resume("  ".into());
        assert!(matches!(
            arguments(&line(&blank)).unwrap_err(),
            Refused::BadFlagValue {
                problem: FlagValueProblem::Blank,
                ..
            }
        ));
        let newline = Session::Resume("abc\n".into());
        assert!(matches!(
            arguments(&line(&newline)).unwrap_err(),
            Refused::BadFlagValue {
                problem: FlagValueProblem::ControlCharacter,
                ..
            }
        ));
    }

    #[test]
    fn a_nul_byte_in_either_prompt_is_refused() {
        let session = Session::Unnamed;
        let err = arguments(&CommandLine {
            prompt: "before\0after",
            ..line(&session)
        })
        .unwrap_err();
        assert!(
            matches!(err, Refused::NulByte { what } if what.starts_with("task prompt")),
            "{err:?}"
        );
        let err = arguments(&CommandLine {
            system_prompt: Some("## x\0"),
            ..line(&session)
        })
        .unwrap_err();
        assert!(
            matches!(err, Refused::NulByte { what } if what.starts_with("system prompt")),
            "{err:?}"
        );
    }
}
