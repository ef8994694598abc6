//! `stats [--days N] [--agent NAME] [--json]`: what dispatches cost and how
//! long they took, from the usage journal — totals, then one block per
//! agent. Reads only the journal (never the config), so it works while
//! `agents.yaml` is broken; the numbers come from `usage::summary`.

use std::path::Path;

use super::error::{CliError, UsageError};
use super::escape;
use super::output::{self, Color};
use super::{Context, Token, next_token, option_text, wants_help};
use crate::usage::{self, Query, Stats, Summary};

pub const HELP: &str = "\
Show what dispatches cost and how long they took, from the usage journal
(the last 512 KiB of it and of its previous generation).

Usage: agent-dispatch stats [OPTIONS]

Options:
      --days N       only the last N days (default 0: everything recorded)
      --agent NAME   only this agent
      --json         print the report as JSON

Journal: usage.jsonl beside agents.yaml (or $AGENT_DISPATCH_USAGE_LOG).
";

#[derive(Debug, Clone, PartialEq)]
pub struct StatsArgs {
    /// 0 = everything in the journal.
    pub days: u64,
    pub agent: Option<String>,
    pub json: bool,
}

/// Parses the arguments of `stats`; `None` when help was asked.
pub fn parse(parser: &mut lexopt::Parser) -> Result<Option<StatsArgs>, UsageError> {
    let mut args = StatsArgs {
        days: 0,
        agent: None,
        json: false,
    };
    while let Some(token) = next_token(parser)? {
        if wants_help(&token) {
            return Ok(None);
        }
        match token {
            Token::Long(name) if name == "days" => args.days = parse_days(&option_text(parser)?)?,
            Token::Long(name) if name == "agent" => args.agent = Some(option_text(parser)?),
            Token::Long(name) if name == "json" => args.json = true,
            other => return Err(other.unexpected()),
        }
    }
    Ok(Some(args))
}

fn parse_days(value: &str) -> Result<u64, UsageError> {
    let days: i128 = value.trim().parse().map_err(|_| UsageError::NotANumber {
        option: "--days",
        value: value.to_owned(),
        expected: "a whole number of days",
    })?;
    u64::try_from(days).map_err(|_| UsageError::OutOfRange {
        option: "--days",
        value: value.trim().to_owned(),
        allowed: if days < 0 {
            ">= 0".into()
        } else {
            "a smaller number of days".into()
        },
    })
}

pub fn run(ctx: &Context, args: StatsArgs) -> Result<(), CliError> {
    let journal = &ctx.paths.usage_log;
    let query = Query {
        days: args.days,
        agent: args.agent.clone(),
        ..Query::default()
    };
    let entries = usage::load(journal, &query).map_err(CliError::UsageJournal)?;
    let summary = usage::summarize(&entries);
    if args.json {
        return output::json(&ctx.ui, &summary.to_json());
    }
    if entries.is_empty() {
        return ctx.ui.line(&nothing_recorded(&args, journal));
    }
    ctx.ui.line(&report(ctx, &args, &summary, journal))
}

fn nothing_recorded(args: &StatsArgs, journal: &Path) -> String {
    let agent = args
        .agent
        .as_ref()
        .map(|agent| format!(" for agent '{agent}'"))
        .unwrap_or_default();
    let period = if args.days > 0 {
        format!(" in the last {} day(s)", args.days)
    } else {
        String::new()
    };
    format!(
        "No dispatches recorded{agent}{period}.\n    Journal: {}\n    \
         (Recording is off if settings.usage_log is false in agents.yaml.)",
        journal.display()
    )
}

fn report(ctx: &Context, args: &StatsArgs, summary: &Summary, journal: &Path) -> String {
    let total = &summary.total;
    let period = if args.days > 0 {
        format!("last {} day(s)", args.days)
    } else {
        "all recorded".to_owned()
    };
    let mut lines = vec![format!("Usage ({period})")];
    let mut dispatches = format!("  dispatches: {}", total.dispatches);
    if total.cached_hits > 0 {
        dispatches.push_str(&format!(", {} served from cache", total.cached_hits));
    }
    lines.push(dispatches);
    lines.push(format!("  spend:      ${:.4}", total.cost_usd));
    if let (Some(median), Some(p90), Some(max)) = (total.median_ms, total.p90_ms, total.max_ms) {
        lines.push(format!(
            "  duration:   median {}, p90 {}, max {}",
            duration(median),
            duration(p90),
            duration(max)
        ));
    }
    if !total.outcomes.is_empty() {
        lines.push(format!("  outcomes:   {}", counts(&total.outcomes)));
    }
    if !total.errors.is_empty() {
        let failures = format!("  failures:   {}", counts(&total.errors));
        lines.push(ctx.ui.paint(Color::Yellow, &failures));
    }
    lines.push(String::new());
    lines.push("Per agent".to_owned());
    let width = summary
        .agents
        .iter()
        .map(|(name, _)| escape::line(name).chars().count())
        .max()
        .unwrap_or(0);
    for (name, stats) in &summary.agents {
        lines.push(agent_line(&escape::line(name), width, stats));
        if let Some(detail) = agent_detail(stats) {
            lines.push(format!("      {detail}"));
        }
    }
    lines.push(String::new());
    lines.push(format!("Journal: {}", journal.display()));
    lines.join("\n")
}

