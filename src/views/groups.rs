//! The group views: listing entries and the full orchestration brief. A
//! member naming no configured agent is flagged `unknown`, never dropped.

use serde_json::{Map, Value, json};

use super::health_json;
use crate::config::{Config, Group, GroupMember};

/// One entry of `list_groups` / `group list --json`.
pub fn summary(name: &str, group: &Group, config: &Config) -> Value {
    json!({
        "name": name,
        "description": group.description,
        "shared_context_present": !group.shared_context.trim().is_empty(),
        "member_count": group.members.len(),
        "members": group.members.iter().map(|member| member_entry(member, config, false)).collect::<Vec<_>>(),
    })
}

/// `inspect_group` / `group inspect --json`.
pub fn detail(name: &str, group: &Group, config: &Config) -> Value {
    json!({
        "name": name,
        "description": group.description,
        "shared_context": group.shared_context,
        "member_count": group.members.len(),
        "members": group.members.iter().map(|member| member_entry(member, config, true)).collect::<Vec<_>>(),
    })
}

fn member_entry(member: &GroupMember, config: &Config, detailed: bool) -> Value {
    let mut m = Map::new();
    m.insert("agent".into(), json!(member.agent));
    if !member.use_for.is_empty() {
        m.insert("use_for".into(), json!(member.use_for));
    }
    match config.agents.get(&member.agent) {
        None => {
            m.insert("unknown".into(), json!(true));
        }
        Some(agent) => {
            if detailed {
                m.insert("directory".into(), json!(agent.directory.to_string_lossy()));
                if !agent.description.is_empty() {
                    m.insert("description".into(), json!(agent.description));
                }
            }
            m.insert(
                "healthy".into(),
                health_json(&super::agents::health_of(agent, &config.settings)),
            );
        }
    }
    Value::Object(m)
}
