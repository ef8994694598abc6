//! opencode (`opencode`, 1.18) as an agent backend: `opencode run` with raw
//! JSON events (`argv`, `events`). It reads `AGENTS.md` in a project and
//! its MCP servers from `opencode.json` (`mcp`); it picks its own session
//! ids (`ses_…`) and reports cost in US dollars, but takes no tool lists and
//! has no spend cap.

pub mod argv;
pub mod events;

use std::ffi::OsString;

use crate::config::BackendName;
use crate::config::project::{AgentFiles, McpConfig};
use crate::runner::backend::{Abilities, Backend, Cli, LoginCheck, OutputReader};
use crate::runner::command::{CommandLine, OutputMode, Refused};
use crate::runner::stream_sink::Progress;

pub struct Opencode;

const CLI: Cli = Cli {
    name: BackendName::Opencode,
    program: "opencode",
    abilities: Abilities::NONE,
    permission_modes: Some(&argv::PERMISSION_MODES),
    files: AgentFiles {
        instructions: "AGENTS.md",
        mcp_configs: &[McpConfig::Json {
            path: "opencode.json",
            key: "mcp",
        }],
    },
    install: "npm install -g opencode-ai",
    login_check: LoginCheck::Credentials {
        env: &[],
        home_files: &[".local/share/opencode/auth.json"],
        optional: true,
    },
    login_hint: events::WORDS.login,
};

impl Backend for Opencode {
    fn cli(&self) -> &'static Cli {
        &CLI
    }

    fn arguments(&self, line: &CommandLine) -> Result<Vec<OsString>, Refused> {
        argv::arguments(line)
    }

    /// The permission rules of every mode but bypassPermissions (`--auto`).
    fn environment(&self, line: &CommandLine) -> Vec<(OsString, OsString)> {
        match argv::grant(line.permission_mode) {
            Ok(argv::Grant::Rules(rules)) => vec![(argv::PERMISSION_ENV.into(), rules.into())],
            Ok(argv::Grant::Auto) | Err(_) => Vec::new(),
        }
    }

    fn reader(&self, mode: OutputMode, progress: Option<Progress>) -> Box<dyn OutputReader> {
        super::events_reader::<events::OpencodeEvents>(mode, progress)
    }
}
