//! Everything a CLI command can fail with, how it is worded, which hint
//! goes with it, and its exit code: 2 when the command line itself is
//! wrong (nothing was attempted), 1 when the operation failed.

use std::fmt;
use std::io;

use crate::config::patch::FieldError;
use crate::config::rules::InvalidName;
use crate::config::store::{LoadError, MutateError, SaveError};
use crate::jobs::store::StoreError;
use crate::pyfmt::repr_str;
use crate::runner::backends::unsupported::Unsupported;
use crate::state::flock::LockError;
use crate::usage::ReadError;

/// The command line is wrong; `command` names the `--help` to read.
#[derive(Debug)]
pub enum UsageError {
    Parse(lexopt::Error),
    /// `suggestion` is the nearest command (e.g. `group list`), if any.
    UnknownCommand {
        name: String,
        suggestion: Option<String>,
    },
    MissingArgument(&'static str),
    NotANumber {
        option: &'static str,
        value: String,
        expected: &'static str,
    },
    OutOfRange {
        option: &'static str,
        value: String,
        allowed: String,
    },
    InvalidName(InvalidName),
    /// An agent or group value that breaks its field's rule; worded by
    /// `config::patch`, as for the MCP tools.
    Field(FieldError),
    NothingToUpdate(&'static str),
    /// Two options that exclude each other were both given.
    Conflict(&'static str, &'static str),
    /// Not 32 lowercase hex characters; rejected before any file access.
    InvalidJobId(String),
    /// `gc --days` of zero or less (`--all` is the deliberate spelling).
    DaysNotPositive(String),
}

impl UsageError {
    /// A remedy more specific than "read the --help", where there is one.
    fn hint(&self) -> Option<String> {
        match self {
            UsageError::InvalidJobId(_) => {
                Some("job ids are listed by 'agent-dispatch jobs'".into())
            }
            UsageError::UnknownCommand {
                suggestion: Some(near),
                ..
            } => Some(format!(
                "did you mean '{near}'? ('agent-dispatch --help' lists the commands)"
            )),
            UsageError::DaysNotPositive(_) => {
                Some("use --all to delete every finished job on purpose".into())
            }
            _ => None,
        }
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // lexopt quotes arguments with double quotes; keep one style.
            UsageError::Parse(lexopt::Error::UnexpectedArgument(arg)) => {
                write!(
                    f,
                    "unexpected argument {}",
                    repr_str(&arg.to_string_lossy())
                )
            }
            UsageError::Parse(err) => err.fmt(f),
            UsageError::UnknownCommand { name, .. } => {
                write!(f, "unknown command {}", repr_str(name))
            }
            UsageError::MissingArgument(name) => write!(f, "missing argument {name}"),
            UsageError::NotANumber {
                option,
                value,
                expected,
            } => write!(f, "{option} expects {expected}, got {}", repr_str(value)),
            UsageError::OutOfRange {
                option,
                value,
                allowed,
            } => write!(f, "{option} must be {allowed} (got {value})"),
            UsageError::InvalidName(err) => err.fmt(f),
            UsageError::Field(err) => err.fmt(f),
            UsageError::NothingToUpdate(what) => write!(f, "nothing to update: pass {what}"),
            UsageError::Conflict(first, second) => {
                write!(f, "{first} and {second} cannot be used together")
            }
            UsageError::InvalidJobId(id) => write!(
                f,
                "invalid job id {} (expected 32 lowercase hex characters)",
                repr_str(id)
            ),
            UsageError::DaysNotPositive(days) => write!(f, "--days must be > 0 (got {days})"),
        }
    }
}

#[derive(Debug)]
pub enum CliError {
    Usage {
        /// The command whose `--help` explains the fix, e.g. `group add`.
        command: &'static str,
        error: UsageError,
    },
    Load(LoadError),
    Save(SaveError),
    Lock(LockError),
    AgentExists(String),
    /// A remote agent's directory could not be confirmed on its host.
    RemoteCheck {
        name: String,
        problem: crate::views::remote_project::DirectoryCheck,
    },
    /// The agent's CLI cannot honour one of its settings.
    Unsupported {
        name: String,
        problem: Unsupported,
    },
    AgentNotFound {
        name: String,
        available: Vec<String>,
    },
    GroupExists(String),
    GroupNotFound {
        name: String,
        available: Vec<String>,
    },
    UnknownMember(String),
    /// A dispatch ran and failed; `hint` says what to do about it.
    DispatchFailed {
        message: String,
        hint: Option<String>,
    },
    /// The jobs directory could not be read or changed.
    JobStorage {
        /// `read` or `access`, for the message.
        action: &'static str,
        error: StoreError,
    },
    JobNotFound(String),
    /// `cancel` of a running job: only the MCP server that owns its
    /// process may kill it, and the CLI never kills processes.
    JobRunning(String),
    /// `job --follow` of a job no running server can finish.
    JobAbandoned(String),
    /// Ctrl-C or SIGTERM: the dispatch was cancelled and its processes
    /// killed.
    Interrupted,
    /// Writing our own output failed (a closed or full stdout).
    Output(io::Error),
    /// The usage journal exists but could not be read (`stats`).
    UsageJournal(ReadError),
    /// `doctor` found failures (or, with `--strict`, only warnings).
    ChecksFailed {
        issues: usize,
        warnings: usize,
    },
    /// `init`: `claude mcp add-json` did not succeed; `manual` is the
    /// command to run by hand.
    RegistrationFailed {
        reason: String,
        manual: String,
    },
}

impl CliError {
    pub fn usage(command: &'static str, error: UsageError) -> CliError {
        CliError::Usage { command, error }
    }

