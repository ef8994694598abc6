//! The seam between one dispatch and the agent CLI that runs it. A
//! `Backend` knows one CLI: its executable, the files it reads in a
//! project, the command line for one run, and how to read what it prints
//! (an `OutputReader` fed by the process layer as output arrives). The
//! runner does the rest the same way for every backend — the depth guard,
//! the directory check, session ids, the prompts, supervision through a
//! `Transport` — and the services above it never learn which CLI ran.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;

use super::command::{CommandLine, OutputMode, Refused};
use super::environment;
use super::process::StdoutSink;
use super::result::{DispatchResult, ErrorType};
use super::stream_sink::Progress;
use super::verdict::{Captured, Context, Verdict};
use crate::config::BackendName;
use crate::config::project::AgentFiles;

/// How to tell whether a CLI is logged in without reaching its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginCheck {
    /// Run it with these arguments: exit 0 means logged in, and its first
    /// line of output says how.
    Command(&'static [&'static str]),
    /// Logged in when one of these variables is set, or one of these
    /// files (relative to the home directory) exists.
    Credentials {
        env: &'static [&'static str],
        home_files: &'static [&'static str],
        /// It still runs without (free models): not a problem.
        optional: bool,
    },
}

/// What a CLI can be asked to do beyond running a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abilities {
    /// Starts a new session under an id we choose (else the CLI picks it
    /// and reports it in its output).
    pub names_new_sessions: bool,
    /// Takes lists of allowed and disallowed tools.
    pub tool_lists: bool,
    /// Stops a run at a spend cap in US dollars.
    pub spend_cap: bool,
    /// Takes a turn limit, an effort level and fallback models.
    pub run_controls: bool,
}

impl Abilities {
    /// A CLI that only runs a prompt.
    pub const NONE: Abilities = Abilities {
        names_new_sessions: false,
        tool_lists: false,
        spend_cap: false,
        run_controls: false,
    };
}

/// What never changes about one CLI: its name and executable, what it can
/// do, the files it reads, how to install it and log it in. Each backend
/// holds one as a constant; the `Backend` methods of the same names read it.
pub struct Cli {
    /// The name an agent's `backend` key gives it.
    pub name: BackendName,
    /// The executable's name, looked up on `PATH`.
    pub program: &'static str,
    pub abilities: Abilities,
    /// The permission modes it can honour with its own flags (no mode set
    /// is always `default`); `None`: any mode is passed through as given.
    /// A mode it cannot honour is refused, never dropped.
    pub permission_modes: Option<&'static [&'static str]>,
    /// The files it reads in a project on its own: what discovery shows.
    pub files: AgentFiles,
    /// How to install it: a command or where to read how.
    pub install: &'static str,
    /// How `doctor` can tell, without the network, whether it is logged in.
    pub login_check: LoginCheck,
    /// How a person logs it in, a full sentence.
    pub login_hint: &'static str,
}

pub trait Backend: Sync {
    /// This CLI's constant facts.
    fn cli(&self) -> &'static Cli;

    fn name(&self) -> BackendName {
        self.cli().name
    }

    fn program(&self) -> &'static str {
        self.cli().program
    }

    fn abilities(&self) -> Abilities {
        self.cli().abilities
    }

    fn permission_modes(&self) -> Option<&'static [&'static str]> {
        self.cli().permission_modes
    }

    /// Where the executable is; `None` when it is not installed.
    fn locate(&self) -> Option<PathBuf> {
        environment::find_on_path(self.program())
    }

    fn project_files(&self) -> AgentFiles {
        self.cli().files
    }

    fn install(&self) -> &'static str {
        self.cli().install
    }

    fn login_check(&self) -> LoginCheck {
        self.cli().login_check
    }

    fn login_hint(&self) -> &'static str {
        self.cli().login_hint
    }

    /// The result when the executable is not installed, with the fix.
    fn not_found(&self, agent: &str) -> DispatchResult {
        DispatchResult::failure(
            agent,
            ErrorType::NotFound,
            format!(
                "{} CLI not found in PATH. Install: {}",
                self.program(),
                self.install()
            ),
        )
    }

    /// The arguments after the program name for one run. Caller-supplied
    /// text must reach the CLI as values, never as flags.
    fn arguments(&self, line: &CommandLine) -> Result<Vec<OsString>, Refused>;

    /// Variables to set in the CLI's environment for one run, beside the
    /// dispatch depth: settings a CLI takes only that way.
    fn environment(&self, _line: &CommandLine) -> Vec<(OsString, OsString)> {
        Vec::new()
    }

    /// A fresh reader for one run's stdout.
    fn reader(&self, mode: OutputMode, progress: Option<Progress>) -> Box<dyn OutputReader>;

    /// The result of a run whose process could not be started.
    fn spawn_failure(&self, ctx: &Context, err: &io::Error) -> DispatchResult {
        let error_type = match err.kind() {
            // E.g. the agent's directory vanished between the check and the spawn.
            io::ErrorKind::NotFound => ErrorType::NotFound,
            io::ErrorKind::PermissionDenied => ErrorType::Permission,
            _ => ErrorType::CliError,
        };
        DispatchResult::failure(ctx.agent, error_type, err.to_string())
    }
}

/// Reads one run's stdout as it arrives (as a `StdoutSink`), then judges
/// the run.
pub trait OutputReader: StdoutSink {
    /// Output was cut at the capture bound in a way that cost the answer.
    fn lost_to_cut(&self) -> bool;
    /// The verdict on the run, from what arrived and how it ended
    /// (`ended.stdout` is empty: the reader has the stdout).
    fn finish(&mut self, ctx: &Context, ended: Captured) -> Verdict;
}

impl StdoutSink for Box<dyn OutputReader> {
    fn chunk(&mut self, bytes: &[u8]) {
        (**self).chunk(bytes);
    }
    fn end(&mut self) {
        (**self).end();
    }
    fn explains_outcome(&self) -> bool {
        (**self).explains_outcome()
    }
}
