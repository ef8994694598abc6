//! What a finished run left behind — how its process ended, whether we
//! killed it, what it printed on stderr — what its caller knows that the
//! output does not say, and what to do next. Shared by every backend's
//! output reader and the runner; nothing here reads a CLI's output.

use std::fmt;

use super::result::DispatchResult;

/// How the agent's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
    /// The status could not be collected.
    Unknown,
}

/// Renders like Python's `returncode` (a signal shows as `-9`), the form
/// the original's messages and their readers know.
impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "{code}"),
            Exit::Signal(signal) => write!(f, "-{signal}"),
            Exit::Unknown => f.write_str("unknown"),
        }
    }
}

/// Why we killed the process group, if we did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kill {
    Timeout,
    Cancel,
}

/// What the process layer captured from a run. `stdout` is what an
/// ordinary (`json`) run printed; a `stream-json` run's stdout goes to its
/// `StreamCollector` instead and leaves it empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub stdout: Vec<u8>,
    /// Only the first 64 KiB are kept.
    pub stderr: Vec<u8>,
    pub exit: Exit,
    pub killed: Option<Kill>,
}

/// What the caller of a dispatch knows that the output does not say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Context<'a> {
    pub agent: &'a str,
    /// The session this run belongs to: the resumed id, or the id we
    /// generated and passed as `--session-id`. Reported when the CLI's own
    /// output names none, so even a timed-out run can be resumed.
    pub session_of_record: Option<&'a str>,
    pub session_id_was_generated: bool,
    pub first_attempt: bool,
    pub response_format_json: bool,
    pub timeout_secs: u64,
    /// The effective spend cap; `None` = no cap.
    pub budget_usd: Option<f64>,
}

/// What to do with a finished run.
#[expect(
    clippy::large_enum_variant,
    reason = "one short-lived value per run, never stored in bulk; boxing would only add an allocation"
)]
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Done(DispatchResult),
    /// An old CLI rejected `--session-id`: run once more without it (and
    /// with no session of record). Only ever returned on a first attempt.
    RetryWithoutSessionId,
}