    /// Wraps a job-store failure of a command that tried to `action`
    /// (`read` or `access`) the jobs directory.
    pub fn job_storage(action: &'static str) -> impl Fn(StoreError) -> CliError {
        move |error| CliError::JobStorage { action, error }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage { .. } => 2,
            // The shell's convention for "ended by SIGINT".
            CliError::Interrupted => 130,
            _ => 1,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            CliError::Usage { error, .. } if error.hint().is_some() => error.hint(),
            CliError::Usage { command, .. } => {
                let command = if command.is_empty() {
                    String::new()
                } else {
                    format!("{command} ")
                };
                Some(format!("run 'agent-dispatch {command}--help' for usage"))
            }
            CliError::Load(err) => Some(err.remedy().to_owned()),
            CliError::Save(_) => Some("check free space and permissions of the config directory".into()),
            CliError::Lock(LockError::TimedOut { .. }) => Some(
                "another agent-dispatch (or an editor) is changing the config; retry in a moment".into(),
            ),
            CliError::Lock(LockError::Open { .. }) => {
                Some("check permissions of the config directory".into())
            }
            CliError::AgentExists(name) => Some(format!(
                "change it with 'agent-dispatch update {name} …', or remove it first with 'agent-dispatch remove {name}'"
            )),
            CliError::AgentNotFound { available, .. } => Some(listing_hint("agents", available, "list")),
            CliError::GroupExists(name) => Some(format!(
                "change it with 'agent-dispatch group update {name} …', or remove it first with 'agent-dispatch group remove {name}'"
            )),
            CliError::GroupNotFound { available, .. } => {
                Some(listing_hint("groups", available, "group list"))
            }
            CliError::UnknownMember(_) => Some(
                "add the agent first ('agent-dispatch add NAME DIRECTORY') or check the name with 'agent-dispatch list'".into(),
            ),
            CliError::DispatchFailed { hint, .. } => hint.clone(),
            CliError::JobStorage {
                error: StoreError::Lock(LockError::TimedOut { .. }),
                ..
            } => Some("another agent-dispatch is changing jobs; retry in a moment".into()),
            CliError::JobStorage { .. } => Some(
                "check the jobs directory's permissions, or point $AGENT_DISPATCH_JOBS_DIR elsewhere"
                    .into(),
            ),
            CliError::JobNotFound(_) => Some(
                "'agent-dispatch jobs' lists jobs; finished ones may have been deleted by 'gc'"
                    .into(),
            ),
            CliError::JobRunning(_) => Some(
                "cancel it with the dispatch_cancel tool of the server that started it, or wait for it to finish"
                    .into(),
            ),
            CliError::JobAbandoned(_) => Some(
                "the server that ran it is gone; the next server to start marks it failed once it has been silent for an hour"
                    .into(),
            ),
            CliError::UsageJournal(_) => Some(
                "check the journal's permissions, or point $AGENT_DISPATCH_USAGE_LOG elsewhere".into(),
            ),
            CliError::RegistrationFailed { manual, .. } => {
                Some(format!("the config is in place; register by hand: {manual}"))
            }
            CliError::Interrupted
            | CliError::Output(_)
            | CliError::ChecksFailed { .. }
            // The problem's text says what to change.
            | CliError::Unsupported { .. } => None,
            CliError::RemoteCheck { .. } => Some(
                "fix the host, its ssh_options or the directory; or add it anyway with --no-check".into(),
            ),
        }
    }
}

