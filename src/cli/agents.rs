//! `add`, `update` and `remove`: changing agents in `agents.yaml`, always
//! under the config lock with a fresh reload.

use std::ffi::OsString;
use std::path::Path;

use lexopt::Parser;

use super::agent_options;
use super::error::{CliError, UsageError};
use super::escape;
use super::{Context, Token, next_token, wants_help};
use crate::config::patch::{self, AgentPatch, Edit};
use crate::config::rules::{self, NameKind};
use crate::config::{Agent, Config, Settings, remote, store};
use crate::runner::backends::{self, unsupported};

pub const ADD_HELP: &str = concat!(
    "\
Register a project directory as an agent.

Usage: agent-dispatch add NAME DIRECTORY [OPTIONS]

NAME is letters, digits, '-' and '_', starting with a letter or digit.
Without --description, one is guessed from CLAUDE.md, README.md,
pyproject.toml, package.json and the project's files. With --host, DIRECTORY
is a path on that machine (absolute or under ~/), checked over ssh.

Options:
      --no-check              with --host: do not check over ssh that the
                              directory exists there
",
    agent_options::shared_help!()
);

pub const UPDATE_HELP: &str = concat!(
    "\
Change an agent's settings; only the options given change.

Usage: agent-dispatch update NAME [OPTIONS]

'none' (or an empty value) clears --model, --permission-mode and
--instructions, makes the tool lists inherit the settings defaults again,
and empties the capability lists. --max-budget 0 clears the cap.

Options:
      --directory DIR         move the agent to another project directory,
                              checked like add's DIRECTORY (default: kept)
",
    agent_options::shared_help!()
);

pub const REMOVE_HELP: &str = "\
Remove an agent from the config (its project directory is not touched).

Usage: agent-dispatch remove NAME
";

