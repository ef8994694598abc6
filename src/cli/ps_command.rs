//! `agent-dispatch ps [--json] [--watch]`: every dispatch running right now
//! on this machine — in every MCP server and every `test` run — as the
//! processes publish them (`crate::live`): agent, backend, what started it,
//! when, for how long, and its last progress step.

use std::io::IsTerminal;
use std::thread;
use std::time::Duration;

use lexopt::Parser;
use serde_json::{Value, json};

use super::error::{CliError, UsageError};
use super::escape;
use super::output;
use super::{Context, Token, next_token, wants_help};
use crate::doctor::servers::format_age;
use crate::live::{self, Running};

pub const HELP: &str = "\
Show every dispatch running right now on this machine: in each MCP server
and each 'agent-dispatch test' run.

Usage: agent-dispatch ps [--json] [--watch]

Options:
      --json    print the list as JSON for scripts (pid, agent, backend,
                what, started_at, elapsed_seconds, last_step)
      --watch   redraw every second until Ctrl-C
";

/// How often `--watch` redraws.
const WATCH_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PsArgs {
    pub json: bool,
    pub watch: bool,
}

/// `ps`'s options; `None` for help.
pub fn parse(parser: &mut Parser) -> Result<Option<PsArgs>, UsageError> {
    let mut args = PsArgs {
        json: false,
        watch: false,
    };
    while let Some(token) = next_token(parser)? {
        if wants_help(&token) {
            return Ok(None);
        }
        match token {
            Token::Long(name) if name == "json" => args.json = true,
            Token::Long(name) if name == "watch" => args.watch = true,
            other => return Err(other.unexpected()),
        }
    }
    Ok(Some(args))
}

pub fn run(ctx: &Context, args: PsArgs) -> Result<(), CliError> {
    loop {
        let running = live::read_all(&ctx.paths.servers_dir, true);
        let now = crate::jobs::now();
        if args.json {
            let list: Vec<Value> = running
                .iter()
                .map(|(pid, r)| {
                    let mut entry = r.to_json(*pid);
                    entry["elapsed_seconds"] = json!(elapsed(r, now).round());
                    entry
                })
                .collect();
            output::json(&ctx.ui, &Value::Array(list))?;
        } else {
            let view = table(&running, now);
            if args.watch && std::io::stdout().is_terminal() {
                // Home and clear: the table redraws in place.
                ctx.ui.line(&format!("\x1b[H\x1b[2J{view}"))?;
            } else {
                ctx.ui.line(&view)?;
            }
        }
        if !args.watch {
            return Ok(());
        }
        thread::sleep(WATCH_EVERY);
    }
}

fn elapsed(running: &Running, now: f64) -> f64 {
    (now - running.started_at).max(0.0)
}

/// The human view: one aligned row per dispatch.
fn table(running: &[(u32, Running)], now: f64) -> String {
    if running.is_empty() {
        return "No dispatches running.".to_owned();
    }
    let header = [
        "PID",
        "AGENT",
        "BACKEND",
        "WHAT",
        "STARTED",
        "ELAPSED",
        "LAST STEP",
    ];
    let rows: Vec<[String; 7]> = running
        .iter()
        .map(|(pid, r)| {
            [
                pid.to_string(),
                escape::line(&r.agent).into_owned(),
                escape::line(&r.backend).into_owned(),
                escape::line(&r.what).into_owned(),
                clock_utc(r.started_at),
                format_age(elapsed(r, now)),
                r.last_step
                    .as_deref()
                    .map_or_else(String::new, |s| escape::line(s).into_owned()),
            ]
        })
        .collect();
    let width = |column: usize| {
        rows.iter()
            .map(|row| row[column].chars().count())
            .chain([header[column].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (column, cell) in cells.iter().enumerate() {
            if column + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  ", w = widths[column]));
            }
        }
        text.trim_end().to_owned()
    };
    let mut lines = vec![line(header.to_vec())];
    lines.extend(
        rows.iter()
            .map(|row| line(row.iter().map(String::as_str).collect())),
    );
    lines.join("\n")
}

/// `HH:MM:SSZ` of an epoch time (UTC, so no time zone database is read).
fn clock_utc(epoch: f64) -> String {
    let secs = epoch.max(0.0) as u64 % 86_400;
    format!(
        "{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_align_and_control_characters_are_escaped() {
        let running = vec![(
            42,
            Running {
                agent: "api".into(),
                backend: "claude".into(),
                what: "dispatch_stream".into(),
                started_at: 3_600.0 * 13.0 + 62.0,
                last_step: Some("Using tool: Bash\x1b[2J".into()),
            },
        )];
        let text = table(&running, 3_600.0 * 13.0 + 62.0 + 75.0);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "PID  AGENT  BACKEND  WHAT             STARTED    ELAPSED  LAST STEP"
        );
        assert_eq!(
            lines[1],
            "42   api    claude   dispatch_stream  13:01:02Z  1m       Using tool: Bash\\x1b[2J"
        );
        assert_eq!(table(&[], 0.0), "No dispatches running.");
    }
}
