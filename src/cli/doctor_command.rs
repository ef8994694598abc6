//! `doctor [--json] [--strict]`: runs the health checks of `crate::doctor`
//! and shows them — grouped by section with a summary for people, or as
//! one JSON report for scripts (always printed, even when checks fail).
//! Exit 1 when a check failed, or with `--strict` when one warned.

use super::error::{CliError, UsageError};
use super::escape;
use super::output::{self, Color};
use super::{Context, Token, next_token, wants_help};
use crate::doctor::{self, Inputs, Report, Section, Status};

pub const HELP: &str = "\
Check that everything a dispatch needs is in place: the claude CLI (found,
version, options, login), running servers, the config, Claude Code's
registration of this server, agent directories and groups. Never runs a
dispatch; each claude probe is limited to 10 seconds.

Usage: agent-dispatch doctor [--json] [--strict]

Options:
      --json     print one JSON report (schema_version 1) for scripts
      --strict   exit 1 on warnings too, not only on failures

Exit status: 0 all good, 1 a check failed (or warned, with --strict).
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoctorArgs {
    pub json: bool,
    pub strict: bool,
}

/// `None` when help was asked for.
pub fn parse(parser: &mut lexopt::Parser) -> Result<Option<DoctorArgs>, UsageError> {
    let mut args = DoctorArgs {
        json: false,
        strict: false,
    };
    while let Some(token) = next_token(parser)? {
        if wants_help(&token) {
            return Ok(None);
        }
        match token {
            Token::Long(name) if name == "json" => args.json = true,
            Token::Long(name) if name == "strict" => args.strict = true,
            other => return Err(other.unexpected()),
        }
    }
    Ok(Some(args))
}

pub fn run(ctx: &Context, args: DoctorArgs) -> Result<(), CliError> {
    let report = doctor::run(&Inputs::from_env(ctx.paths.clone()));
    if args.json {
        output::json(&ctx.ui, &report.to_json())?;
    } else {
        ctx.ui.line(&render(ctx, &report))?;
    }
    if report.failed(args.strict) {
        return Err(CliError::ChecksFailed {
            issues: report.issues(),
            warnings: report.warnings(),
        });
    }
    Ok(())
}

fn render(ctx: &Context, report: &Report) -> String {
    let mut text = String::new();
    for section in Section::ALL {
        let mut checks = report.checks.iter().filter(|c| c.section == section);
        let Some(first) = checks.next() else { continue };
        text.push('\n');
        text.push_str(&ctx.ui.paint(Color::Bold, section.title()));
        text.push('\n');
        for check in std::iter::once(first).chain(checks) {
            let color = match check.status {
                Status::Ok => Color::Green,
                Status::Warn => Color::Yellow,
                Status::Fail => Color::Red,
            };
            let tag = ctx.ui.paint(color, &format!("[{}]", check.status.tag()));
            // Messages and details quote `claude`'s own output.
            text.push_str(&format!("  {tag} {}\n", escape::line(&check.message)));
            for line in check.details.iter().chain(&check.remediation) {
                text.push_str(&format!("    {}\n", escape::line(line)));
            }
        }
    }
    text.push('\n');
    text.push_str(&ctx.ui.paint(Color::Bold, "Summary"));
    text.push_str(&format!("\n  {}", report.summary()));
    text
}
