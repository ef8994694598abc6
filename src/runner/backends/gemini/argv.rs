//! The `gemini` command line for one dispatch (Gemini CLI 0.61): headless
//! mode with JSON or stream-JSON output, the permission mode as an
//! approval mode, a session id we choose (or the one resumed), and the
//! workspace trusted for the run, and the prompt as the single last
//! argument `--prompt=<text>`: yargs reads `-p
//! "--yolo"` as a flag with no value, never `--prompt=` followed by text.
//! Gemini has no system-prompt flag, so the dispatch protocol and the
//! agent's instructions open the prompt.

use std::ffi::OsString;

use crate::runner::command::{
    CommandLine, OutputMode, Refused, Session, fits, flag_value, mode_names, permission_in,
    prompt_with_instructions,
};
use crate::runner::preflight::FlagArgument;

/// The permission modes gemini can honour, as `--approval-mode` values.
/// `default`, `manual` and `dontAsk` all leave a tool that needs approval
/// unapproved in a headless run.
const MODES: [(&str, &str); 6] = [
    ("plan", "plan"),
    ("default", "default"),
    ("manual", "default"),
    ("dontAsk", "default"),
    ("acceptEdits", "auto_edit"),
    ("bypassPermissions", "yolo"),
];

pub const PERMISSION_MODES: [&str; MODES.len()] = mode_names(&MODES);

/// Builds the arguments after the program name.
pub fn arguments(line: &CommandLine) -> Result<Vec<OsString>, Refused> {
    let approval = permission_in(&MODES, line.permission_mode)?;
    let format = match line.mode {
        OutputMode::Json => "json",
        OutputMode::Stream => "stream-json",
    };
    let mut args: Vec<OsString> = vec![
        "--output-format".into(),
        format.into(),
        "--approval-mode".into(),
        approval.into(),
    ];
    if let Some(model) = line.model {
        args.extend([
            "--model".into(),
            flag_value(FlagArgument::Model, model)?.into(),
        ]);
    }
    match line.session {
        Session::Resume(id) => {
            args.extend([
                "--resume".into(),
                flag_value(FlagArgument::SessionId, id)?.into(),
            ]);
        }
        Session::New(id) => {
            args.extend([
                "--session-id".into(),
                flag_value(FlagArgument::SessionId, id)?.into(),
            ]);
        }
        Session::Unnamed => {}
    }
    // A headless run in a folder the user never trusted exits 55 (and
    // quietly lowers every approval mode to `default` before that); the
    // agent's project is one the user chose to dispatch to.
    args.push("--skip-trust".into());
    let prompt = format!("--prompt={}", prompt_with_instructions(line)?);
    fits("prompt with its --prompt= flag", &prompt)?;
    args.push(prompt.into());
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::command::testing::{self, strings};

    fn line<'a>(session: &'a Session) -> CommandLine<'a> {
        testing::line("--yolo", session)
    }

    #[test]
    fn the_prompt_is_one_prompt_equals_argument() {
        assert_eq!(
            strings(arguments(&line(&Session::Unnamed)).unwrap()),
            [
                "--output-format",
                "json",
                "--approval-mode",
                "default",
                "--skip-trust",
                "--prompt=--yolo"
            ]
        );
    }

    #[test]
    fn sessions_model_stream_and_modes() {
        let new = Session::New("0b7d2a6e-1c3f-4e5a-9b8c-7d6e5f4a3b21".into());
        let args = strings(
            arguments(&CommandLine {
                mode: OutputMode::Stream,
                model: Some("gemini-2.5-pro"),
                permission_mode: Some("acceptEdits"),
                system_prompt: Some("## Protocol"),
                prompt: "task",
                ..line(&new)
            })
            .unwrap(),
        );
        assert_eq!(
            args,
            [
                "--output-format",
                "stream-json",
                "--approval-mode",
                "auto_edit",
                "--model",
                "gemini-2.5-pro",
                "--session-id",
                "0b7d2a6e-1c3f-4e5a-9b8c-7d6e5f4a3b21",
                "--skip-trust",
                "--prompt=## Protocol\n\n---\n\ntask"
            ]
        );
        let resume = Session::Resume("c625f71f-1548-46de-9e7d-093031180f88".into());
        let args = strings(
            arguments(&CommandLine {
                permission_mode: Some("bypassPermissions"),
                ..line(&resume)
            })
            .unwrap(),
        );
        assert!(args.windows(2).any(|w| w == ["--approval-mode", "yolo"]));
        assert!(args.windows(2).any(|w| w[0] == "--resume"));
    }

    #[test]
    fn auto_mode_and_flag_like_values_are_refused() {
        assert!(matches!(
            arguments(&CommandLine {
                permission_mode: Some("auto"),
                ..line(&Session::Unnamed)
            }),
            Err(Refused::Unsupported { .. })
        ));
        assert!(matches!(
            arguments(&line(&Session::Resume("-1".into()))),
            Err(Refused::BadFlagValue { .. })
        ));
    }
}
