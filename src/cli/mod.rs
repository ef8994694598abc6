//! The command-line surface. `parse` turns argv into a plain `Command`
//! (cheap, no file system); `run` executes it against the config and
//! prints. Exit codes: 0 success, 1 the operation failed, 2 the command
//! line was wrong. Errors go to stderr as `error: …` plus a `hint: …`.

pub mod agent_options;
pub mod agents;
pub mod doctor_command;
pub mod error;
pub mod escape;
pub mod groups;
#[cfg(test)]
mod hint_commands;
pub mod init_command;
pub mod interrupt;
pub mod job_commands;
pub mod listing;
pub mod output;
pub mod ps_command;
pub mod stats_command;
mod suggest;
pub mod test_command;
mod wording;

use std::ffi::OsString;

use lexopt::Arg::{Long, Short, Value};
use lexopt::Parser;

use crate::VERSION;
use crate::config::Paths;
use crate::config::patch;
use agents::{AddArgs, UpdateArgs};
use error::{CliError, UsageError};
use groups::GroupArgs;
use job_commands::{GcArgs, JobsArgs};
use output::Ui;

const MAIN_HELP: &str = "\
agent-dispatch: hand tasks to Claude Code agents in other project directories.

Usage: agent-dispatch COMMAND [OPTIONS]

Agents:
  add NAME DIRECTORY   register a project directory as an agent
  update NAME          change an agent's settings
  remove NAME          remove an agent
  list                 list agents and their health
  describe NAME        show one agent in full
  test NAME [TASK]     dispatch one task to an agent and show the answer

Groups:
  group                add, list, inspect, update or remove groups

Jobs:
  jobs                 list async jobs and stored results, newest first
  job ID               show one job in full (--follow: as it runs)
  ps                   every dispatch running now, in servers and test runs
  cancel ID            cancel a job that has not started yet
  gc                   delete old finished jobs
  stats                dispatch counts, spend and durations per agent

Server:
  serve                run the MCP server on stdio (Claude Code starts it)

Setup:
  init                 create the config and register with Claude Code
  doctor               check claude, the config, agents and registration

Options:
  -h, --help           show help (also after any command)
  -V, --version        show the version

'agent-dispatch help COMMAND' is 'agent-dispatch COMMAND --help'.

Config: ~/.config/agent-dispatch/agents.yaml (or $AGENT_DISPATCH_CONFIG).
";

const SERVE_HELP: &str = "\
Run the MCP server on stdin/stdout. Claude Code starts it; register it with

  claude mcp add-json agent-dispatch \\
    '{\"type\":\"stdio\",\"command\":\"/path/to/agent-dispatch\",\"args\":[\"serve\"]}' \\
    --scope user

Usage: agent-dispatch serve

Logs go to stderr. The server exits when stdin closes.
";

/// What to do, fully parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Help(&'static str),
    Version,
    Add(AddArgs),
    Update(UpdateArgs),
    Remove(String),
    List { json: bool },
    Describe { name: String, json: bool },
    GroupAdd(GroupArgs),
    GroupList { json: bool },
    GroupInspect { name: String, json: bool },
    GroupUpdate(GroupArgs),
    GroupRemove(String),
    Test(test_command::TestArgs),
    Init,
    Doctor(doctor_command::DoctorArgs),
    Stats(stats_command::StatsArgs),
    Jobs(JobsArgs),
    Job(job_commands::JobArgs),
    Ps(ps_command::PsArgs),
    Cancel(String),
    Gc(GcArgs),
    Serve,
}

/// What every command runs with.
pub struct Context {
    pub paths: Paths,
    pub ui: Ui,
}

/// One command-line argument, owned, so that an option's value can be read
/// from the parser while the option itself is being matched.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Short(char),
    Long(String),
    Value(OsString),
}

impl Token {
    /// The error for an argument the command does not take.
    pub(crate) fn unexpected(self) -> UsageError {
        UsageError::Parse(match self {
            Token::Short(c) => lexopt::Error::UnexpectedOption(format!("-{c}")),
            Token::Long(name) => lexopt::Error::UnexpectedOption(format!("--{name}")),
            Token::Value(value) => lexopt::Error::UnexpectedArgument(value),
        })
    }
}

pub(crate) fn next_token(parser: &mut Parser) -> Result<Option<Token>, UsageError> {
    Ok(parser
        .next()
        .map_err(UsageError::Parse)?
        .map(|arg| match arg {
            Short(c) => Token::Short(c),
            Long(name) => Token::Long(name.to_owned()),
            Value(value) => Token::Value(value),
        }))
}

/// Reads an option's value as UTF-8 text.
pub(crate) fn option_text(parser: &mut Parser) -> Result<String, UsageError> {
    parser
        .value()
        .map_err(UsageError::Parse)?
        .into_string()
        .map_err(|raw| UsageError::Parse(lexopt::Error::NonUnicodeValue(raw)))
}

/// Reads the value of `option`, a free text that will be stored in
/// `agents.yaml` (see `patch::stored_text`).
pub(crate) fn stored_text(parser: &mut Parser, option: &'static str) -> Result<String, UsageError> {
    patch::stored_text(option, &option_text(parser)?).map_err(UsageError::Field)
}

