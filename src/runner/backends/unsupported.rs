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
            Unsupported::SpendCap { backend } => write!(
                f,
                "the {backend} CLI cannot stop a run at a spend cap, so max_budget_usd cannot \
                 be honoured; clear it (max_budget_usd: 0) and bound the run with timeout instead."
            ),
        }
    }
}