#[derive(Debug, Clone, PartialEq)]
pub struct AddArgs {
    pub name: String,
    pub directory: OsString,
    pub patch: AgentPatch,
    /// `--no-check`: a remote directory is not looked for over ssh.
    pub no_check: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpdateArgs {
    pub name: String,
    /// `--directory` as given; checked and resolved when the command runs,
    /// as `add`'s DIRECTORY is.
    pub directory: Option<OsString>,
    pub patch: AgentPatch,
}

/// Parses `NAME DIRECTORY [OPTIONS]`; `None` when help was asked for.
pub fn parse_add(parser: &mut Parser) -> Result<Option<AddArgs>, UsageError> {
    let mut patch = AgentPatch::default();
    let mut positionals: Vec<OsString> = Vec::new();
    let mut no_check = false;
    while let Some(arg) = next_token(parser)? {
        if wants_help(&arg) {
            return Ok(None);
        }
        if agent_options::accept(&mut patch, &arg, parser)? {
            continue;
        }
        match arg {
            Token::Long(option) if option == "no-check" => no_check = true,
            Token::Value(value) if positionals.len() < 2 => positionals.push(value),
            other => return Err(other.unexpected()),
        }
    }
    let mut positionals = positionals.into_iter();
    let name = name_argument(positionals.next())?;
    let directory = positionals
        .next()
        .ok_or(UsageError::MissingArgument("DIRECTORY"))?;
    Ok(Some(AddArgs {
        name,
        directory,
        patch,
        no_check,
    }))
}

pub fn parse_update(parser: &mut Parser) -> Result<Option<UpdateArgs>, UsageError> {
    let mut patch = AgentPatch::default();
    let mut name = None;
    let mut directory = None;
    while let Some(arg) = next_token(parser)? {
        if wants_help(&arg) {
            return Ok(None);
        }
        if agent_options::accept(&mut patch, &arg, parser)? {
            continue;
        }
        match arg {
            Token::Long(option) if option == "directory" => {
                directory = Some(parser.value().map_err(UsageError::Parse)?);
            }
            Token::Value(value) if name.is_none() => name = Some(value),
            other => return Err(other.unexpected()),
        }
    }
    let name = name_argument(name)?;
    if patch.is_empty() && directory.is_none() {
        return Err(UsageError::NothingToUpdate(
            "at least one option (see --help)",
        ));
    }
    Ok(Some(UpdateArgs {
        name,
        directory,
        patch,
    }))
}

/// Parses a command taking only `NAME` (and `--json` when `json` is set).
pub fn parse_name(parser: &mut Parser, json: bool) -> Result<Option<(String, bool)>, UsageError> {
    let mut name = None;
    let mut as_json = false;
    while let Some(arg) = next_token(parser)? {
        if wants_help(&arg) {
            return Ok(None);
        }
        match arg {
            Token::Long(name) if json && name == "json" => as_json = true,
            Token::Value(value) if name.is_none() => name = Some(value),
            other => return Err(other.unexpected()),
        }
    }
    Ok(Some((name_argument(name)?, as_json)))
}

/// The NAME positional as text. Its naming rule is checked only where a
/// name is created: an existing agent with an unusual hand-written name
/// must still be reachable by `update` and `remove`.
fn name_argument(value: Option<OsString>) -> Result<String, UsageError> {
    value
        .ok_or(UsageError::MissingArgument("NAME"))?
        .into_string()
        .map_err(|raw| UsageError::Parse(lexopt::Error::NonUnicodeValue(raw)))
}

pub fn run_add(ctx: &Context, args: AddArgs) -> Result<(), CliError> {
    let usage = |error| CliError::usage("add", error);
    rules::check_name(NameKind::Agent, &args.name)
        .map_err(|e| usage(UsageError::InvalidName(e)))?;
    let directory = match args.patch.host() {
        Some(_) => patch::remote_project_directory("DIRECTORY", &args.directory),
        None => patch::project_directory("DIRECTORY", Path::new(&args.directory)),
    }
    .map_err(|e| usage(UsageError::Field(e)))?;
    let mut agent = Agent::new(directory.clone());
    args.patch.apply(&mut agent);
    if agent.is_remote() && !args.no_check {
        // The agent's own CLI (the settings default is for one that names
        // none, and only changes which files are read).
        let files = backends::named(agent.backend.unwrap_or_default()).project_files();
        crate::views::remote_project::check_directory(&agent, &files).map_err(|problem| {
            CliError::RemoteCheck {
                name: args.name.clone(),
                problem,
            }
        })?;
    }
    if !args.patch.gives_description() {
        // The settings decide the CLI (and so the files read) of an agent
        // that names none; an unreadable config is reported by the save.
        let settings = store::load(&ctx.paths.config)
            .map(|config| config.settings)
            .unwrap_or_default();
        agent.description =
            crate::views::agents::guessed_description(&agent, agent.backend_name(&settings));
        ctx.ui.line(&format!(
            "Auto-generated description: {}",
            escape::line(&agent.description)
        ))?;
    }
    if let Some(warning) = args.patch.warning() {
        ctx.ui.warn(&warning);
    }

    let name = args.name;
    store::mutate(&ctx.paths, |config: &mut Config| {
        if config.agents.contains_key(&name) {
            return Err(CliError::AgentExists(name.clone()));
        }
        supported(&name, &agent, &config.settings)?;
        config.agents.insert(name.clone(), agent);
        Ok(())
    })?;
    ctx.ui.line(&format!(
        "Added agent '{name}' -> {}",
        escape::path(&directory)
    ))
}

/// Refuses an agent whose CLI cannot honour one of its settings, or that
/// sets a remote-only key without a host.
fn supported(name: &str, agent: &Agent, settings: &Settings) -> Result<(), CliError> {
    if let Some(key) = remote::without_host(agent) {
        let error = patch::FieldError::needs_host(if key == "ssh_options" {
            "--ssh-options"
        } else {
            "--remote-cli"
        });
        return Err(CliError::usage("add", UsageError::Field(error)));
    }
    unsupported::check(backends::of(agent, settings), agent, settings).map_err(|problem| {
        CliError::Unsupported {
            name: name.to_owned(),
            problem,
        }
    })
}

pub fn run_update(ctx: &Context, args: UpdateArgs) -> Result<(), CliError> {
    let mut patch = args.patch;
    let usage = |error| CliError::usage("update", UsageError::Field(error));
    let name = args.name;
    let fields = store::mutate(&ctx.paths, |config: &mut Config| {
        let available: Vec<String> = config.agents.keys().cloned().collect();
        let Some(agent) = config.agents.get_mut(&name) else {
            return Err(CliError::AgentNotFound {
                name: name.clone(),
                available,
            });
        };
        // Whether the directory is a path here or on a host is known only
        // once the patch's own `--host` (or its clearing) is applied.
        let remote = match patch.host_edit() {
            Edit::Set(_) => true,
            Edit::Clear => false,
            Edit::Keep => agent.is_remote(),
        };
        match &args.directory {
            Some(raw) if remote => {
                patch.set_directory(
                    patch::remote_project_directory("--directory", raw).map_err(usage)?,
                );
            }
            Some(raw) => {
                patch.set_directory(
                    patch::project_directory("--directory", Path::new(raw)).map_err(usage)?,
                );
            }
            None if agent.is_remote() && !remote => {
                return Err(CliError::usage(
                    "update",
                    UsageError::Field(patch::FieldError::directory_needed("--directory")),
                ));
            }
            None => {}
        }
        let fields = agent_options::in_option_order(patch.apply(agent));
        // Nothing is saved on an error: the change to the loaded copy is
        // dropped with it.
        supported(&name, agent, &config.settings)?;
        // A new CLI with the old one's path on the host would not start.
        let stale_cli = agent
            .remote_cli
            .clone()
            .filter(|_| fields.contains(&"backend") && !fields.contains(&"remote_cli"));
        Ok((fields, stale_cli))
    })?;
    let (fields, stale_cli) = fields;
    if let Some(warning) = patch.warning() {
        ctx.ui.warn(&warning);
    }
    if let Some(path) = stale_cli {
        ctx.ui.warn(&format!(
            "remote_cli still names {path}, the previous CLI's path on the host; set the new one with --remote-cli"
        ));
    }
    ctx.ui
        .line(&format!("Updated agent '{name}': {}", fields.join(", ")))
}

pub fn run_remove(ctx: &Context, name: String) -> Result<(), CliError> {
    let groups = store::mutate(&ctx.paths, |config: &mut Config| {
        if config.agents.shift_remove(&name).is_none() {
            return Err(CliError::AgentNotFound {
                name: name.clone(),
                available: config.agents.keys().cloned().collect(),
            });
        }
        Ok(config
            .groups
            .iter()
            .filter(|(_, group)| group.members.iter().any(|m| m.agent == name))
            .map(|(group, _)| group.clone())
            .collect::<Vec<_>>())
    })?;
    ctx.ui.line(&format!("Removed agent '{name}'."))?;
    for group in groups {
        ctx.ui.warn(&format!(
            "group '{group}' still lists '{name}' as a member; recreate the group or edit agents.yaml"
        ));
    }
    Ok(())
}