/// `-h` / `--help` anywhere in a command's arguments.
pub(crate) fn wants_help(token: &Token) -> bool {
    matches!(token, Token::Short('h')) || matches!(token, Token::Long(name) if name == "help")
}

/// The commands, for suggesting one when a name is mistyped.
const COMMANDS: [&str; 17] = [
    "add", "update", "remove", "list", "describe", "test", "group", "jobs", "job", "cancel", "gc",
    "stats", "ps", "serve", "init", "doctor", "help",
];

/// `group`'s subcommands, for the same.
const GROUP_COMMANDS: [&str; 5] = ["add", "list", "inspect", "update", "remove"];

/// The error for a command name that is not one of `known`, with the
/// nearest known name as a suggestion when one is close enough.
fn unknown_command(prefix: &str, name: &str, known: &[&'static str]) -> UsageError {
    UsageError::UnknownCommand {
        name: format!("{prefix}{name}"),
        suggestion: suggest::nearest(name, known).map(|near| {
            if prefix.is_empty() {
                near.to_owned()
            } else {
                format!("{prefix}{near}")
            }
        }),
    }
}

/// Parses the arguments after the program name.
pub fn parse(mut args: Vec<OsString>) -> Result<Command, CliError> {
    // `help CMD …` is `CMD … --help`.
    if args.len() > 1 && args[0] == "help" {
        args.remove(0);
        args.push("--help".into());
    }
    let mut parser = Parser::from_args(args);
    let command = match next_token(&mut parser).map_err(|e| CliError::usage("", e))? {
        None => return Ok(Command::Help(MAIN_HELP)),
        Some(token) if wants_help(&token) => return Ok(Command::Help(MAIN_HELP)),
        Some(Token::Short('V')) => return Ok(Command::Version),
        Some(Token::Long(name)) if name == "version" => return Ok(Command::Version),
        Some(Token::Value(name)) => name,
        Some(other) => return Err(CliError::usage("", other.unexpected())),
    };
    let command = command.to_string_lossy().into_owned();
    let parser = &mut parser;
    let usage = |name: &'static str| move |error| CliError::usage(name, error);
    let help_or =
        |help: &'static str, parsed: Option<Command>| parsed.unwrap_or(Command::Help(help));
    Ok(match command.as_str() {
        "add" => help_or(
            agents::ADD_HELP,
            agents::parse_add(parser)
                .map_err(usage("add"))?
                .map(Command::Add),
        ),
        "update" => help_or(
            agents::UPDATE_HELP,
            agents::parse_update(parser)
                .map_err(usage("update"))?
                .map(Command::Update),
        ),
        "remove" => help_or(
            agents::REMOVE_HELP,
            agents::parse_name(parser, false)
                .map_err(usage("remove"))?
                .map(|(name, _)| Command::Remove(name)),
        ),
        "list" => help_or(
            listing::LIST_HELP,
            listing::parse_json_flag(parser)
                .map_err(usage("list"))?
                .map(|json| Command::List { json }),
        ),
        "describe" => help_or(
            listing::DESCRIBE_HELP,
            agents::parse_name(parser, true)
                .map_err(usage("describe"))?
                .map(|(name, json)| Command::Describe { name, json }),
        ),
        "init" => help_or(
            init_command::HELP,
            listing::parse_no_options(parser)
                .map_err(usage("init"))?
                .then_some(Command::Init),
        ),
        "doctor" => help_or(
            doctor_command::HELP,
            doctor_command::parse(parser)
                .map_err(usage("doctor"))?
                .map(Command::Doctor),
        ),
        "test" => help_or(
            test_command::HELP,
            test_command::parse(parser)
                .map_err(usage("test"))?
                .map(Command::Test),
        ),
        "stats" => help_or(
            stats_command::HELP,
            stats_command::parse(parser)
                .map_err(usage("stats"))?
                .map(Command::Stats),
        ),
        "jobs" => help_or(
            job_commands::JOBS_HELP,
            job_commands::parse_jobs(parser)
                .map_err(usage("jobs"))?
                .map(Command::Jobs),
        ),
        "job" => help_or(
            job_commands::JOB_HELP,
            job_commands::parse_job(parser)
                .map_err(usage("job"))?
                .map(Command::Job),
        ),
        "ps" => help_or(
            ps_command::HELP,
            ps_command::parse(parser)
                .map_err(usage("ps"))?
                .map(Command::Ps),
        ),
        "cancel" => help_or(
            job_commands::CANCEL_HELP,
            job_commands::parse_cancel(parser)
                .map_err(usage("cancel"))?
                .map(Command::Cancel),
        ),
        "gc" => help_or(
            job_commands::GC_HELP,
            job_commands::parse_gc(parser)
                .map_err(usage("gc"))?
                .map(Command::Gc),
        ),
        "group" => parse_group(parser)?,
        "serve" => help_or(
            SERVE_HELP,
            listing::parse_no_options(parser)
                .map_err(usage("serve"))?
                .then_some(Command::Serve),
        ),
        "help" => Command::Help(MAIN_HELP),
        other => return Err(CliError::usage("", unknown_command("", other, &COMMANDS))),
    })
}

fn parse_group(parser: &mut Parser) -> Result<Command, CliError> {
    let usage = |name: &'static str| move |error| CliError::usage(name, error);
    let sub = match next_token(parser).map_err(usage("group"))? {
        None => return Ok(Command::Help(groups::GROUP_HELP)),
        Some(token) if wants_help(&token) => return Ok(Command::Help(groups::GROUP_HELP)),
        Some(Token::Value(sub)) => sub.to_string_lossy().into_owned(),
        Some(other) => return Err(CliError::usage("group", other.unexpected())),
    };
    let help_or =
        |help: &'static str, parsed: Option<Command>| parsed.unwrap_or(Command::Help(help));
    Ok(match sub.as_str() {
        "add" => help_or(
            groups::ADD_HELP,
            groups::parse_group_args(parser, true)
                .map_err(usage("group add"))?
                .map(Command::GroupAdd),
        ),
        "list" => help_or(
            groups::LIST_HELP,
            listing::parse_json_flag(parser)
                .map_err(usage("group list"))?
                .map(|json| Command::GroupList { json }),
        ),
        "inspect" => help_or(
            groups::INSPECT_HELP,
            agents::parse_name(parser, true)
                .map_err(usage("group inspect"))?
                .map(|(name, json)| Command::GroupInspect { name, json }),
        ),
        "update" => help_or(
            groups::UPDATE_HELP,
            groups::parse_group_args(parser, false)
                .map_err(usage("group update"))?
                .map(Command::GroupUpdate),
        ),
        "remove" => help_or(
            groups::REMOVE_HELP,
            agents::parse_name(parser, false)
                .map_err(usage("group remove"))?
                .map(|(name, _)| Command::GroupRemove(name)),
        ),
        other => {
            return Err(CliError::usage(
                "group",
                unknown_command("group ", other, &GROUP_COMMANDS),
            ));
        }
    })
}

/// Runs a parsed command.
pub fn execute(ctx: &Context, command: Command) -> Result<(), CliError> {
    match command {
        Command::Help(text) => ctx.ui.line(text.trim_end()),
        Command::Version => ctx.ui.line(&format!("agent-dispatch {VERSION}")),
        Command::Add(args) => agents::run_add(ctx, args),
        Command::Update(args) => agents::run_update(ctx, args),
        Command::Remove(name) => agents::run_remove(ctx, name),
        Command::List { json } => listing::run_list(ctx, json),
        Command::Describe { name, json } => listing::run_describe(ctx, name, json),
        Command::GroupAdd(args) => groups::run_add(ctx, args),
        Command::GroupList { json } => groups::run_list(ctx, json),
        Command::GroupInspect { name, json } => groups::run_inspect(ctx, name, json),
        Command::GroupUpdate(args) => groups::run_update(ctx, args),
        Command::GroupRemove(name) => groups::run_remove(ctx, name),
        Command::Test(args) => test_command::run(ctx, args),
        Command::Init => init_command::run(ctx),
        Command::Doctor(args) => doctor_command::run(ctx, args),
        Command::Stats(args) => stats_command::run(ctx, args),
        Command::Jobs(args) => job_commands::run_jobs(ctx, args),
        Command::Job(args) => job_commands::run_job(ctx, args),
        Command::Ps(args) => ps_command::run(ctx, args),
        Command::Cancel(id) => job_commands::run_cancel(ctx, id),
        Command::Gc(args) => job_commands::run_gc(ctx, args),
        Command::Serve => {
            let stop = crate::mcp::stop::Stop::new();
            // First, before the server starts a thread, so that every
            // thread inherits the blocked signals.
            if let Err(err) = crate::mcp::signals::route_to(&stop) {
                crate::log::warn(&format!(
                    "could not route termination signals ({err}); a signal ends the server without cleanup"
                ));
            }
            crate::mcp::server::serve(
                std::io::stdin(),
                Box::new(std::io::stdout()),
                ctx.paths.clone(),
                stop,
            );
            Ok(())
        }
    }
}

/// The whole CLI: parse, run, report. Returns the process exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let ctx = Context {
        paths: Paths::from_env(),
        ui: Ui::from_env(),
    };
    let run = |command: Command| {
        // A CLI whose reader went away (`agent-dispatch list | head -1`)
        // should end quietly, as Unix tools do. Never the server: a client
        // that closed its end must lead to our orderly stop, not a kill.
        if !matches!(command, Command::Serve) {
            interrupt::die_on_broken_pipe();
        }
        execute(&ctx, command)
    };
    let outcome = parse(args).and_then(run);
    // A command that reached a remote agent's host leaves no shared ssh
    // connection behind it.
    crate::runner::ssh::close_connections();
    match outcome {
        Ok(()) => 0,
        Err(err) => {
            ctx.ui.error(&err);
            err.exit_code()
        }
    }
}
