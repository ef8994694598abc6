//! What an agent's settings ask of its CLI that the CLI cannot do: a
//! permission mode it has no flags for, tool lists, a spend cap. Checked
//! when an agent is added or changed (CLI and MCP), by `doctor`, and again
//! before every dispatch, so a setting is refused, never silently dropped.
//!
//! Settings defaults for tool lists and the spend cap apply only to CLIs
//! that take them (README says so); an agent's own value is a demand.

use std::fmt;

use crate::config::grants::Permissions;
use crate::config::{Agent, BackendName, Settings};
use crate::runner::backend::Backend;

/// A setting `backend` cannot honour, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Unsupported {
    PermissionMode {
        backend: BackendName,
        mode: String,
        /// From `settings.default_permission_mode`, not the agent's own.
        inherited: bool,
        supported: &'static [&'static str],
    },
    /// `allowed_tools` or `disallowed_tools` set on the agent.
    ToolList {
        backend: BackendName,
        key: &'static str,
    },
    SpendCap {
        backend: BackendName,
    },
    /// `fallback_model`, `effort` or `max_turns`: Claude Code's own.
    RunControl {
        backend: BackendName,
        key: &'static str,
    },
}

/// The first setting of `agent` that `backend` cannot honour.
pub fn check(backend: &dyn Backend, agent: &Agent, settings: &Settings) -> Result<(), Unsupported> {
    let name = backend.name();
    if let Some(supported) = backend.permission_modes() {
        let mode = Permissions::effective(agent, settings).mode;
        if let Some(mode) = mode.filter(|mode| !supported.contains(mode)) {
            return Err(Unsupported::PermissionMode {
                backend: name,
                mode: mode.to_owned(),
                inherited: agent.permission_mode.is_none(),
                supported,
            });
        }
    }
    let abilities = backend.abilities();
    if !abilities.tool_lists {
        for (key, list) in [
            ("allowed_tools", &agent.allowed_tools),
            ("disallowed_tools", &agent.disallowed_tools),
        ] {
            if list.is_some() {
                return Err(Unsupported::ToolList { backend: name, key });
            }
        }
    }
    if !abilities.spend_cap && agent.max_budget_usd.is_some_and(|cap| cap > 0.0) {
        return Err(Unsupported::SpendCap { backend: name });
    }
    if !abilities.run_controls {
        for (key, set) in [
            ("fallback_model", agent.fallback_model.is_some()),
            ("effort", agent.effort.is_some()),
            ("max_turns", agent.max_turns.is_some()),
        ] {
            if set {
                return Err(Unsupported::RunControl { backend: name, key });
            }
        }
    }
    Ok(())
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::PermissionMode {
                backend,
                mode,
                inherited,
                supported,
            } => {
                let source = if *inherited {
                    "settings.default_permission_mode"
                } else {
                    "permission_mode"
                };
                write!(
                    f,
                    "the {backend} CLI has no way to run permission mode {mode:?} (from {source}); \
                     it runs {}. Set the agent's permission_mode to one of those, or use another backend.",
                    supported.join(", ")
                )
            }
            Unsupported::ToolList { backend, key } => write!(
                f,
                "the {backend} CLI takes no tool lists, so {key} cannot be honoured; \
                 clear it ({key}: none) and restrict the agent with permission_mode instead."
            ),
            Unsupported::RunControl { backend, key } => write!(
                f,
                "the {backend} CLI has no {key} setting; clear it ({key}: none)."
            ),
            Unsupported::SpendCap { backend } => write!(
                f,
                "the {backend} CLI cannot stop a run at a spend cap, so max_budget_usd cannot \
                 be honoured; clear it (max_budget_usd: 0) and bound the run with timeout instead."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::backends;

    fn agent(backend: BackendName) -> Agent {
        let mut agent = Agent::new("/x".into());
        agent.backend = Some(backend);
        agent
    }

    #[test]
    fn each_setting_a_cli_lacks_is_named_and_claude_takes_them_all() {
        let settings = Settings::default();
        let check_of = |agent: &Agent| check(backends::of(agent, &settings), agent, &settings);
        let mut codex = agent(BackendName::Codex);
        codex.effort = Some("high".into());
        assert_eq!(
            check_of(&codex),
            Err(Unsupported::RunControl {
                backend: BackendName::Codex,
                key: "effort"
            })
        );
        let mut gemini = agent(BackendName::Gemini);
        gemini.max_budget_usd = Some(1.0);
        assert!(matches!(
            check_of(&gemini),
            Err(Unsupported::SpendCap { .. })
        ));
        let mut opencode = agent(BackendName::Opencode);
        opencode.allowed_tools = Some(Vec::new());
        assert!(matches!(
            check_of(&opencode),
            Err(Unsupported::ToolList { .. })
        ));
        let inherited = Settings {
            default_permission_mode: Some("auto".into()),
            ..Settings::default()
        };
        let gemini = agent(BackendName::Gemini);
        let problem = check(backends::of(&gemini, &inherited), &gemini, &inherited).unwrap_err();
        assert!(
            problem
                .to_string()
                .contains("settings.default_permission_mode"),
            "{problem}"
        );
        let mut claude = agent(BackendName::Claude);
        claude.effort = Some("max".into());
        claude.max_turns = Some(3);
        claude.permission_mode = Some("someFutureMode".into());
        assert_eq!(check_of(&claude), Ok(()));
    }
}
