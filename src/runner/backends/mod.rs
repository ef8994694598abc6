//! The agent CLIs we can dispatch to, one module each, which one an agent
//! uses, and what an agent may ask of its CLI that the CLI cannot do
//! (`unsupported`).

pub mod claude;
pub mod codex;
pub mod gemini;
pub mod opencode;
pub mod unsupported;

use std::io;

use super::backend::Backend;
use super::result::{DispatchResult, ErrorType};
use super::verdict::Context;
use crate::config::{Agent, BackendName, Settings};

/// The backend that runs `agent` under `settings`.
pub fn of(agent: &Agent, settings: &Settings) -> &'static dyn Backend {
    named(agent.backend_name(settings))
}

/// The backend of a name.
pub fn named(name: BackendName) -> &'static dyn Backend {
    match name {
        BackendName::Claude => &claude::Claude,
        BackendName::Codex => &codex::Codex,
        BackendName::Gemini => &gemini::Gemini,
        BackendName::Opencode => &opencode::Opencode,
    }
}

/// The result of a run whose CLI could not be started at all.
pub fn spawn_failure(ctx: &Context, err: &io::Error) -> DispatchResult {
    let error_type = match err.kind() {
        // E.g. the agent's directory vanished between the check and the spawn.
        io::ErrorKind::NotFound => ErrorType::NotFound,
        io::ErrorKind::PermissionDenied => ErrorType::Permission,
        _ => ErrorType::CliError,
    };
    DispatchResult::failure(ctx.agent, error_type, err.to_string())
}
