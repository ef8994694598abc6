//! The OpenAI Codex CLI (`codex`, 0.171) as an agent backend: `codex exec`
//! with JSON events (`argv`, `events`). It reads `AGENTS.md` in a project
//! and its MCP servers from `.codex/config.toml`; it picks its own session
//! ids, takes no tool lists and has no spend cap.

pub mod argv;
pub mod events;

use std::ffi::OsString;

use crate::config::BackendName;
use crate::config::project::{AgentFiles, McpConfig};
use crate::runner::backend::{Abilities, Backend, Cli, LoginCheck, OutputReader};
use crate::runner::command::{CommandLine, OutputMode, Refused};
use crate::runner::stream_sink::Progress;
use events::CodexEvents;

pub struct Codex;

const CLI: Cli = Cli {
    name: BackendName::Codex,
    program: "codex",
    abilities: Abilities::NONE,
    permission_modes: Some(&argv::PERMISSION_MODES),
    files: AgentFiles {
        instructions: "AGENTS.md",
        mcp_configs: &[McpConfig::TomlTables {
            path: ".codex/config.toml",
            table: "mcp_servers",
        }],
    },
    install: "npm install -g @openai/codex",
    login_check: LoginCheck::Command(&["login", "status"]),
    login_hint: events::WORDS.login,
};

impl Backend for Codex {
    fn cli(&self) -> &'static Cli {
        &CLI
    }

    fn arguments(&self, line: &CommandLine) -> Result<Vec<OsString>, Refused> {
        argv::arguments(line)
    }

    fn reader(&self, mode: OutputMode, progress: Option<Progress>) -> Box<dyn OutputReader> {
        super::events_reader::<CodexEvents>(mode, progress)
    }
}
