//! JSON views of agents and groups, shared by the CLI's `--json` output and
//! the MCP discovery tools so the two surfaces always agree. Key order and
//! optional keys follow the original's `list_agents` / `inspect_agent` /
//! `list_groups` / `inspect_group` results.

pub mod agents;
pub mod groups;
pub mod remote_project;
pub mod summary_cache;

use serde_json::Value;

use crate::config::project::Health;

/// `true`, `false`, or `"UNREADABLE"` / `"UNREACHABLE"` when the check
/// itself failed.
fn health_json(health: &Health) -> Value {
    match health {
        Health::Ok => Value::Bool(true),
        Health::Missing => Value::Bool(false),
        Health::Unreadable(_) => Value::String("UNREADABLE".into()),
        Health::Unreachable(_) => Value::String("UNREACHABLE".into()),
    }
}
