//! Asking the installed `claude` about itself — `--version`, `--help`,
//! `auth status`, `mcp list` — and reading its answers. Every probe runs
//! with stdin `/dev/null`, in its own process group, under a hard time
//! limit after which the whole group is killed; its output is decoded
//! lossily, so a CLI that hangs or prints garbage costs a warning, never a
//! hang or a crash. Used by `doctor` and by `init`; never runs a dispatch.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::runner::CancelToken;
use crate::runner::environment::find_on_path;
use crate::runner::process::{self, Launch, StdoutSink};
use crate::runner::verdict::{Exit, Kill};

/// How long one probe may take before it is killed.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The name under which `init` registers the server with Claude Code.
pub const SERVER_NAME: &str = "agent-dispatch";

/// A probe's stdout beyond this is drained but not kept: `--help` is a few
/// kilobytes, `mcp list` one line per server.
const KEEP_BYTES: usize = 1024 * 1024;

/// What came of running `claude <args>`.
#[derive(Debug)]
pub enum Probe {
    Ran {
        exit: Exit,
        stdout: String,
        stderr: String,
    },
    TimedOut(Duration),
    NotStarted(io::Error),
}

impl Probe {
    /// Stdout of a run that exited 0.
    pub fn succeeded(&self) -> Option<&str> {
        match self {
            Probe::Ran {
                exit: Exit::Code(0),
                stdout,
                ..
            } => Some(stdout),
            _ => None,
        }
    }
}

/// Why a probe gave no usable answer, for a warning's message.
impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Ran { exit, stderr, .. } => {
                write!(f, "exited with status {exit}")?;
                match first_line(stderr) {
                    "" => Ok(()),
                    line => write!(f, ": {line}"),
                }
            }
            Probe::TimedOut(after) => write!(f, "timed out after {} s", after.as_secs()),
            Probe::NotStarted(err) => write!(f, "could not be started: {err}"),
        }
    }
}

/// Keeps the first `KEEP_BYTES` of stdout.
#[derive(Default)]
struct Bounded(Vec<u8>);

impl StdoutSink for Bounded {
    fn chunk(&mut self, bytes: &[u8]) {
        // A probe's verdict needs only the head of its output.
        let _ = process::append_bounded(&mut self.0, bytes, KEEP_BYTES);
    }
    fn explains_outcome(&self) -> bool {
        !self.0.is_empty()
    }
}

/// The first line of a CLI's output that says something: not blank, and
/// not one of the `WARNING` lines some CLIs print before everything (codex
/// with a home under /tmp); empty when there is none.
pub fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with("WARNING"))
        .unwrap_or_default()
}

/// Runs `claude <args>` and waits at most `timeout`.
pub fn probe(claude: &Path, args: &[&str], timeout: Duration) -> Probe {
    let launch = Launch {
        program: claude.to_path_buf(),
        args: args.iter().map(Into::into).collect(),
        cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        env: Vec::new(),
    };
    let deadline = Instant::now() + timeout;
    match process::run(&launch, deadline, &CancelToken::new(), Bounded::default()) {
        Err(err) => Probe::NotStarted(err),
        Ok(run) if run.captured.killed == Some(Kill::Timeout) => Probe::TimedOut(timeout),
        Ok(run) => {
            let stdout = std::mem::take(&mut process::lock_sink(&run.sink).0);
            Probe::Ran {
                exit: run.captured.exit,
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
                stderr: String::from_utf8_lossy(&run.captured.stderr).into_owned(),
            }
        }
    }
}

/// The version number in `claude --version` output (`2.1.330 (Claude
/// Code)` → `2.1.330`).
pub fn version_number(output: &str) -> Option<&str> {
    output
        .split_whitespace()
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))
}

/// Whether `claude --help` lists `--append-system-prompt`.
pub fn supports_append_system_prompt(help: &str) -> bool {
    help.contains("--append-system-prompt")
}

/// Whether the CLI takes the prompt as a positional argument, and so
/// accepts the `--` we put before it. Every Claude Code release whose
/// parser is commander.js treats `--` as "end of options", and every such
/// release shows the prompt in its help: `Usage: claude [options]
/// [command] [prompt]` and/or an `Arguments:` section listing `prompt`.
/// A help text with neither is not one we know, so we do not vouch for it.
pub fn takes_positional_prompt(help: &str) -> bool {
    let mut in_arguments = false;
    for line in help.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("Usage:") && trimmed.contains("[prompt]") {
            return true;
        }
        if !line.starts_with(' ') {
            in_arguments = trimmed == "Arguments:";
            continue;
        }
        if in_arguments && trimmed.split_whitespace().next() == Some("prompt") {
            return true;
        }
    }
    false
}

/// The login state `claude auth status` reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Login {
    /// Logged in; the auth method when the CLI names one.
    LoggedIn(Option<String>),
    LoggedOut,
}

/// Reads `claude auth status` (JSON by default; older or future versions
/// may print text). `None` when the answer says neither.
pub fn login_state(probe: &Probe) -> Option<Login> {
    let Probe::Ran { exit, stdout, .. } = probe else {
        return None;
    };
    if let Ok(Value::Object(status)) = serde_json::from_str::<Value>(stdout.trim()) {
        return match status.get("loggedIn").and_then(Value::as_bool)? {
            true => Some(Login::LoggedIn(
                status
                    .get("authMethod")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            )),
            false => Some(Login::LoggedOut),
        };
    }
    let lower = stdout.to_lowercase();
    if lower.contains("not logged in") {
        Some(Login::LoggedOut)
    } else if *exit == Exit::Code(0) && lower.contains("logged in") {
        Some(Login::LoggedIn(None))
    } else {
        None
    }
}

