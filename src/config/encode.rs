//! Encodes the typed config back into a YAML tree in the original's layout:
//! known keys in schema order, `None` fields omitted, empty capability
//! lists / instructions / member lists / groups pruned, every setting
//! written out, then the keys we did not know, as they were.

use super::schema::*;
use super::yaml::{Yaml, YamlMap};

pub fn encode_config(config: &Config) -> Yaml {
    let mut top = YamlMap::new();
    top.insert(
        "agents".into(),
        Yaml::Map(
            config
                .agents
                .iter()
                .map(|(name, agent)| (name.clone(), encode_agent(agent)))
                .collect(),
        ),
    );
    if !config.groups.is_empty() {
        top.insert(
            "groups".into(),
            Yaml::Map(
                config
                    .groups
                    .iter()
                    .map(|(name, group)| (name.clone(), encode_group(group)))
                    .collect(),
            ),
        );
    }
    top.insert("settings".into(), encode_settings(&config.settings));
    with_extra(top, &config.extra)
}

fn encode_agent(agent: &Agent) -> Yaml {
    let mut m = YamlMap::new();
    m.insert(
        "directory".into(),
        Yaml::Str(agent.directory.to_string_lossy().into_owned()),
    );
    m.insert("description".into(), text(&agent.description));
    if let Some(backend) = agent.backend {
        m.insert("backend".into(), text(backend.as_str()));
    }
    if let Some(host) = &agent.host {
        m.insert("host".into(), text(host));
    }
    if !agent.ssh_options.is_empty() {
        m.insert("ssh_options".into(), list(&agent.ssh_options));
    }
    if let Some(cli) = &agent.remote_cli {
        m.insert("remote_cli".into(), text(cli));
    }
    m.insert("timeout".into(), int(agent.timeout));
    if let Some(budget) = agent.max_budget_usd {
        m.insert("max_budget_usd".into(), Yaml::Float(budget));
    }
    if let Some(model) = &agent.model {
        m.insert("model".into(), text(model));
    }
    if let Some(models) = &agent.fallback_model {
        m.insert("fallback_model".into(), text(models));
    }
    if let Some(effort) = &agent.effort {
        m.insert("effort".into(), text(effort));
    }
    if let Some(turns) = agent.max_turns {
        m.insert("max_turns".into(), int(turns));
    }
    if let Some(schema) = &agent.json_schema {
        m.insert("json_schema".into(), super::json_schema::to_yaml(schema));
    }
    if let Some(mode) = &agent.permission_mode {
        m.insert("permission_mode".into(), text(mode));
    }
    if let Some(tools) = &agent.allowed_tools {
        m.insert("allowed_tools".into(), list(tools));
    }
    if let Some(tools) = &agent.disallowed_tools {
        m.insert("disallowed_tools".into(), list(tools));
    }
    if !agent.capabilities.is_empty() {
        m.insert("capabilities".into(), list(&agent.capabilities));
    }
    if !agent.risky_capabilities.is_empty() {
        m.insert("risky_capabilities".into(), list(&agent.risky_capabilities));
    }
    if !agent.instructions.is_empty() {
        m.insert("instructions".into(), text(&agent.instructions));
    }
    with_extra(m, &agent.extra)
}

fn encode_group(group: &Group) -> Yaml {
    let mut m = YamlMap::new();
    m.insert("description".into(), text(&group.description));
    m.insert("shared_context".into(), text(&group.shared_context));
    if !group.members.is_empty() {
        let members = group
            .members
            .iter()
            .map(|member| {
                let mut entry = YamlMap::new();
                entry.insert("agent".into(), text(&member.agent));
                entry.insert("use_for".into(), text(&member.use_for));
                with_extra(entry, &member.extra)
            })
            .collect();
        m.insert("members".into(), Yaml::Seq(members));
    }
    with_extra(m, &group.extra)
}

fn encode_settings(settings: &Settings) -> Yaml {
    let mut m = YamlMap::new();
    if let Some(backend) = settings.default_backend {
        m.insert("default_backend".into(), text(backend.as_str()));
    }
    m.insert("default_timeout".into(), int(settings.default_timeout));
    if let Some(budget) = settings.default_max_budget_usd {
        m.insert("default_max_budget_usd".into(), Yaml::Float(budget));
    }
    if let Some(mode) = &settings.default_permission_mode {
        m.insert("default_permission_mode".into(), text(mode));
    }
    m.insert(
        "default_allowed_tools".into(),
        list(&settings.default_allowed_tools),
    );
    m.insert(
        "default_disallowed_tools".into(),
        list(&settings.default_disallowed_tools),
    );
    m.insert(
        "max_dispatch_depth".into(),
        int(settings.max_dispatch_depth),
    );
    m.insert("max_concurrency".into(), int(settings.max_concurrency));
    let mut cache = YamlMap::new();
    cache.insert("enabled".into(), Yaml::Bool(settings.cache.enabled));
    cache.insert("ttl".into(), int(settings.cache.ttl));
    cache.insert("max_size".into(), int(settings.cache.max_size));
    m.insert("cache".into(), with_extra(cache, &settings.cache.extra));
    m.insert(
        "job_retention_days".into(),
        int(settings.job_retention_days),
    );
    m.insert(
        "dispatch_protocol".into(),
        Yaml::Bool(settings.dispatch_protocol),
    );
    m.insert("usage_log".into(), Yaml::Bool(settings.usage_log));
    m.insert("mcp_may_grant".into(), Yaml::Bool(settings.mcp_may_grant));
    with_extra(m, &settings.extra)
}

fn with_extra(mut known: YamlMap, extra: &YamlMap) -> Yaml {
    for (key, value) in extra {
        known.insert(key.clone(), value.clone());
    }
    Yaml::Map(known)
}

fn text(value: &str) -> Yaml {
    Yaml::Str(value.to_owned())
}

fn list(items: &[String]) -> Yaml {
    Yaml::Seq(items.iter().map(|item| text(item)).collect())
}

/// All integers in the schema are bounded far below `i64::MAX`.
fn int(value: u64) -> Yaml {
    Yaml::Int(i64::try_from(value).unwrap_or(i64::MAX))
}