fn agent_line(name: &str, width: usize, stats: &Stats) -> String {
    let runs = if stats.dispatches == 1 {
        "run "
    } else {
        "runs"
    };
    let mut line = format!(
        "  {name:<width$} {:>4} {runs}  ${:>8.4}",
        stats.dispatches, stats.cost_usd
    );
    if let (Some(median), Some(p90)) = (stats.median_ms, stats.p90_ms) {
        line.push_str(&format!(
            "  median {:>6} p90 {:>6}",
            duration(median),
            duration(p90)
        ));
    }
    line.trim_end().to_owned()
}

/// Outcome counts, error counts and cache hits, those there are.
fn agent_detail(stats: &Stats) -> Option<String> {
    let mut parts = Vec::new();
    if !stats.outcomes.is_empty() {
        parts.push(counts(&stats.outcomes));
    }
    if !stats.errors.is_empty() {
        parts.push(counts(&stats.errors));
    }
    if stats.cached_hits > 0 {
        parts.push(format!("{} cached", stats.cached_hits));
    }
    (!parts.is_empty()).then(|| parts.join("  |  "))
}

fn counts(counts: &std::collections::BTreeMap<String, u64>) -> String {
    counts
        .iter()
        .map(|(name, count)| format!("{} {count}", escape::line(name)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `850ms`, `12s`, `1m05s`: milliseconds under a second, whole seconds
/// under a minute and a half, then minutes and seconds.
fn duration(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let seconds = ms as f64 / 1000.0;
    if seconds < 90.0 {
        return format!("{seconds:.0}s");
    }
    let whole = seconds.round_ties_even() as u64;
    format!("{}m{:02}s", whole / 60, whole % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Option<StatsArgs>, UsageError> {
        parse(&mut lexopt::Parser::from_args(args.iter().copied()))
    }

    #[test]
    fn durations_read_as_ms_seconds_or_minutes() {
        assert_eq!(duration(0), "0ms");
        assert_eq!(duration(999), "999ms");
        assert_eq!(duration(1000), "1s");
        assert_eq!(duration(2500), "2s"); // half to even, as Python's %.0f
        assert_eq!(duration(89_400), "89s");
        assert_eq!(duration(90_000), "1m30s");
        assert_eq!(duration(65_000 + 60_000), "2m05s");
        assert_eq!(duration(3_600_000), "60m00s");
    }

    #[test]
    fn days_must_be_a_whole_number_not_below_zero() {
        assert_eq!(parse_args(&["--days", "7"]).unwrap().unwrap().days, 7);
        assert_eq!(parse_args(&[]).unwrap().unwrap().days, 0);
        assert_eq!(
            parse_args(&["--days", "-1"]).unwrap_err().to_string(),
            "--days must be >= 0 (got -1)"
        );
        assert!(matches!(
            parse_args(&["--days", "1.5"]),
            Err(UsageError::NotANumber { .. })
        ));
        assert!(parse_args(&["--verbose"]).is_err());
        assert_eq!(parse_args(&["--json", "-h"]).unwrap(), None);
    }

    #[test]
    fn agent_line_aligns_counts_and_money() {
        let stats = Stats {
            dispatches: 1,
            cost_usd: 0.5,
            median_ms: Some(1200),
            p90_ms: Some(95_000),
            ..Stats::default()
        };
        assert_eq!(
            agent_line("web", 5, &stats),
            "  web      1 run   $  0.5000  median     1s p90  1m35s"
        );
        let idle = Stats {
            dispatches: 0,
            cached_hits: 2,
            ..Stats::default()
        };
        assert_eq!(agent_line("api", 3, &idle), "  api    0 runs  $  0.0000");
        assert_eq!(agent_detail(&idle).as_deref(), Some("2 cached"));
    }
}
