//! What one run asks of an agent CLI, whichever it is: the output mode,
//! the session, the prompts and the agent's settings (`CommandLine`), and
//! why a command line may not be built (`Refused`). Each backend turns a
//! `CommandLine` into its own argv.

use super::preflight::FlagArgument;
use crate::config::rules::{FlagValueProblem, check_flag_value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// `--output-format json`: one answer at the end.
    Json,
    /// `--output-format stream-json --verbose`: one event per line.
    Stream,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// Continue this existing session.
    Resume(String),
    /// Start a session under this pre-generated id, so even a run that
    /// times out can be resumed.
    New(String),
    /// Let the CLI pick (old CLIs that reject `--session-id`).
    Unnamed,
}

#[derive(Debug, Clone)]
pub struct CommandLine<'a> {
    pub mode: OutputMode,
    pub prompt: &'a str,
    pub system_prompt: Option<&'a str>,
    pub session: &'a Session,
    pub budget_usd: Option<f64>,
    pub model: Option<&'a str>,
    pub permission_mode: Option<&'a str>,
    pub allowed_tools: &'a [String],
    pub disallowed_tools: &'a [String],
    /// The agent's tool list is explicitly empty: no tool at all (an empty
    /// `allowed_tools` alone would leave the CLI's default set).
    pub no_tools: bool,
    /// The JSON Schema the answer must follow (one line), for CLIs that
    /// can enforce one; every CLI also gets it in the prompt.
    pub json_schema: Option<&'a str>,
    /// Claude Code's run controls (refused for other CLIs before a run).
    pub fallback_model: Option<&'a str>,
    pub effort: Option<&'a str>,
    pub max_turns: Option<u64>,
}

impl<'a> CommandLine<'a> {
    /// A run of `prompt` with no system prompt and no agent setting.
    pub fn plain(mode: OutputMode, prompt: &'a str, session: &'a Session) -> CommandLine<'a> {
        CommandLine {
            mode,
            prompt,
            system_prompt: None,
            session,
            budget_usd: None,
            model: None,
            permission_mode: None,
            allowed_tools: &[],
            disallowed_tools: &[],
            no_tools: false,
            json_schema: None,
            fallback_model: None,
            effort: None,
            max_turns: None,
        }
    }
}

/// The longest single argument Linux passes to a program (`MAX_ARG_STRLEN`,
/// 32 pages), its terminating NUL included.
pub const MAX_ARGUMENT_BYTES: usize = 32 * 4096;

/// Why a command line was not built; nothing is spawned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A flag value that is blank, has control characters, or would have
    /// been read as a flag itself.
    BadFlagValue {
        argument: FlagArgument,
        value: String,
        problem: FlagValueProblem,
    },
    /// A text too long for one argument: `execve` would fail with E2BIG.
    TooLong { what: &'static str, bytes: usize },
    /// A text holding a NUL byte, which no command-line argument can carry.
    NulByte { what: &'static str },
    /// A setting this CLI has no flag for (the agent was checked when it
    /// was saved; this stops a run its check did not see).
    Unsupported { what: &'static str, value: String },
}

/// `value` as the value of a flag, refused (as `argument`) when it is
/// blank, has control characters, or could be read as a flag itself.
pub fn flag_value(argument: FlagArgument, value: &str) -> Result<&str, Refused> {
    check_flag_value(value).map_err(|problem| Refused::BadFlagValue {
        argument,
        value: value.to_owned(),
        problem,
    })?;
    Ok(value)
}

/// The task prompt with the system prompt above it, for CLIs that take no
/// system prompt of their own; checked to fit in one argument.
pub fn prompt_with_instructions(line: &CommandLine) -> Result<String, Refused> {
    let prompt = match line.system_prompt {
        Some(system) => format!("{system}\n\n---\n\n{}", line.prompt),
        None => line.prompt.to_owned(),
    };
    fits(
        "prompt (dispatch protocol, the agent's instructions, task, context, caller and goal)",
        &prompt,
    )?;
    Ok(prompt)
}

/// Whether `text` can be passed as one command-line argument.
pub fn fits(what: &'static str, text: &str) -> Result<(), Refused> {
    if text.len() >= MAX_ARGUMENT_BYTES {
        Err(Refused::TooLong {
            what,
            bytes: text.len(),
        })
    } else if text.contains('\0') {
        Err(Refused::NulByte { what })
    } else {
        Ok(())
    }
}

/// Helpers for the argv tests of every backend.
/// What `mode` is in a CLI's permission table (no mode set is `default`);
/// a mode the table lacks is refused, never dropped.
pub fn permission_in<T: Copy>(table: &[(&str, T)], mode: Option<&str>) -> Result<T, Refused> {
    let mode = mode.unwrap_or("default");
    table
        .iter()
        .find(|(name, _)| *name == mode)
        .map(|(_, value)| *value)
        .ok_or_else(|| Refused::Unsupported {
            what: "permission mode",
            value: mode.to_owned(),
        })
}

/// The mode names of a CLI's permission table, in its order: what its
/// backend says it honours, so the two cannot drift apart.
pub const fn mode_names<T: Copy, const N: usize>(
    table: &[(&'static str, T); N],
) -> [&'static str; N] {
    let mut names = [""; N];
    let mut i = 0;
    while i < N {
        names[i] = table[i].0;
        i += 1;
    }
    names
}

#[cfg(test)]
pub mod testing {
    use std::ffi::OsString;

    use super::{CommandLine, OutputMode, Session};

    pub fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter()
            .map(|a| a.into_string().unwrap_or_default())
            .collect()
    }

    /// A json-mode run of `prompt` with nothing else set.
    pub fn line<'a>(prompt: &'a str, session: &'a Session) -> CommandLine<'a> {
        CommandLine::plain(OutputMode::Json, prompt, session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: [(&str, u8); 3] = [("plan", 1), ("default", 2), ("auto", 3)];

    #[test]
    fn a_permission_table_names_its_modes_and_no_mode_is_default() {
        assert_eq!(mode_names(&TABLE), ["plan", "default", "auto"]);
        assert_eq!(permission_in(&TABLE, None).ok(), Some(2));
        assert_eq!(permission_in(&TABLE, Some("auto")).ok(), Some(3));
        assert!(matches!(
            permission_in(&TABLE, Some("bypassPermissions")),
            Err(Refused::Unsupported { value, .. }) if value == "bypassPermissions"
        ));
    }
}
