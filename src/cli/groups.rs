//! `group add|list|inspect|update|remove`: named working sets of agents
//! with a description for the orchestrator and shared facts for members.
//! The text views print every stored text through `escape`.

use std::ffi::OsString;

use lexopt::Parser;
use serde_json::Value as Json;

use super::error::{CliError, UsageError};
use super::escape;
use super::listing::paint_health;
use super::output::{self, Color};
use super::{Context, Token, next_token, option_text as text, stored_text, wants_help};
use crate::config::rules::{self, NameKind};
use crate::config::{Config, Group, GroupMember, project, store};
use crate::views;

pub const GROUP_HELP: &str = "\
Manage groups: named sets of agents that work on one system together.

Usage: agent-dispatch group COMMAND

Commands:
  add NAME [-d TEXT] [--shared-context TEXT] [--member AGENT]...
                      create a group
  list [--json]       list groups and their members
  inspect NAME [--json]
                      show one group in full
  update NAME [-d TEXT] [--shared-context TEXT]
                      change a group's texts
  remove NAME         delete a group (its agents are kept)

Run 'agent-dispatch group COMMAND --help' for a command's options.
";

pub const ADD_HELP: &str = "\
Create a group of existing agents.

Usage: agent-dispatch group add NAME [OPTIONS]

Options:
  -d, --description TEXT     what the group is for (shown to the caller)
      --shared-context TEXT  facts every member is told on group dispatches
      --member AGENT         an agent in the group (repeat for more)

A member's use_for note can be set by editing agents.yaml.
";

pub const LIST_HELP: &str = "\
List groups with their members.

Usage: agent-dispatch group list [--json]

Options:
      --json    print a JSON array (the list_groups shape) for scripts
";

pub const INSPECT_HELP: &str = "\
Show a group's description, shared context and members.

Usage: agent-dispatch group inspect NAME [--json]

Options:
      --json    print a JSON object (the inspect_group shape) for scripts
";

pub const UPDATE_HELP: &str = "\
Change a group's description or shared context (an empty value clears it).

Usage: agent-dispatch group update NAME [OPTIONS]

Options:
  -d, --description TEXT     new description
      --shared-context TEXT  new shared context

Members cannot be changed here: remove and re-add the group, or edit
agents.yaml.
";

pub const REMOVE_HELP: &str = "\
Delete a group. Its member agents stay configured.

Usage: agent-dispatch group remove NAME
";

pub(crate) const NO_GROUPS: &str =
    "No groups configured. Run: agent-dispatch group add <name> --member <agent>";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupArgs {
    pub name: String,
    pub description: Option<String>,
    pub shared_context: Option<String>,
    pub members: Vec<String>,
}

/// Parses `NAME` plus the group texts, and `--member` when `members` is set.
pub fn parse_group_args(
    parser: &mut Parser,
    members: bool,
) -> Result<Option<GroupArgs>, UsageError> {
    let mut args = GroupArgs::default();
    let mut name: Option<OsString> = None;
    while let Some(arg) = next_token(parser)? {
        if wants_help(&arg) {
            return Ok(None);
        }
        match arg {
            Token::Short('d') => args.description = Some(stored_text(parser, "--description")?),
            Token::Long(option) if option == "description" => {
                args.description = Some(stored_text(parser, "--description")?)
            }
            Token::Long(option) if option == "shared-context" => {
                args.shared_context = Some(stored_text(parser, "--shared-context")?)
            }
            Token::Long(option) if members && option == "member" => {
                args.members.push(text(parser)?)
            }
            Token::Value(value) if name.is_none() => name = Some(value),
            other => return Err(other.unexpected()),
        }
    }
    args.name = name
        .ok_or(UsageError::MissingArgument("NAME"))?
        .into_string()
        .map_err(|raw| UsageError::Parse(lexopt::Error::NonUnicodeValue(raw)))?;
    Ok(Some(args))
}

fn not_found(name: &str, config: &Config) -> CliError {
    CliError::GroupNotFound {
        name: name.to_owned(),
        available: config.groups.keys().cloned().collect(),
    }
}

pub fn run_add(ctx: &Context, args: GroupArgs) -> Result<(), CliError> {
    rules::check_name(NameKind::Group, &args.name)
        .map_err(|e| CliError::usage("group add", UsageError::InvalidName(e)))?;
    let name = args.name;
    let count = args.members.len();
    store::mutate(&ctx.paths, |config: &mut Config| {
        if config.groups.contains_key(&name) {
            return Err(CliError::GroupExists(name.clone()));
        }
        if let Some(missing) = args
            .members
            .iter()
            .find(|m| !config.agents.contains_key(*m))
        {
            return Err(CliError::UnknownMember(missing.clone()));
        }
        let group = Group {
            description: args.description.unwrap_or_default(),
            shared_context: args.shared_context.unwrap_or_default(),
            members: args.members.into_iter().map(GroupMember::new).collect(),
            ..Group::default()
        };
        config.groups.insert(name.clone(), group);
        Ok(())
    })?;
    ctx.ui
        .line(&format!("Added group '{name}' ({count} member(s))."))?;
    if count == 0 {
        ctx.ui.warn("group has no members yet; recreate it with --member, or add members (and use_for notes) in agents.yaml");
    }
    Ok(())
}

