//! The typed model of `agents.yaml`: agents, groups and settings with the
//! defaults and bounds of the original 0.16. Each level carries the keys we
//! do not know (`extra`) so that a save never drops what another version of
//! the tool wrote.

use std::path::PathBuf;

use indexmap::IndexMap;

use super::backend_name::BackendName;
use super::yaml::YamlMap;

/// The timeout an agent gets when it is added without one.
pub const DEFAULT_AGENT_TIMEOUT: u64 = 300;
/// Upper bound for any timeout in seconds (one week): large enough for any
/// real task, small enough that deadline arithmetic can never overflow.
pub const MAX_TIMEOUT_SECS: u64 = 7 * 24 * 3600;
/// Upper bound for any budget in US dollars.
pub const MAX_BUDGET_USD: f64 = 1_000_000.0;
pub const MAX_DISPATCH_DEPTH: u64 = 100;
pub const MAX_CONCURRENCY: u64 = 256;
pub const MAX_CACHE_TTL_SECS: u64 = 365 * 24 * 3600;
pub const MAX_CACHE_SIZE: u64 = 1_000_000;
pub const MAX_RETENTION_DAYS: u64 = 36_500;
/// Upper bound for an agent's `max_turns`.
pub const MAX_TURNS: u64 = 10_000;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub agents: IndexMap<String, Agent>,
    pub groups: IndexMap<String, Group>,
    pub settings: Settings,
    pub extra: YamlMap,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    /// Absolute, symlink-resolved; existence is checked when used, not here.
    pub directory: PathBuf,
    pub description: String,
    /// The agent CLI that runs it; `None` = `settings.default_backend`.
    pub backend: Option<BackendName>,
    /// `[user@]name[:port]` of the machine it runs on (checked, see
    /// `remote`); `None` = this one. A remote agent's `directory` is a
    /// path on that host, as given.
    pub host: Option<String>,
    /// `Key=Value` options for ssh, from `remote::SSH_OPTION_KEYS`.
    pub ssh_options: Vec<String>,
    /// The agent CLI's name or path on the host; `None` = its usual name.
    pub remote_cli: Option<String>,
    /// Seconds; 0 means "use `settings.default_timeout`".
    pub timeout: u64,
    /// `None` (or 0) inherits `settings.default_max_budget_usd`.
    pub max_budget_usd: Option<f64>,
    pub model: Option<String>,
    /// Claude Code's `--fallback-model`: models to use when the main one
    /// is busy (comma-separated).
    pub fallback_model: Option<String>,
    /// Claude Code's `--effort` (see `rules::EFFORT_LEVELS`).
    pub effort: Option<String>,
    /// Claude Code's `--max-turns`: agentic turns per dispatch.
    pub max_turns: Option<u64>,
    /// The JSON Schema (compact JSON text of an object, see `json_schema`)
    /// every answer must fit when a call gives no `response_format`.
    pub json_schema: Option<String>,
    pub permission_mode: Option<String>,
    /// Tri-state: `None` inherits the settings default, `Some([])` is an
    /// explicit "no tools", `Some(list)` is exactly those.
    pub allowed_tools: Option<Vec<String>>,
    pub disallowed_tools: Option<Vec<String>>,
    /// Descriptive labels for the orchestrator; never passed to `claude`.
    pub capabilities: Vec<String>,
    pub risky_capabilities: Vec<String>,
    /// Standing orders appended to the system prompt of every dispatch.
    pub instructions: String,
    pub extra: YamlMap,
}

impl Agent {
    /// The CLI this agent runs: its own `backend`, else the settings'
    /// default, else claude.
    pub fn backend_name(&self, settings: &Settings) -> BackendName {
        self.backend
            .or(settings.default_backend)
            .unwrap_or_default()
    }

    /// Whether it runs on another machine.
    pub fn is_remote(&self) -> bool {
        self.host.is_some()
    }

