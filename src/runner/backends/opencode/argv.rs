//! The `opencode run` command line for one dispatch (opencode 1.18): raw
//! JSON events, the model as `provider/model`, the permission mode as
//! `--auto` or as rules in `OPENCODE_PERMISSION`, the session to continue,
//! then `--` and the message, so the task is never read as a flag.
//! opencode has no system-prompt flag, so the dispatch protocol and the
//! agent's instructions open the message.

use std::ffi::OsString;

use crate::runner::command::{
    CommandLine, Refused, Session, fits, flag_value, mode_names, permission_in,
    prompt_with_instructions,
};
use crate::runner::preflight::FlagArgument;

/// How a permission mode runs in opencode, whose own agent edits and runs
/// commands in the project unasked and refuses whatever would need a
/// question in a headless run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Rules (JSON) merged over the project's own through the
    /// `OPENCODE_PERMISSION` variable, which wins over every config file.
    Rules(&'static str),
    /// `--auto`: approve all that no rule denies.
    Auto,
}

/// Reading only, as the modes that ask (and so stop at reading in a
/// headless Claude Code run) and plan allow.
const READ_ONLY: Grant = Grant::Rules(r#"{"edit":"deny","bash":"deny"}"#);

const MODES: [(&str, Grant); 6] = [
    ("plan", READ_ONLY),
    ("default", READ_ONLY),
    ("manual", READ_ONLY),
    ("dontAsk", READ_ONLY),
    ("acceptEdits", Grant::Rules(r#"{"bash":"deny"}"#)),
    ("bypassPermissions", Grant::Auto),
];

pub const PERMISSION_MODES: [&str; MODES.len()] = mode_names(&MODES);

/// The variable that carries permission rules.
pub const PERMISSION_ENV: &str = "OPENCODE_PERMISSION";

/// How `mode` runs (no mode: `default`).
pub fn grant(mode: Option<&str>) -> Result<Grant, Refused> {
    permission_in(&MODES, mode)
}

/// Builds the arguments after the program name.
pub fn arguments(line: &CommandLine) -> Result<Vec<OsString>, Refused> {
    let auto = grant(line.permission_mode)? == Grant::Auto;
    let mut args: Vec<OsString> = vec!["run".into(), "--format".into(), "json".into()];
    if let Some(model) = line.model {
        args.extend([
            "--model".into(),
            flag_value(FlagArgument::Model, model)?.into(),
        ]);
    }
    if auto {
        args.push("--auto".into());
    }
    if let Session::Resume(id) = line.session {
        args.extend([
            "--session".into(),
            flag_value(FlagArgument::SessionId, id)?.into(),
        ]);
    }
    let mut message = prompt_with_instructions(line)?;
    // opencode 1.18 crashes on a message that reads as a number ("42");
    // one with a space never does.
    if !message.contains(' ') {
        message.push(' ');
        fits("message", &message)?;
    }
    args.push("--".into());
    args.push(message.into());
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::command::OutputMode;
    use crate::runner::command::testing::{self, strings};

    fn line<'a>(session: &'a Session) -> CommandLine<'a> {
        CommandLine {
            mode: OutputMode::Stream,
            ..testing::line("--auto", session)
        }
    }

    #[test]
    fn the_message_is_last_after_a_separator() {
        assert_eq!(
            strings(arguments(&line(&Session::Unnamed)).unwrap()),
            ["run", "--format", "json", "--", "--auto "]
        );
    }

    #[test]
    fn model_bypass_resume_and_instructions() {
        let session = Session::Resume("ses_3f2a1b0c9d8e7f6a5b4c3d2e1f".into());
        assert_eq!(
            strings(
                arguments(&CommandLine {
                    model: Some("anthropic/claude-sonnet-4-5"),
                    permission_mode: Some("bypassPermissions"),
                    system_prompt: Some("## Protocol"),
                    prompt: "task",
                    ..line(&session)
                })
                .unwrap()
            ),
            [
                "run",
                "--format",
                "json",
                "--model",
                "anthropic/claude-sonnet-4-5",
                "--auto",
                "--session",
                "ses_3f2a1b0c9d8e7f6a5b4c3d2e1f",
                "--",
                "## Protocol\n\n---\n\ntask"
            ]
        );
    }

    #[test]
    fn modes_map_to_rules_or_auto_and_auto_mode_is_refused() {
        assert_eq!(grant(None).unwrap(), READ_ONLY);
        assert_eq!(grant(Some("plan")).unwrap(), READ_ONLY);
        assert_eq!(
            grant(Some("acceptEdits")).unwrap(),
            Grant::Rules(r#"{"bash":"deny"}"#)
        );
        assert_eq!(grant(Some("bypassPermissions")).unwrap(), Grant::Auto);
        for mode in ["auto", "yolo"] {
            assert!(
                matches!(
                    arguments(&CommandLine {
                        permission_mode: Some(mode),
                        ..line(&Session::Unnamed)
                    }),
                    Err(Refused::Unsupported { .. })
                ),
                "{mode}"
            );
        }
    }
}