/// The command Claude Code runs for the `agent-dispatch` server, read from
/// `claude mcp list` (`agent-dispatch: /path/agent-dispatch serve - ✓
/// Connected`). `Some("")` when the server is listed without a command;
/// `None` when it is not listed.
pub fn registered_command(list: &str) -> Option<String> {
    list.lines().find_map(|line| {
        let rest = line.strip_prefix(SERVER_NAME)?;
        if let Some(command) = rest.strip_prefix(':') {
            let command = command.trim();
            let command = command.rsplit_once(" - ").map_or(command, |(c, _)| c);
            Some(command.trim().to_owned())
        } else if rest.starts_with(char::is_whitespace) {
            Some(String::new())
        } else {
            None
        }
    })
}

/// Whether a registered `command` runs `exe serve`. The program may be
/// written as this binary's path, a symlink to it, or a bare name found on
/// `PATH`; a path containing spaces is tried at every space.
pub fn command_runs(command: &str, exe: &Path) -> bool {
    let command = command.trim();
    let exe = exe.canonicalize().unwrap_or_else(|_| exe.to_path_buf());
    let splits = command
        .match_indices(' ')
        .map(|(at, _)| at)
        .chain(std::iter::once(command.len()));
    for at in splits {
        let (program, args) = command.split_at(at);
        if args.trim() != "serve" {
            continue;
        }
        let program = Path::new(program);
        let resolved = if program.is_absolute() {
            Some(program.to_path_buf())
        } else {
            program.to_str().and_then(find_on_path)
        };
        if resolved
            .map(|p| p.canonicalize().unwrap_or(p))
            .is_some_and(|p| p == exe)
        {
            return true;
        }
    }
    false
}

/// The JSON `claude mcp add-json` gets for this binary, compact.
pub fn server_json(exe: &str) -> String {
    serde_json::json!({"type": "stdio", "command": exe, "args": ["serve"]}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL_HELP: &str = include_str!("../../fixtures/claude-help.txt");

    #[test]
    fn the_real_help_shows_both_the_flag_and_a_positional_prompt() {
        assert!(supports_append_system_prompt(REAL_HELP));
        assert!(takes_positional_prompt(REAL_HELP));
    }

    #[test]
    fn a_help_without_a_prompt_argument_is_not_vouched_for() {
        let help = "Usage: claude [options]\n\nOptions:\n  -p, --print  print\n";
        assert!(!takes_positional_prompt(help));
        assert!(!supports_append_system_prompt(help));
        let arguments_only = "Usage: claude [options]\n\nArguments:\n  prompt   Your prompt\n";
        assert!(takes_positional_prompt(arguments_only));
    }

    #[test]
    fn version_is_the_first_word_starting_with_a_digit() {
        assert_eq!(version_number("2.1.330 (Claude Code)\n"), Some("2.1.330"));
        assert_eq!(version_number("claude 1.0.2"), Some("1.0.2"));
        assert_eq!(version_number("\u{fffd}\n"), None);
    }

    #[test]
    fn mcp_list_lines_yield_the_command_without_the_status() {
        let list = "Checking MCP server health...\n\ngithub: npx -y gh - ✓ Connected\nagent-dispatch: /opt/\u{fffd}\u{fffd}/bin serve - ✗ Failed to connect\n";
        assert_eq!(
            registered_command(list).as_deref(),
            Some("/opt/\u{fffd}\u{fffd}/bin serve")
        );
        assert_eq!(
            registered_command("agent-dispatch  (stdio)\n").as_deref(),
            Some("")
        );
        assert_eq!(registered_command("agent-dispatcher: /x serve\n"), None);
        assert_eq!(registered_command("No MCP servers configured.\n"), None);
    }

    #[test]
    fn a_command_runs_this_binary_through_a_symlink_or_a_path_with_spaces() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("with space");
        std::fs::create_dir(&dir).unwrap();
        let exe = dir.join("agent-dispatch");
        std::fs::write(&exe, "").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&exe, &link).unwrap();
        let exe_text = exe.to_str().unwrap();
        assert!(command_runs(&format!("{exe_text} serve"), &exe));
        assert!(command_runs(&format!("{} serve", link.display()), &exe));
        assert!(!command_runs(exe_text, &exe));
        assert!(!command_runs("/usr/bin/agent-dispatch serve", &exe));
    }

    #[test]
    fn login_is_read_from_json_or_text() {
        let ran = |code, stdout: &str| Probe::Ran {
            exit: Exit::Code(code),
            stdout: stdout.into(),
            stderr: String::new(),
        };
        assert_eq!(
            login_state(&ran(0, r#"{"loggedIn": true, "authMethod": "claude.ai"}"#)),
            Some(Login::LoggedIn(Some("claude.ai".into())))
        );
        assert_eq!(
            login_state(&ran(1, r#"{"loggedIn": false}"#)),
            Some(Login::LoggedOut)
        );
        assert_eq!(
            login_state(&ran(1, "Not logged in. Run `claude auth login`.")),
            Some(Login::LoggedOut)
        );
        assert_eq!(login_state(&ran(1, "error: unknown command 'auth'")), None);
        assert_eq!(login_state(&Probe::TimedOut(PROBE_TIMEOUT)), None);
    }

    #[test]
    fn server_json_is_compact_and_escaped() {
        assert_eq!(
            server_json("/a \"b\"/agent-dispatch"),
            r#"{"type":"stdio","command":"/a \"b\"/agent-dispatch","args":["serve"]}"#
        );
    }
}