pub fn run_list(ctx: &Context, json: bool) -> Result<(), CliError> {
    let config = store::load(&ctx.paths.config)?;
    views::remote_project::start_all(&config);
    if json {
        let items: Vec<Json> = config
            .groups
            .iter()
            .map(|(name, group)| views::groups::summary(name, group, &config))
            .collect();
        return output::json(&ctx.ui, &Json::Array(items));
    }
    if config.groups.is_empty() {
        return ctx.ui.line(NO_GROUPS);
    }
    let mut text = String::new();
    for (name, group) in &config.groups {
        text.push_str(&format!(
            "  {} ({} member(s))\n",
            ctx.ui.paint(Color::Bold, &escape::line(name)),
            group.members.len()
        ));
        if !group.description.is_empty() {
            text.push_str(&format!("    desc: {}\n", escape::line(&group.description)));
        }
        if !group.members.is_empty() {
            let members: Vec<String> = group
                .members
                .iter()
                .map(|m| {
                    let agent = escape::line(&m.agent);
                    if config.agents.contains_key(&m.agent) {
                        agent.into_owned()
                    } else {
                        format!("{agent}(unknown)")
                    }
                })
                .collect();
            text.push_str(&format!("    members: {}\n", members.join(", ")));
        }
        let shared = if group.shared_context.trim().is_empty() {
            "no"
        } else {
            "yes"
        };
        text.push_str(&format!("    shared context: {shared}\n\n"));
    }
    ctx.ui.line(text.strip_suffix('\n').unwrap_or(&text))
}

pub fn run_inspect(ctx: &Context, name: String, json: bool) -> Result<(), CliError> {
    let config = store::load(&ctx.paths.config)?;
    let Some(group) = config.groups.get(&name) else {
        return Err(not_found(&name, &config));
    };
    views::remote_project::start_all(&config);
    if json {
        return output::json(&ctx.ui, &views::groups::detail(&name, group, &config));
    }
    let mut lines = vec![ctx.ui.paint(Color::Bold, &escape::line(&name))];
    if !group.description.is_empty() {
        lines.push(format!(
            "  description:    {}",
            escape::line(&group.description)
        ));
    }
    if !group.shared_context.is_empty() {
        lines.push("  shared_context:".into());
        lines.extend(
            escape::block(&group.shared_context)
                .lines()
                .map(|line| format!("    {line}")),
        );
    }
    lines.push(format!("  members ({}):", group.members.len()));
    if group.members.is_empty() {
        lines.push("    (no members — recreate with --member or edit agents.yaml)".into());
    }
    for member in &group.members {
        let mut line = format!("    - {}", escape::line(&member.agent));
        match config.agents.get(&member.agent) {
            None => line.push_str(" (unknown)"),
            Some(agent) => {
                let health = crate::views::agents::health_of(agent, &config.settings);
                if !matches!(health, project::Health::Ok) {
                    line.push_str(&format!(" [{}]", paint_health(ctx, &health)));
                }
            }
        }
        if !member.use_for.is_empty() {
            line.push_str(&format!(" — {}", escape::line(&member.use_for)));
        }
        lines.push(line);
    }
    ctx.ui.line(&lines.join("\n"))
}

pub fn run_update(ctx: &Context, args: GroupArgs) -> Result<(), CliError> {
    if args.description.is_none() && args.shared_context.is_none() {
        return Err(CliError::usage(
            "group update",
            UsageError::NothingToUpdate("--description and/or --shared-context"),
        ));
    }
    let name = args.name;
    let fields = store::mutate(&ctx.paths, |config: &mut Config| {
        let Some(group) = config.groups.get_mut(&name) else {
            return Err(not_found(&name, config));
        };
        let mut fields = Vec::new();
        if let Some(text) = args.description {
            group.description = text;
            fields.push("description");
        }
        if let Some(text) = args.shared_context {
            group.shared_context = text;
            fields.push("shared_context");
        }
        Ok(fields)
    })?;
    ctx.ui
        .line(&format!("Updated group '{name}': {}", fields.join(", ")))
}

pub fn run_remove(ctx: &Context, name: String) -> Result<(), CliError> {
    store::mutate(&ctx.paths, |config: &mut Config| {
        match config.groups.shift_remove(&name) {
            Some(_) => Ok(()),
            None => Err(not_found(&name, config)),
        }
    })?;
    ctx.ui.line(&format!("Removed group '{name}'."))
}