    pub fn new(directory: PathBuf) -> Agent {
        Agent {
            directory,
            description: String::new(),
            backend: None,
            host: None,
            ssh_options: Vec::new(),
            remote_cli: None,
            timeout: DEFAULT_AGENT_TIMEOUT,
            max_budget_usd: None,
            model: None,
            fallback_model: None,
            effort: None,
            max_turns: None,
            json_schema: None,
            permission_mode: None,
            allowed_tools: None,
            disallowed_tools: None,
            capabilities: Vec::new(),
            risky_capabilities: Vec::new(),
            instructions: String::new(),
            extra: YamlMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    /// Orchestrator-facing; never sent to members.
    pub description: String,
    /// Member-facing facts merged into the context of `group=` dispatches.
    pub shared_context: String,
    pub members: Vec<GroupMember>,
    pub extra: YamlMap,
}

impl Group {
    /// The context a member gets on a `group=` dispatch: the group's shared
    /// facts first, then the caller's context. Without shared facts the
    /// caller's context is passed through untouched, so a group dispatch is
    /// then identical to a plain one (and shares its cache entries).
    pub fn merge_context(&self, group_name: &str, context: &str) -> String {
        let shared = self.shared_context.trim();
        let own = context.trim();
        match (shared.is_empty(), own.is_empty()) {
            (true, _) => context.to_owned(),
            (false, true) => format!("Shared context (group '{group_name}'):\n{shared}"),
            (false, false) => format!("Shared context (group '{group_name}'):\n{shared}\n\n{own}"),
        }
    }

    pub fn has_member(&self, agent: &str) -> bool {
        self.members.iter().any(|m| m.agent == agent)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupMember {
    /// An agent name; it may name no configured agent (flagged when read).
    pub agent: String,
    pub use_for: String,
    pub extra: YamlMap,
}

impl GroupMember {
    pub fn new(agent: String) -> GroupMember {
        GroupMember {
            agent,
            use_for: String::new(),
            extra: YamlMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The agent CLI of agents that name none; `None` = claude.
    pub default_backend: Option<BackendName>,
    pub default_timeout: u64,
    pub default_max_budget_usd: Option<f64>,
    pub default_permission_mode: Option<String>,
    pub default_allowed_tools: Vec<String>,
    pub default_disallowed_tools: Vec<String>,
    pub max_dispatch_depth: u64,
    pub max_concurrency: u64,
    pub cache: CacheSettings,
    /// Days after which finished jobs are pruned at server start; 0 = never.
    pub job_retention_days: u64,
    /// Send the dispatch-protocol system prompt.
    pub dispatch_protocol: bool,
    /// Write the usage journal and show `typical` profiles.
    pub usage_log: bool,
    /// Let MCP callers (`add_agent`, `update_agent`) raise an agent's
    /// permissions (see `config::grants`). Off by default: the calling
    /// model must not be able to grant itself power; people use the CLI.
    pub mcp_may_grant: bool,
    pub extra: YamlMap,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            default_backend: None,
            default_timeout: DEFAULT_AGENT_TIMEOUT,
            default_max_budget_usd: None,
            default_permission_mode: None,
            default_allowed_tools: Vec::new(),
            default_disallowed_tools: Vec::new(),
            max_dispatch_depth: 3,
            max_concurrency: 5,
            cache: CacheSettings::default(),
            job_retention_days: 0,
            dispatch_protocol: true,
            usage_log: true,
            mcp_may_grant: false,
            extra: YamlMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CacheSettings {
    pub enabled: bool,
    pub ttl: u64,
    pub max_size: u64,
    pub extra: YamlMap,
}

impl Default for CacheSettings {
    fn default() -> CacheSettings {
        CacheSettings {
            enabled: true,
            ttl: 300,
            max_size: 1000,
            extra: YamlMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_context_puts_shared_facts_first() {
        let group = Group {
            shared_context: "  Prod is read-only. ".into(),
            ..Group::default()
        };
        assert_eq!(
            group.merge_context("backend", " Check orders. "),
            "Shared context (group 'backend'):\nProd is read-only.\n\nCheck orders."
        );
        assert_eq!(
            group.merge_context("backend", " "),
            "Shared context (group 'backend'):\nProd is read-only."
        );
        assert_eq!(Group::default().merge_context("g", " as is "), " as is ");
    }
}
