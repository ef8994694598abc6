//! What one run asks of an agent CLI, whichever it is: the output mode,
//! the session, the prompts and the agent's settings (`CommandLine`), and
//! why a command line may not be built (`Refused`). Each backend turns a
//! `CommandLine` into its own argv.

use super::preflight::FlagArgument;
use crate::config::rules::FlagValueProblem;

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
