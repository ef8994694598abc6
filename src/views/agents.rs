//! The agent views: a summary per agent for listings, and the detailed
//! inspection with project facts and file previews.

use serde_json::{Map, Value, json};

use super::health_json;
use super::remote_project::{self, Found};
use crate::config::project::{self, AgentFiles, Health, ProjectScan, RemoteListing};
use crate::config::{Agent, BackendName, Settings};
use crate::runner::backends;
use crate::usage::Profile;

/// Most lines an inspection preview may show.
pub const MAX_PREVIEW_LINES: usize = 200;

fn path_text(agent: &Agent) -> Value {
    Value::String(agent.directory.to_string_lossy().into_owned())
}

fn strings(items: &[impl AsRef<str>]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|s| Value::String(s.as_ref().to_owned()))
            .collect(),
    )
}

/// A one-line description guessed from the agent's project files (those
/// its backend reads first), for an agent added without one.
pub fn guessed_description(agent: &Agent, backend: BackendName) -> String {
    match &agent.host {
        // Its files are on the host; `add` does not read them there.
        Some(host) => format!("{} on {host}", agent.directory.display()),
        None => {
            project::auto_description(&agent.directory, &backends::named(backend).project_files())
        }
    }
}

/// An agent's project: its health and facts, read here or, for a remote
/// agent, surveyed on its host (whose answer is returned for previews).
fn project_of(agent: &Agent, files: &AgentFiles) -> (Health, ProjectScan, Option<RemoteListing>) {
    if !agent.is_remote() {
        let (health, scan) = project::survey(&agent.directory, files);
        return (health, scan, None);
    }
    match remote_project::survey(agent, files) {
        Found::Project(listing) => (Health::Ok, project::scan(&listing, files), Some(listing)),
        other => (other.health(), ProjectScan::default(), None),
    }
}

/// Whether an agent's project is there: its directory here, or (for a
/// remote agent) on its host, as the last survey found it.
pub fn health_of(agent: &Agent, settings: &Settings) -> Health {
    if agent.is_remote() {
        remote_project::survey(agent, &backends::of(agent, settings).project_files()).health()
    } else {
        project::health(&agent.directory)
    }
}

/// Where a remote agent runs, and why it cannot be reached if it cannot.
fn insert_host(m: &mut Map<String, Value>, agent: &Agent, health: &Health) {
    if let Some(host) = &agent.host {
        m.insert("host".into(), json!(host));
    }
    if let Health::Unreachable(why) = health {
        m.insert("unreachable".into(), json!(why));
    }
}

/// One entry of `list_agents` / `list --json`.
pub fn summary(name: &str, agent: &Agent, settings: &Settings) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("directory".into(), path_text(agent));
    m.insert("description".into(), json!(agent.description));
    let backend = backends::of(agent, settings);
    let files = backend.project_files();
    let (health, scan, _) = project_of(agent, &files);
    m.insert("backend".into(), json!(backend.name().as_str()));
    m.insert("healthy".into(), health_json(&health));
    insert_host(&mut m, agent, &health);
    m.insert("instruction_file".into(), json!(files.instructions));
    // The original's key; true when the backend's instruction file is there.
    m.insert("has_claude_md".into(), json!(scan.has_instructions));
    m.insert("has_mcp_config".into(), json!(scan.has_mcp_config));
    for (key, items) in [
        ("mcp_servers", strings(&scan.mcp_servers)),
        ("stacks", strings(&scan.stacks)),
        ("dbs", strings(&scan.dbs)),
    ] {
        if items.as_array().is_some_and(|a| !a.is_empty()) {
            m.insert(key.into(), items);
        }
    }
    if let Some(mode) = &agent.permission_mode {
        m.insert("permission_mode".into(), json!(mode));
    }
    insert_tool_lists(&mut m, agent);
    insert_capabilities(&mut m, agent);
    Value::Object(m)
}

/// Adds the agent's `typical` run figures (median/p90 seconds, median cost)
/// to a `summary` entry, when the journal has a profile for it.
pub fn with_typical(mut summary: Value, profile: Option<&Profile>) -> Value {
    if let Some(typical) = profile.and_then(Profile::typical_json) {
        summary["typical"] = typical;
    }
    summary
}

/// `inspect_agent` / `describe --json`: configuration (with the agent's
/// full run `profile` when the journal has one), then project facts and up
/// to `preview_lines` lines of CLAUDE.md and README.md.
pub fn detail(
    name: &str,
    agent: &Agent,
    settings: &Settings,
    profile: Option<&Profile>,
    preview_lines: usize,
) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("directory".into(), path_text(agent));
    m.insert("description".into(), json!(agent.description));
    let backend = backends::of(agent, settings);
    m.insert("backend".into(), json!(backend.name().as_str()));
    m.insert("timeout".into(), json!(agent.timeout));
    if let Some(model) = &agent.model {
        m.insert("model".into(), json!(model));
    }
    if let Some(budget) = agent.max_budget_usd {
        m.insert("max_budget_usd".into(), json!(budget));
    }
    if let Some(mode) = &agent.permission_mode {
        m.insert("permission_mode".into(), json!(mode));
    }
    insert_tool_lists(&mut m, agent);
    insert_capabilities(&mut m, agent);
    if !agent.instructions.is_empty() {
        m.insert("instructions".into(), json!(agent.instructions));
    }
    if let Some(profile) = profile {
        m.insert("typical".into(), profile.full_json());
    }
    let files = backend.project_files();
    let (health, scan, remote) = project_of(agent, &files);
    m.insert("healthy".into(), health_json(&health));
    insert_host(&mut m, agent, &health);
    m.insert("instruction_file".into(), json!(files.instructions));
    if !matches!(health, Health::Ok) {
        return Value::Object(m);
    }
    m.insert("mcp_servers".into(), strings(&scan.mcp_servers));
    m.insert("stacks".into(), strings(&scan.stacks));
    m.insert("dbs".into(), strings(&scan.dbs));
    // The original's key names, whichever file the backend reads.
    m.insert("has_claude_md".into(), json!(scan.has_instructions));
    m.insert("has_readme".into(), json!(scan.has_readme));
    m.insert("has_mcp_config".into(), json!(scan.has_mcp_config));
    let lines = preview_lines.min(MAX_PREVIEW_LINES);
    if lines > 0 {
        for (present, file, key) in [
            (scan.has_instructions, files.instructions, "claude_md"),
            (scan.has_readme, "README.md", "readme"),
        ] {
            if present {
                let preview = match &remote {
                    Some(listing) => listing.preview(file, lines),
                    None => project::preview(&agent.directory, file, lines),
                };
                m.insert(format!("{key}_preview"), json!(preview.text));
                if preview.truncated {
                    m.insert(format!("{key}_truncated"), json!(true));
                }
            }
        }
    }
    Value::Object(m)
}

/// Tool lists are shown whenever set — an explicit `[]` ("no tools") too.
fn insert_tool_lists(m: &mut Map<String, Value>, agent: &Agent) {
    if let Some(tools) = &agent.allowed_tools {
        m.insert("allowed_tools".into(), strings(tools));
    }
    if let Some(tools) = &agent.disallowed_tools {
        m.insert("disallowed_tools".into(), strings(tools));
    }
}

fn insert_capabilities(m: &mut Map<String, Value>, agent: &Agent) {
    if !agent.capabilities.is_empty() {
        m.insert("capabilities".into(), strings(&agent.capabilities));
    }
    if !agent.risky_capabilities.is_empty() {
        m.insert(
            "risky_capabilities".into(),
            strings(&agent.risky_capabilities),
        );
    }
}
