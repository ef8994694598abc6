//! The agent CLIs we can dispatch to, one module each, which one an agent
//! uses, and what an agent may ask of its CLI that the CLI cannot do
//! (`unsupported`).

pub mod claude;
pub mod codex;
pub mod gemini;
pub mod opencode;
pub mod unsupported;

use super::backend::{Backend, OutputReader};
use super::command::OutputMode;
use super::run_facts::FactEvents;
use super::stream_sink::{Progress, StreamSink};
use crate::config::{Agent, BackendName, Settings};

/// The reader of a CLI that prints events in both output modes: only a
/// stream passes progress on.
fn events_reader<E: FactEvents + Default>(
    mode: OutputMode,
    progress: Option<Progress>,
) -> Box<dyn OutputReader> {
    let progress = progress.filter(|_| mode == OutputMode::Stream);
    Box::new(StreamSink::new(E::default(), progress))
}

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
