//! The `codex exec` command line for one dispatch (Codex CLI 0.171): JSON
//! events on stdout, no git-repository check (an agent's project need not
//! be one), the dispatch protocol and the agent's instructions as the
//! `developer_instructions` config value, the permission mode as a sandbox
//! policy, then `--` and the prompt, so the task is never read as a flag.
//! A resumed session is `codex exec <sandbox> resume … <id> -- <prompt>`:
//! `resume` itself refuses the sandbox flags, `exec` takes them for both.

use std::ffi::OsString;

use crate::runner::command::{
    CommandLine, Refused, Session, fits, flag_value, mode_names, permission_in,
};
use crate::runner::preflight::FlagArgument;

/// The permission modes codex can honour, and how: its sandbox policy for
/// the shell commands the model runs (`codex exec` never stops to ask).
/// `default`, `manual` and `dontAsk` ask in Claude Code and so stop at
/// reading in a headless run: the read-only sandbox is the same reach.
/// `auto` is codex's own automatic reviewer of escalation requests over
/// the workspace-write sandbox, as Claude Code's auto mode is a classifier.
const MODES: [(&str, &[&str]); 7] = [
    ("plan", READ_ONLY),
    ("default", READ_ONLY),
    ("manual", READ_ONLY),
    ("dontAsk", READ_ONLY),
    ("acceptEdits", &["-s", "workspace-write"]),
    ("auto", &["--approve-for-me"]),
    (
        "bypassPermissions",
        &["--dangerously-bypass-approvals-and-sandbox"],
    ),
];

const READ_ONLY: &[&str] = &["-s", "read-only"];

pub const PERMISSION_MODES: [&str; MODES.len()] = mode_names(&MODES);

/// Builds the arguments after the program name.
pub fn arguments(line: &CommandLine) -> Result<Vec<OsString>, Refused> {
    fits("task prompt (task, context, caller and goal)", line.prompt)?;
    let sandbox = permission_in(&MODES, line.permission_mode)?;
    let mut args: Vec<OsString> = vec!["exec".into()];
    args.extend(sandbox.iter().map(OsString::from));
    if let Session::Resume(_) = line.session {
        args.push("resume".into());
    }
    args.extend(["--json".into(), "--skip-git-repo-check".into()]);
    if let Some(model) = line.model {
        args.extend(["-m".into(), flag_value(FlagArgument::Model, model)?.into()]);
    }
    if let Some(text) = line.system_prompt {
        fits(
            "system prompt (dispatch protocol and the agent's instructions)",
            text,
        )?;
        let value = format!("developer_instructions={}", toml_string(text));
        fits("system prompt as a codex config value", &value)?;
        args.extend(["-c".into(), value.into()]);
    }
    if let Session::Resume(id) = line.session {
        args.push(flag_value(FlagArgument::SessionId, id)?.into());
    }
    args.push("--".into());
    args.push(line.prompt.into());
    Ok(args)
}

/// `text` as a TOML basic string, which is how `-c key=value` reads a
/// value: quotes and backslashes escaped, and every control character
/// (TOML allows none raw but tab) as an escape.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push('\t'),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::command::testing::{self, strings};

    fn line<'a>(session: &'a Session) -> CommandLine<'a> {
        testing::line("--dangerously-bypass-approvals-and-sandbox", session)
    }

    #[test]
    fn a_new_session_is_read_only_with_the_prompt_after_a_separator() {
        assert_eq!(
            strings(arguments(&line(&Session::Unnamed)).unwrap()),
            [
                "exec",
                "-s",
                "read-only",
                "--json",
                "--skip-git-repo-check",
                "--",
                "--dangerously-bypass-approvals-and-sandbox"
            ]
        );
    }

    #[test]
    fn resume_model_modes_and_instructions() {
        let session = Session::Resume("01a23285-c555-71d0-862c-707000f69079".into());
        let args = strings(
            arguments(&CommandLine {
                model: Some("gpt-5-codex"),
                permission_mode: Some("bypassPermissions"),
                system_prompt: Some("## Protocol\n\"quoted\" \\ tab\tbell\u{7}"),
                prompt: "task",
                ..line(&session)
            })
            .unwrap(),
        );
        assert_eq!(
            args,
            [
                "exec",
                "--dangerously-bypass-approvals-and-sandbox",
                "resume",
                "--json",
                "--skip-git-repo-check",
                "-m",
                "gpt-5-codex",
                "-c",
                "developer_instructions=\"## Protocol\\n\\\"quoted\\\" \\\\ tab\tbell\\u0007\"",
                "01a23285-c555-71d0-862c-707000f69079",
                "--",
                "task"
            ]
        );
        let edits = strings(
            arguments(&CommandLine {
                permission_mode: Some("acceptEdits"),
                ..line(&Session::Unnamed)
            })
            .unwrap(),
        );
        assert_eq!(edits[1..3], ["-s", "workspace-write"]);
        let auto = strings(
            arguments(&CommandLine {
                permission_mode: Some("auto"),
                ..line(&Session::Unnamed)
            })
            .unwrap(),
        );
        assert_eq!(auto[1], "--approve-for-me");
    }

    #[test]
    fn a_mode_codex_cannot_honour_and_flag_like_values_are_refused() {
        assert_eq!(
            arguments(&CommandLine {
                permission_mode: Some("dangerous"),
                ..line(&Session::Unnamed)
            })
            .unwrap_err(),
            Refused::Unsupported {
                what: "permission mode",
                value: "dangerous".into()
            }
        );
        assert!(matches!(
            arguments(&line(&Session::Resume("--last".into()))).unwrap_err(),
            Refused::BadFlagValue {
                argument: FlagArgument::SessionId,
                ..
            }
        ));
        assert!(matches!(
            arguments(&CommandLine {
                model: Some("-c"),
                ..line(&Session::Unnamed)
            })
            .unwrap_err(),
            Refused::BadFlagValue {
                argument: FlagArgument::Model,
                ..
            }
        ));
    }
}
