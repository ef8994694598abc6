//! The OpenAI Codex CLI (`codex`, 0.171) as an agent backend: `codex exec`
//! with JSON events (`argv`, `events`). It reads `AGENTS.md` in a project
//! and its MCP servers from `.codex/config.toml`; it picks its own session
//! ids, takes no tool lists and has no spend cap.

pub mod argv;
pub mod events;

use std::ffi::OsString;

use crate::config::BackendName;
use crate::config::project::{AgentFiles, McpConfig};
use crate::runner::backend::{Abilities, Backend, LoginCheck, OutputReader};
use crate::runner::command::{CommandLine, OutputMode, Refused};
use crate::runner::stream_sink::Progress;
use events::CodexEvents;

pub struct Codex;

impl Backend for Codex {
    fn name(&self) -> BackendName {
        BackendName::Codex
    }

    fn program(&self) -> &'static str {
        "codex"
    }

    fn abilities(&self) -> Abilities {
        Abilities::NONE
    }

    fn permission_modes(&self) -> Option<&'static [&'static str]> {
        Some(&argv::PERMISSION_MODES)
    }

    fn project_files(&self) -> AgentFiles {
        AgentFiles {
            instructions: "AGENTS.md",
            mcp_configs: &[McpConfig::TomlTables {
                path: ".codex/config.toml",
                table: "mcp_servers",
            }],
        }
    }

    fn install(&self) -> &'static str {
        "npm install -g @openai/codex"
    }

    fn login_hint(&self) -> &'static str {
        events::WORDS.login
    }

    fn login_check(&self) -> LoginCheck {
        LoginCheck::Command(&["login", "status"])
    }

    fn arguments(&self, line: &CommandLine) -> Result<Vec<OsString>, Refused> {
        argv::arguments(line)
    }

    fn reader(&self, mode: OutputMode, progress: Option<Progress>) -> Box<dyn OutputReader> {
        super::events_reader::<CodexEvents>(mode, progress)
    }
}
