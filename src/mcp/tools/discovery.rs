//! `list_agents`, `inspect_agent`, `list_groups`, `inspect_group`: cheap,
//! read-only looks at the configured agents and groups. Nothing is spawned.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::args::ArgError;
use super::params::{self, Integer, Param, Params, Text};
use super::{Body, Call, Kind, Tool, ToolResult, unknown_agent};
use crate::pyfmt::repr_str;
use crate::usage::Profile;
use crate::views;

/// The name of an agent that exists; also what `update_agent` and
/// `remove_agent` take.
pub(super) const AGENT_NAME: Text = Text::required("name", "Agent name from list_agents.");
const PREVIEW_LINES: Integer = Integer::clamped(
    "preview_lines",
    40,
    0..=views::agents::MAX_PREVIEW_LINES as i64,
    "Lines of CLAUDE.md/README.md; 0 = none.",
)
.range_in_schema();
const INSPECT_AGENT: Params = &[&[Param::Text(AGENT_NAME), Param::Integer(PREVIEW_LINES)]];

const GROUP_NAME: Text = Text::required("name", "Group name from list_groups.");
const INSPECT_GROUP: Params = &[&[Param::Text(GROUP_NAME)]];

pub fn tools() -> Vec<Tool> {
    vec![
        Tool {
            name: "list_agents",
            description: "List the agents (other projects' coding agents you can delegate to): backend, directory, description, health, MCP servers, stacks, databases, permissions, capabilities. Call this first.",
            params: params::NONE,
            kind: Kind::ReadOnly,
            body: Body::Run(list_agents),
        },
        Tool {
            name: "inspect_agent",
            description: "One agent's project, no session started: config, MCP servers, stack, databases, the start of its instruction file and README.md.",
            params: INSPECT_AGENT,
            kind: Kind::ReadOnly,
            body: Body::Run(inspect_agent),
        },
        Tool {
            name: "list_groups",
            description: "Agent groups (projects that work together): members, shared context. dispatch(..., group=) gives a member the group's shared facts.",
            params: params::NONE,
            kind: Kind::ReadOnly,
            body: Body::Run(list_groups),
        },
        Tool {
            name: "inspect_group",
            description: "One group: description, shared context, each member's use and health.",
            params: INSPECT_GROUP,
            kind: Kind::ReadOnly,
            body: Body::Run(inspect_group),
        },
    ]
}

fn list_agents(call: Call) -> Result<ToolResult, ArgError> {
    call.args.finish()?;
    let config = match call.config() {
        Ok(config) => config,
        Err(envelope) => return Ok(envelope),
    };
    if config.agents.is_empty() {
        return Ok(ToolResult::error(
            "No agents configured. Run: agent-dispatch add <name> <directory>",
        ));
    }
    let summaries = &call.state.summaries;
    summaries.retain(|name| config.agents.contains_key(name));
    let profiles = profiles(&call, config.settings.usage_log);
    views::remote_project::start_all(&config);
    let agents: Vec<Value> = config
        .agents
        .iter()
        .map(|(name, agent)| {
            views::agents::with_typical(
                summaries.summary(name, agent, &config.settings),
                profiles.get(name),
            )
        })
        .collect();
    Ok(ToolResult::ok(Value::Array(agents)))
}

fn inspect_agent(mut call: Call) -> Result<ToolResult, ArgError> {
    let name = call.args.text(&AGENT_NAME)?;
    let lines = call.args.integer(&PREVIEW_LINES)? as usize;
    call.args.finish()?;
    let config = match call.config() {
        Ok(config) => config,
        Err(envelope) => return Ok(envelope),
    };
    let Some(agent) = config.agents.get(&name) else {
        return Ok(unknown_agent(&name, &config));
    };
    let profiles = profiles(&call, config.settings.usage_log);
    Ok(ToolResult::ok(views::agents::detail(
        &name,
        agent,
        &config.settings,
        profiles.get(&name),
        lines,
    )))
}

fn list_groups(call: Call) -> Result<ToolResult, ArgError> {
    call.args.finish()?;
    let config = match call.config() {
        Ok(config) => config,
        Err(envelope) => return Ok(envelope),
    };
    if config.groups.is_empty() {
        return Ok(ToolResult::error(
            "No groups configured. Create one: agent-dispatch group add <name>",
        ));
    }
    views::remote_project::start_all(&config);
    let groups: Vec<Value> = config
        .groups
        .iter()
        .map(|(name, group)| views::groups::summary(name, group, &config))
        .collect();
    Ok(ToolResult::ok(Value::Array(groups)))
}

fn inspect_group(mut call: Call) -> Result<ToolResult, ArgError> {
    let name = call.args.text(&GROUP_NAME)?;
    call.args.finish()?;
    let config = match call.config() {
        Ok(config) => config,
        Err(envelope) => return Ok(envelope),
    };
    views::remote_project::start_all(&config);
    match config.groups.get(&name) {
        Some(group) => Ok(ToolResult::ok(views::groups::detail(&name, group, &config))),
        None => Ok(unknown_group(&name, &config)),
    }
}

/// Run profiles from the usage journal; none when the journal is off.
fn profiles(call: &Call, usage_log: bool) -> Arc<HashMap<String, Profile>> {
    if usage_log {
        call.state.profiles.get(&call.state.paths.usage_log)
    } else {
        Arc::default()
    }
}

/// `Unknown group: 'x'. Available: a, b`
pub fn unknown_group(name: &str, config: &crate::config::Config) -> ToolResult {
    let available = if config.groups.is_empty() {
        "(none configured)".to_owned()
    } else {
        config.groups.keys().cloned().collect::<Vec<_>>().join(", ")
    };
    ToolResult::error(format!(
        "Unknown group: {}. Available: {available}",
        repr_str(name)
    ))
}