fn listing_hint(what: &str, available: &[String], command: &str) -> String {
    if available.is_empty() {
        format!("no {what} are configured yet ('agent-dispatch {command}' shows them)")
    } else {
        format!("configured {what}: {}", available.join(", "))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage { error, .. } => error.fmt(f),
            CliError::Load(err) => err.fmt(f),
            CliError::Save(err) => err.fmt(f),
            CliError::Lock(err) => write!(f, "config is locked: {err}"),
            CliError::AgentExists(name) => write!(f, "agent '{name}' already exists"),
            CliError::RemoteCheck { name, problem } => {
                write!(f, "agent {} not saved: {problem}", repr_str(name))
            }
            CliError::Unsupported { name, problem } => {
                write!(f, "agent {} not saved: {problem}", repr_str(name))
            }
            CliError::AgentNotFound { name, .. } => write!(f, "agent {} not found", repr_str(name)),
            CliError::GroupExists(name) => write!(f, "group '{name}' already exists"),
            CliError::GroupNotFound { name, .. } => write!(f, "group {} not found", repr_str(name)),
            CliError::UnknownMember(name) => {
                write!(f, "--member {}: no such agent", repr_str(name))
            }
            CliError::DispatchFailed { message, .. } => f.write_str(message),
            CliError::JobStorage { action, error } => {
                write!(f, "could not {action} job storage: {error}")
            }
            CliError::JobNotFound(id) => write!(f, "job {id} not found"),
            CliError::JobAbandoned(id) => {
                write!(
                    f,
                    "job {id} is still marked running, but no server is running to finish it"
                )
            }
            CliError::JobRunning(id) => write!(
                f,
                "job {id} is running; its subprocess belongs to the MCP server that started it, which alone can stop it"
            ),
            CliError::Interrupted => {
                f.write_str("interrupted; the dispatch was cancelled and its processes killed")
            }
            CliError::Output(err) => write!(f, "could not write output: {err}"),
            CliError::UsageJournal(err) => err.fmt(f),
            CliError::ChecksFailed { issues, warnings } => {
                let plural =
                    |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
                if *issues == 0 {
                    write!(
                        f,
                        "doctor found {} (--strict)",
                        plural(*warnings, "warning")
                    )
                } else {
                    write!(f, "doctor found {}", plural(*issues, "issue"))
                }
            }
            CliError::RegistrationFailed { reason, .. } => write!(
                f,
                "could not register the MCP server with Claude Code: claude mcp add-json {reason}"
            ),
        }
    }
}

impl From<MutateError<CliError>> for CliError {
    fn from(err: MutateError<CliError>) -> CliError {
        match err {
            MutateError::Lock(err) => CliError::Lock(err),
            MutateError::Load(err) => CliError::Load(err),
            MutateError::Save(err) => CliError::Save(err),
            MutateError::Rejected(err) => err,
        }
    }
}

impl From<LoadError> for CliError {
    fn from(err: LoadError) -> CliError {
        CliError::Load(err)
    }
}
