//! The agent CLIs we can dispatch to, one module each, and which one an
//! agent uses.

pub mod claude;

use super::backend::Backend;
use crate::config::Agent;

/// The backend that runs `agent`: Claude Code for every agent until the
/// config can name another.
pub fn of(_agent: &Agent) -> &'static dyn Backend {
    &claude::Claude
}
