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
use crate::runner::backend::{Abilities, Backend, LoginCheck, OutputReader};
use crate::runner::command::{CommandLine, OutputMode, Refused};
use crate::runner::stream_sink::Progress;

pub struct Opencode;

impl Backend for Opencode {
    fn name(&self) -> BackendName {
        BackendName::Opencode
    }

    fn program(&self) -> &'static str {
        "opencode"
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
            mcp_configs: &[McpConfig::Json {
                path: "opencode.json",
                key: "mcp",
            }],
        }
    }

    fn install(&self) -> &'static str {
        "npm install -g opencode-ai"
    }

    fn login_hint(&self) -> &'static str {
        events::WORDS.login
    }

    fn login_check(&self) -> LoginCheck {
        LoginCheck::Credentials {
            env: &[],
            home_files: &[".local/share/opencode/auth.json"],
            optional: true,
        }
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
