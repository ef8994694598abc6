//! Claude Code (`claude`) as an agent backend: its executable, the project
//! files it reads (`CLAUDE.md`, `.mcp.json`), its command line (`argv`),
//! and how to read what it prints (`interpret`, with the transcript facts
//! and message texts of `classify`).

pub mod argv;
pub mod classify;
pub mod interpret;

use std::ffi::OsString;
use std::io;

use crate::config::BackendName;
use crate::config::project::{AgentFiles, McpConfig};
use crate::runner::backend::{Abilities, Backend, Cli, LoginCheck, OutputReader};
use crate::runner::command::{CommandLine, OutputMode, Refused};
use crate::runner::process::{CollectAll, StdoutSink};
use crate::runner::result::{DispatchResult, ErrorType};
use crate::runner::stream_sink::{Progress, StreamSink};
use crate::runner::verdict::{Captured, Context, Verdict};
use interpret::StreamCollector;

/// The Claude Code CLI.
pub struct Claude;

const CLI: Cli = Cli {
    name: BackendName::Claude,
    program: "claude",
    abilities: Abilities {
        names_new_sessions: true,
        tool_lists: true,
        spend_cap: true,
        run_controls: true,
    },
    // Any mode is passed through: newer CLIs add modes, and an unknown one
    // gets a warning when it is set, not a refusal.
    permission_modes: None,
    files: AgentFiles {
        instructions: "CLAUDE.md",
        mcp_configs: &[
            McpConfig::Json {
                path: ".mcp.json",
                key: "mcpServers",
            },
            McpConfig::Json {
                path: ".claude/settings.local.json",
                key: "mcpServers",
            },
        ],
    },
    install: "https://docs.anthropic.com/en/docs/claude-code",
    login_check: LoginCheck::Command(&["auth", "status"]),
    login_hint: "Run `claude` once in a terminal and use /login, or set ANTHROPIC_API_KEY in the \
                 environment the agent-dispatch MCP server runs with.",
};

impl Backend for Claude {
    fn cli(&self) -> &'static Cli {
        &CLI
    }

    fn not_found(&self, agent: &str) -> DispatchResult {
        DispatchResult::failure(
            agent,
            ErrorType::NotFound,
            "Claude CLI not found in PATH. Install: https://docs.anthropic.com/en/docs/claude-code"
                .to_owned(),
        )
    }

    fn arguments(&self, line: &CommandLine) -> Result<Vec<OsString>, Refused> {
        argv::arguments(line)
    }

    fn reader(&self, mode: OutputMode, progress: Option<Progress>) -> Box<dyn OutputReader> {
        match mode {
            OutputMode::Json => Box::new(JsonReader(CollectAll::default())),
            OutputMode::Stream => Box::new(StreamSink::new(StreamCollector::new(), progress)),
        }
    }

    fn spawn_failure(&self, ctx: &Context, err: &io::Error) -> DispatchResult {
        interpret::spawn_failure(ctx, err)
    }
}

/// `--output-format json`: one object (or the verbose array) at the end.
struct JsonReader(CollectAll);

impl StdoutSink for JsonReader {
    fn chunk(&mut self, bytes: &[u8]) {
        self.0.chunk(bytes);
    }
    fn explains_outcome(&self) -> bool {
        self.0.explains_outcome()
    }
}

impl OutputReader for JsonReader {
    fn lost_to_cut(&self) -> bool {
        self.0.cut
    }

    fn finish(&mut self, ctx: &Context, ended: Captured) -> Verdict {
        let stdout = std::mem::take(&mut self.0.bytes);
        interpret::interpret_json(ctx, &Captured { stdout, ..ended })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_cli_is_not_found_with_where_to_get_it() {
        let result = Claude.not_found("web");
        assert_eq!(result.error_type, Some(ErrorType::NotFound));
        assert_eq!(
            result.error.as_deref(),
            Some(
                "Claude CLI not found in PATH. Install: https://docs.anthropic.com/en/docs/claude-code"
            )
        );
    }
}
