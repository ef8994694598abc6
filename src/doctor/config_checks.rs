//! The Config, Agents and Groups sections: can the config be read and
//! parsed, does every agent's directory exist (and which Claude Code files
//! it has), and does every group name only configured agents.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::report::{Check, Section, Status};
use crate::config::project::{Health, McpConfig};
use crate::config::store::{self, LoadError};
use crate::config::{BackendName, Config};
use crate::runner::backends::{self, unsupported};
use crate::views::agents::health_of;
use crate::views::remote_project;

const PERMISSION_DETAIL: &str =
    "Your user needs read access to the file and search (x) access to every parent directory.";

/// What reading the config came to.
#[derive(Debug)]
pub enum ConfigState {
    /// No file: every command works with the defaults.
    Missing(PathBuf, Config),
    Loaded(PathBuf, Config),
    /// Whether the file exists could not even be checked.
    Unchecked(PathBuf, io::Error),
    Invalid(LoadError),
}

impl ConfigState {
    pub fn read(path: &Path) -> ConfigState {
        match fs::metadata(path) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                ConfigState::Missing(path.to_path_buf(), Config::default())
            }
            Err(err) => ConfigState::Unchecked(path.to_path_buf(), err),
            Ok(_) => match store::load(path) {
                Ok(config) => ConfigState::Loaded(path.to_path_buf(), config),
                Err(err) => ConfigState::Invalid(err),
            },
        }
    }

    /// The config every other check works from, if there is one.
    pub fn config(&self) -> Option<&Config> {
        match self {
            ConfigState::Missing(_, config) | ConfigState::Loaded(_, config) => Some(config),
            ConfigState::Unchecked(..) | ConfigState::Invalid(_) => None,
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            ConfigState::Missing(path, _)
            | ConfigState::Loaded(path, _)
            | ConfigState::Unchecked(path, _) => path,
            ConfigState::Invalid(err) => err.path(),
        }
    }
}

fn is_permission(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::PermissionDenied
}

pub fn config_check(state: &ConfigState) -> Check {
    let path = state.path().display();
    let check = |status, message: String| Check::new(Section::Config, status, message);
    match state {
        ConfigState::Loaded(_, config) => {
            let n = config.agents.len();
            check(
                Status::Ok,
                format!(
                    "Config: {path} ({n} {})",
                    if n == 1 { "agent" } else { "agents" }
                ),
            )
        }
        ConfigState::Missing(..) => {
            check(Status::Warn, format!("Config not found: {path}")).fix("Run: agent-dispatch init")
        }
        ConfigState::Unchecked(_, err) => {
            check(Status::Fail, format!("Config could not be read: {path}"))
                .detail(err.to_string())
                .fix(PERMISSION_DETAIL)
        }
        ConfigState::Invalid(err) => match err {
            LoadError::Schema { source, .. } => {
                check(Status::Fail, format!("Config schema invalid: {path}"))
                    .detail_lines(&source.to_string())
                    .fix(err.remedy())
            }
            LoadError::Yaml { source, .. } => {
                check(Status::Fail, format!("Config not valid YAML: {path}"))
                    .detail_lines(&source.to_string())
                    .fix(err.remedy())
            }
            LoadError::NotUtf8 { valid_up_to, .. } => {
                check(Status::Fail, format!("Config is not valid UTF-8: {path}"))
                    .detail(format!(
                        "The first invalid byte is at offset {valid_up_to}."
                    ))
                    .fix("Re-save the file as UTF-8.")
            }
            LoadError::TooLarge { bytes, .. } => {
                check(Status::Fail, format!("Config is too large: {path}"))
                    .detail(format!(
                        "{bytes} bytes, over the {} byte limit.",
                        store::MAX_CONFIG_BYTES
                    ))
                    .fix(err.remedy())
            }
            LoadError::Read { source, .. } => {
                let failed = check(Status::Fail, format!("Config could not be read: {path}"))
                    .detail(source.to_string());
                if is_permission(source) {
                    failed.fix(PERMISSION_DETAIL)
                } else {
                    failed
                }
            }
        },
    }
}

