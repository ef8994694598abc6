//! The MCP registration section: does `claude mcp list` show an
//! `agent-dispatch` server, and does that registration start this binary
//! (rather than, say, the Python original or an older copy)?

use std::path::Path;

use super::claude_cli::{self, Probe};
use super::report::{Check, Section, Status};

fn check(status: Status, message: impl Into<String>) -> Check {
    Check::new(Section::McpRegistration, status, message)
}

/// `mcp_list` is `None` when `claude` is missing.
pub fn checks(mcp_list: Option<&Probe>, exe: Option<&Path>) -> Vec<Check> {
    let Some(probe) = mcp_list else {
        return vec![check(Status::Warn, "Skipped (claude CLI missing)")];
    };
    let listing = match probe {
        Probe::Ran { .. } => match probe.succeeded() {
            Some(stdout) => stdout,
            None => {
                return vec![check(
                    Status::Warn,
                    format!("Could not check MCP registration: claude mcp list {probe}"),
                )];
            }
        },
        Probe::TimedOut(_) => {
            return vec![check(
                Status::Warn,
                "Could not check MCP registration: claude mcp list timed out",
            )];
        }
        Probe::NotStarted(err) => {
            return vec![check(
                Status::Warn,
                format!("Could not check MCP registration: {err}"),
            )];
        }
    };
    let Some(command) = claude_cli::registered_command(listing) else {
        return vec![
            check(
                Status::Warn,
                "agent-dispatch is not registered with Claude Code",
            )
            .fix("Run: agent-dispatch init"),
        ];
    };
    let registered = check(Status::Ok, "agent-dispatch is registered with Claude Code");
    if command.is_empty() {
        return vec![registered];
    }
    let mut checks = vec![registered.detail(format!("command: {command}"))];
    if let Some(exe) = exe {
        checks.push(if claude_cli::command_runs(&command, exe) {
            check(Status::Ok, "The registration starts this binary")
        } else {
            check(
                Status::Warn,
                format!("The registration starts another program: {command}"),
            )
            .detail(format!("This binary is {} (serve).", exe.display()))
            .fix("Run: agent-dispatch init (registers this binary instead)")
        });
    }
    checks
}
