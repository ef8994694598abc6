//! The Google Gemini CLI (`gemini`, 0.61) as an agent backend (`argv`,
//! `output`). It reads `GEMINI.md` in a project and its MCP servers from
//! `.gemini/settings.json`; it takes a session id we choose; no tool lists,
//! no spend cap.

pub mod argv;
pub mod output;

use std::ffi::OsString;

use crate::config::BackendName;
use crate::config::project::{AgentFiles, McpConfig};
use crate::runner::backend::{Abilities, Backend, Cli, LoginCheck, OutputReader};
use crate::runner::command::{CommandLine, OutputMode, Refused};
use crate::runner::stream_sink::{Progress, StreamSink};

pub struct Gemini;

const CLI: Cli = Cli {
    name: BackendName::Gemini,
    program: "gemini",
    abilities: Abilities {
        names_new_sessions: true,
        ..Abilities::NONE
    },
    permission_modes: Some(&argv::PERMISSION_MODES),
    files: AgentFiles {
        instructions: "GEMINI.md",
        mcp_configs: &[McpConfig::Json {
            path: ".gemini/settings.json",
            key: "mcpServers",
        }],
    },
    install: "npm install -g @google/gemini-cli",
    login_check: LoginCheck::Credentials {
        env: &[
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
            "GOOGLE_GENAI_USE_VERTEXAI",
            "GOOGLE_GENAI_USE_GCA",
        ],
        home_files: &[".gemini/oauth_creds.json"],
        optional: false,
    },
    login_hint: output::WORDS.login,
};

impl Backend for Gemini {
    fn cli(&self) -> &'static Cli {
        &CLI
    }

    fn arguments(&self, line: &CommandLine) -> Result<Vec<OsString>, Refused> {
        argv::arguments(line)
    }

    fn reader(&self, mode: OutputMode, progress: Option<Progress>) -> Box<dyn OutputReader> {
        match mode {
            OutputMode::Json => Box::new(output::JsonReader::default()),
            OutputMode::Stream => {
                Box::new(StreamSink::new(output::StreamEvents::default(), progress))
            }
        }
    }
}