pub fn agent_checks(state: &ConfigState) -> Vec<Check> {
    let check = |status, message: String| Check::new(Section::Agents, status, message);
    let Some(config) = state.config() else {
        return vec![check(
            Status::Warn,
            "Skipped (config could not be loaded)".into(),
        )];
    };
    if config.agents.is_empty() {
        return vec![
            check(Status::Warn, "No agents configured".into())
                .fix("Add one: agent-dispatch add <name> <directory>"),
        ];
    }
    remote_project::start_all(config);
    config
        .agents
        .iter()
        .map(|(name, agent)| {
            let dir = agent.directory.display();
            let backend = backends::of(agent, &config.settings);
            if let Err(problem) = unsupported::check(backend, agent, &config.settings) {
                return check(Status::Fail, format!("{name}: cannot run - {problem}"))
                    .detail(format!("Directory: {dir}"));
            }
            let health = health_of(agent, &config.settings);
            match health {
                Health::Ok => {
                    let files = backend.project_files();
                    let present: Vec<&str> = match &agent.host {
                        // On its host: inspect_agent shows its files.
                        Some(_) => Vec::new(),
                        None => [files.instructions]
                            .into_iter()
                            .chain(files.mcp_configs.first().map(McpConfig::path))
                            .filter(|file| agent.directory.join(file).is_file())
                            .collect(),
                    };
                    let files = if present.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", present.join(", "))
                    };
                    let dir = match &agent.host {
                        Some(host) => format!("{dir} on {host}"),
                        None => dir.to_string(),
                    };
                    // Claude is the default and goes unnamed.
                    let cli = match backend.name() {
                        BackendName::Claude => String::new(),
                        other => format!(" ({other})"),
                    };
                    check(Status::Ok, format!("{name}{cli}: {dir}{files}"))
                }
                Health::Missing => check(Status::Fail, format!("{name}: directory missing - {dir}"))
                    .fix(format!(
                        "Restore the directory, or re-add the agent: agent-dispatch remove {name} && agent-dispatch add {name} <directory>"
                    )),
                Health::Unreadable(err) => {
                    check(Status::Fail, format!("{name}: directory unreadable - {err}"))
                        .detail(format!("Directory: {dir}"))
                }
                Health::Unreachable(why) => {
                    let host = agent.host.as_deref().unwrap_or_default();
                    check(Status::Fail, format!("{name}: {host} unreachable - {why}"))
                        .detail(format!("Directory there: {dir}"))
                        .fix(format!("Check that `ssh {host} true` works from here (keys, known_hosts, the agent's ssh_options)"))
                }
            }
        })
        .collect()
}

pub fn group_checks(state: &ConfigState) -> Vec<Check> {
    let check = |status, message: String| Check::new(Section::Groups, status, message);
    let Some(config) = state.config() else {
        return vec![check(
            Status::Warn,
            "Skipped (config could not be loaded)".into(),
        )];
    };
    if config.groups.is_empty() {
        return vec![check(Status::Ok, "No groups configured".into())];
    }
    config
        .groups
        .iter()
        .map(|(name, group)| {
            let unknown: Vec<&str> = group
                .members
                .iter()
                .map(|m| m.agent.as_str())
                .filter(|agent| !config.agents.contains_key(*agent))
                .collect();
            let n = group.members.len();
            if !unknown.is_empty() {
                check(
                    Status::Fail,
                    format!("{name}: unknown member(s): {}", unknown.join(", ")),
                )
                .fix(format!(
                    "Fix by recreating: agent-dispatch group remove {name} && agent-dispatch group add {name} --member ... (or edit agents.yaml)"
                ))
            } else if n == 0 {
                check(Status::Warn, format!("{name}: no members configured")).fix(format!(
                    "Add members by recreating: agent-dispatch group remove {name} && agent-dispatch group add {name} --member agent1 --member agent2"
                ))
            } else {
                check(
                    Status::Ok,
                    format!("{name}: {n} {}", if n == 1 { "member" } else { "members" }),
                )
            }
        })
        .collect()
}
