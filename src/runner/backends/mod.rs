//! The agent CLIs we can dispatch to, one module each, and which one an
//! agent uses.

pub mod claude;

use super::backend::Backend;
use crate::config::Agent;

/// The backend that runs `agent`: the default for every agent until the
/// config can name another.
pub fn of(_agent: &Agent) -> &'static dyn Backend {
    default_backend()
}

/// The backend of an agent that names none: Claude Code.
pub fn default_backend() -> &'static dyn Backend {
    &claude::Claude
}
