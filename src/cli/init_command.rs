//! `init`: first-time setup, safe to repeat. Creates the config with the
//! defaults if (and only if) there is none, then registers this binary
//! with Claude Code as the user-scope MCP server `agent-dispatch`. Each
//! step leaves a working state on its own: a config is complete once
//! written, and when `claude` is missing or refuses, the exact command to
//! run by hand is printed.

use std::fs;
use std::io;
use std::time::Duration;

use super::Context;
use super::error::CliError;
use super::output::Color;
use crate::config::Config;
use crate::config::store::{self, LoadError};
use crate::doctor::claude_cli::{self, SERVER_NAME};
use crate::registry;
use crate::runner::environment::find_on_path;
use crate::state::flock;

pub const HELP: &str = "\
Create the config (if there is none) and register this binary with Claude
Code as the MCP server 'agent-dispatch' (user scope). Safe to run again: an
existing config is never changed, and a registration that already starts
this binary is left alone.

Usage: agent-dispatch init

Runs: claude mcp add-json agent-dispatch '{...}' --scope user
";

/// `claude mcp add-json`/`remove` write a settings file; far below this.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(30);

const NEXT_STEPS: &str = "\
Next steps:
  agent-dispatch add <name> <directory>  # add your first agent
  agent-dispatch list                    # verify agents
  agent-dispatch test <name>             # test it works";

pub fn run(ctx: &Context) -> Result<(), CliError> {
    ensure_config(ctx)?;
    register(ctx)
}

/// Creates the default config unless a file is there. Under the config
/// lock, so a config another process writes at the same moment is never
/// replaced.
fn ensure_config(ctx: &Context) -> Result<(), CliError> {
    let path = &ctx.paths.config;
    let _lock = flock::lock_exclusive(&ctx.paths.config_lock, flock::lock_wait())
        .map_err(CliError::Lock)?;
    match fs::metadata(path) {
        Ok(_) => ctx
            .ui
            .line(&format!("Config already exists: {}", path.display())),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            store::save(path, &Config::default()).map_err(CliError::Save)?;
            ctx.ui.line(&format!("Created config: {}", path.display()))
        }
        Err(source) => Err(CliError::Load(LoadError::Read {
            path: path.clone(),
            source,
        })),
    }
}

fn register(ctx: &Context) -> Result<(), CliError> {
    let Some(exe) = registry::current_exe() else {
        ctx.ui
            .warn("cannot tell where this binary is; the MCP server was not registered");
        return manual_steps(ctx, "/path/to/agent-dispatch");
    };
    let Some(exe_text) = exe.to_str() else {
        ctx.ui.warn(&format!(
            "this binary's path {} is not UTF-8, which Claude Code's JSON config cannot hold",
            exe.display()
        ));
        return manual_steps(ctx, "/path/to/agent-dispatch");
    };
    let Some(claude) = find_on_path("claude") else {
        ctx.ui
            .warn("claude CLI not found on PATH; the MCP server was not registered");
        return manual_steps(ctx, exe_text);
    };

    let listing = claude_cli::probe(&claude, &["mcp", "list"], claude_cli::PROBE_TIMEOUT);
    match listing.succeeded().and_then(claude_cli::registered_command) {
        Some(command) if claude_cli::command_runs(&command, &exe) => {
            ctx.ui
                .line(&format!("Already registered with Claude Code: {command}"))?;
            return ctx.ui.line(&format!("\n{NEXT_STEPS}"));
        }
        Some(command) => {
            ctx.ui.line(&format!(
                "agent-dispatch is registered with Claude Code but starts {}; re-registering this binary.",
                if command.is_empty() { "another program" } else { &command }
            ))?;
            let removed = claude_cli::probe(
                &claude,
                &["mcp", "remove", SERVER_NAME, "--scope", "user"],
                REGISTER_TIMEOUT,
            );
            if removed.succeeded().is_none() {
                ctx.ui.warn(&format!(
                    "claude mcp remove {SERVER_NAME} --scope user {removed}; a local or project registration takes precedence over the user one (remove it with 'claude mcp remove {SERVER_NAME} --scope local' or '--scope project')"
                ));
            }
        }
        None => {}
    }

    let json = claude_cli::server_json(exe_text);
    let added = claude_cli::probe(
        &claude,
        &["mcp", "add-json", SERVER_NAME, &json, "--scope", "user"],
        REGISTER_TIMEOUT,
    );
    if added.succeeded().is_none() {
        return Err(CliError::RegistrationFailed {
            reason: added.to_string(),
            manual: manual_command(exe_text),
        });
    }
    ctx.ui.line(&format!(
        "{} {exe_text} serve\n\n{NEXT_STEPS}",
        ctx.ui.paint(
            Color::Green,
            "Registered MCP server with Claude Code (user scope):"
        )
    ))
}

/// Tells the user how to register by hand; `init` itself succeeded, since
/// the config is in place and nothing is half-done.
fn manual_steps(ctx: &Context, exe: &str) -> Result<(), CliError> {
    ctx.ui.line(&format!(
        "Register the MCP server yourself once claude is installed:\n  {}\n\n{NEXT_STEPS}",
        manual_command(exe)
    ))
}

/// The exact `claude mcp add-json` command line, quoted for a POSIX shell.
pub fn manual_command(exe: &str) -> String {
    let json = claude_cli::server_json(exe);
    format!(
        "claude mcp add-json {SERVER_NAME} {} --scope user",
        crate::shell::quote(&json)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manual_command_is_shell_quoted() {
        assert_eq!(
            manual_command("/opt/it's/agent-dispatch"),
            r#"claude mcp add-json agent-dispatch '{"type":"stdio","command":"/opt/it'\''s/agent-dispatch","args":["serve"]}' --scope user"#
        );
    }

    #[test]
    fn manual_command_names_the_binary() {
        assert!(manual_command("/x/agent-dispatch").contains(r#""command":"/x/agent-dispatch""#));
    }
}
