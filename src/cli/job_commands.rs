//! `jobs`, `job`, `cancel` and `gc`: the job store from the terminal —
//! listing, one record in full, cancelling a job that has not started, and
//! deleting old finished ones. The CLI never kills a process: a running
//! job's `claude` belongs to the MCP server that started it. Task, result,
//! error and progress texts are printed through `escape`.

use std::thread;
use std::time::Duration;

use lexopt::Parser;
use serde_json::Value;

use super::error::{CliError, UsageError};
use super::escape;
use super::output::{self, Color};
use super::{Context, Token, next_token, option_text, wants_help};
use crate::chars;
use crate::ids;
use crate::jobs::record::{self, Job, Status};
use crate::jobs::store::{CancelOutcome, JobStore};

pub const JOBS_HELP: &str = "\
List async jobs (dispatch_async) and stored results (return_ref), newest
first.

Usage: agent-dispatch jobs [OPTIONS]

Options:
      --status STATUS  only jobs in this state: pending, running, done,
                       failed or cancelled
      --agent NAME     only jobs of this agent (removed agents too)
      --limit N        show at most N jobs (default 20)
      --json           print a JSON array of job summaries for scripts
";

pub const JOB_HELP: &str = "\
Show one job in full: task, timing, progress tail, error and result.

Usage: agent-dispatch job ID [--json] [--follow]

ID is the 32-character job id that dispatch_async returns and 'jobs' lists.

Options:
      --json    print the full job record as JSON for scripts
      --follow  print the job's progress as it arrives, then the job in
                full once it has ended (Ctrl-C stops following, not the job)
";

/// How often `job --follow` looks at the record.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

/// `job ID [--json] [--follow]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobArgs {
    pub id: String,
    pub json: bool,
    pub follow: bool,
}

pub const CANCEL_HELP: &str = "\
Cancel a pending job so that it never starts.

Usage: agent-dispatch cancel ID

A running job's claude process belongs to the MCP server that started it,
and only that server can stop it (its dispatch_cancel tool): this command
never kills processes.
";

pub const GC_HELP: &str = "\
Delete finished (done, failed or cancelled) jobs older than some days.
Pending and running jobs are never deleted.

Usage: agent-dispatch gc [--days N | --all] [--dry-run]

Options:
      --days N     age limit in days, fractions allowed (default 7)
      --all        delete every finished job, whatever its age
      --dry-run    list what would be deleted and delete nothing
";

const DEFAULT_LIMIT: usize = 20;
const DEFAULT_GC_DAYS: f64 = 7.0;
const SECONDS_PER_DAY: f64 = 86_400.0;
/// How much of a task one listing line shows.
const LINE_TASK_CHARS: usize = 60;
const DETAIL_TASK_CHARS: usize = 200;
const DETAIL_ERROR_CHARS: usize = 300;
const DETAIL_PROGRESS_LINES: usize = 10;
const DETAIL_RESULT_CHARS: usize = 2000;

#[derive(Debug, Clone, PartialEq)]
pub struct JobsArgs {
    pub status: Option<Status>,
    pub agent: Option<String>,
    pub limit: usize,
    pub json: bool,
}

/// Which finished jobs `gc` deletes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxAge {
    /// Those that ended more than this many days ago (finite, > 0).
    Days(f64),
    /// Every one.
    All,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GcArgs {
    pub max_age: MaxAge,
    pub dry_run: bool,
}

/// `jobs [--status S] [--agent NAME] [--limit N] [--json]`; `None` for help.
pub fn parse_jobs(parser: &mut Parser) -> Result<Option<JobsArgs>, UsageError> {
    let mut args = JobsArgs {
        status: None,
        agent: None,
        limit: DEFAULT_LIMIT,
        json: false,
    };
    while let Some(token) = next_token(parser)? {
        if wants_help(&token) {
            return Ok(None);
        }
        match token {
            Token::Long(name) if name == "status" => {
                args.status = Some(parse_status(&option_text(parser)?)?)
            }
            Token::Long(name) if name == "agent" => args.agent = Some(option_text(parser)?),
            Token::Long(name) if name == "limit" => {
                args.limit = parse_limit(&option_text(parser)?)?
            }
            Token::Long(name) if name == "json" => args.json = true,
            other => return Err(other.unexpected()),
        }
    }
    Ok(Some(args))
}

/// `job ID [--json]`; `None` for help.
pub fn parse_job(parser: &mut Parser) -> Result<Option<JobArgs>, UsageError> {
    let mut id = None;
    let mut json = false;
    let mut follow = false;
    while let Some(token) = next_token(parser)? {
        if wants_help(&token) {
            return Ok(None);
        }
        match token {
            Token::Long(name) if name == "json" => json = true,
            Token::Long(name) if name == "follow" => follow = true,
            Token::Value(value) if id.is_none() => id = Some(value),
            other => return Err(other.unexpected()),
        }
    }
    Ok(Some(JobArgs {
        id: job_id(id)?,
        json,
        follow,
    }))
}

/// `cancel ID`; `None` for help.
pub fn parse_cancel(parser: &mut Parser) -> Result<Option<String>, UsageError> {
    let mut id = None;
    while let Some(token) = next_token(parser)? {
        if wants_help(&token) {
            return Ok(None);
        }
        match token {
            Token::Value(value) if id.is_none() => id = Some(value),
            other => return Err(other.unexpected()),
        }
    }
    job_id(id).map(Some)
}

/// `gc [--days N | --all] [--dry-run]`; `None` for help.
pub fn parse_gc(parser: &mut Parser) -> Result<Option<GcArgs>, UsageError> {
    let mut days = None;
    let mut all = false;
    let mut dry_run = false;
    while let Some(token) = next_token(parser)? {
        if wants_help(&token) {
            return Ok(None);
        }
        match token {
            Token::Long(name) if name == "days" => days = Some(parse_days(&option_text(parser)?)?),
            Token::Long(name) if name == "all" => all = true,
            Token::Long(name) if name == "dry-run" => dry_run = true,
            other => return Err(other.unexpected()),
        }
    }
    let max_age = match (days, all) {
        (Some(_), true) => return Err(UsageError::Conflict("--days", "--all")),
        (Some(days), false) => MaxAge::Days(days),
        (None, true) => MaxAge::All,
        (None, false) => MaxAge::Days(DEFAULT_GC_DAYS),
    };
    Ok(Some(GcArgs { max_age, dry_run }))
}

fn parse_status(value: &str) -> Result<Status, UsageError> {
    Status::parse(value).ok_or_else(|| UsageError::OutOfRange {
        option: "--status",
        value: crate::pyfmt::repr_str(value),
        allowed: "one of pending, running, done, failed, cancelled".into(),
    })
}

/// A whole number; below 1 means 1, as in the original.
fn parse_limit(value: &str) -> Result<usize, UsageError> {
    let limit: i128 = value.trim().parse().map_err(|_| UsageError::NotANumber {
        option: "--limit",
        value: value.to_owned(),
        expected: "a whole number",
    })?;
    Ok(usize::try_from(limit.max(1)).unwrap_or(usize::MAX))
}

fn parse_days(value: &str) -> Result<f64, UsageError> {
    let days: f64 = value.trim().parse().map_err(|_| UsageError::NotANumber {
        option: "--days",
        value: value.to_owned(),
        expected: "a number of days",
    })?;
    if !(days * SECONDS_PER_DAY).is_finite() {
        return Err(UsageError::OutOfRange {
            option: "--days",
            value: value.to_owned(),
            allowed: "a finite number of days".into(),
        });
    }
    if days <= 0.0 {
        return Err(UsageError::DaysNotPositive(value.trim().to_owned()));
    }
    Ok(days)
}

/// The one ID argument, checked to be a job id before anything touches
/// the file system.
fn job_id(value: Option<std::ffi::OsString>) -> Result<String, UsageError> {
    let value = value.ok_or(UsageError::MissingArgument("ID"))?;
    let id = value
        .into_string()
        .map_err(|raw| UsageError::InvalidJobId(raw.to_string_lossy().into_owned()))?;
    if ids::is_hex32(&id) {
        Ok(id)
    } else {
        Err(UsageError::InvalidJobId(id))
    }
}

fn store(ctx: &Context) -> JobStore {
    JobStore::new(ctx.paths.jobs_dir.clone())
}

pub fn run_jobs(ctx: &Context, args: JobsArgs) -> Result<(), CliError> {
    let mut jobs = store(ctx)
        .list(args.status, args.agent.as_deref())
        .map_err(CliError::job_storage("read"))?;
    jobs.truncate(args.limit);
    if args.json {
        return output::json(
            &ctx.ui,
            &Value::Array(jobs.iter().map(Job::summary).collect()),
        );
    }
    if jobs.is_empty() {
        let status = args.status.map_or(String::new(), |s| format!("{s} "));
        let agent = args.agent.as_deref().map_or(String::new(), |name| {
            format!(" for agent {}", crate::pyfmt::repr_str(name))
        });
        return ctx.ui.line(&format!("No {status}jobs found{agent}."));
    }
    let now = record::now();
    let agent_width = jobs
        .iter()
        .map(|job| escape::line(&job.agent).chars().count())
        .max()
        .unwrap_or(0);
    let lines: Vec<String> = jobs
        .iter()
        .map(|job| {
            format!(
                "{}  {}  {}  {:>4}  {}",
                job.id,
                paint_status(ctx, job.status, &format!("{:<9}", job.status.as_str())),
                ctx.ui
                    .paint(Color::Bold, &pad(&escape::line(&job.agent), agent_width)),
                age(now - job.created_at),
                one_line(&job.task, LINE_TASK_CHARS)
            )
        })
        .collect();
    ctx.ui.line(&lines.join("\n"))
}

pub fn run_job(ctx: &Context, args: JobArgs) -> Result<(), CliError> {
    let read = || {
        store(ctx)
            .get(&args.id)
            .map_err(CliError::job_storage("read"))?
            .ok_or_else(|| CliError::JobNotFound(args.id.clone()))
    };
    let mut job = read()?;
    if args.follow {
        let mut shown: Vec<String> = Vec::new();
        loop {
            let tail = job.progress.clone().unwrap_or_default();
            for step in new_steps(&shown, &tail) {
                ctx.ui.progress(step);
            }
            shown = tail;
            if job.status.is_terminal() {
                break;
            }
            // No server left to finish it (killed outright, say): it stays
            // `running` until the next server's stale recovery, so stop.
            if crate::registry::live_servers(&ctx.paths.servers_dir, false).is_empty() {
                ctx.ui.line(&detail_text(ctx, &job, record::now()))?;
                return Err(CliError::JobAbandoned(args.id));
            }
            thread::sleep(FOLLOW_EVERY);
            job = read()?;
        }
    }
    if args.json {
        return output::json(&ctx.ui, &job.to_value());
    }
    ctx.ui.line(&detail_text(ctx, &job, record::now()))
}

/// The steps of `tail` not yet shown: the record keeps a sliding window of
/// the last steps, so the new ones follow the longest overlap between the
/// end of what was shown and the start of the window.
fn new_steps<'t>(shown: &[String], tail: &'t [String]) -> &'t [String] {
    let overlap = (0..=shown.len().min(tail.len()))
        .rev()
        .find(|&k| shown[shown.len() - k..] == tail[..k])
        .unwrap_or(0);
    &tail[overlap..]
}

pub fn run_cancel(ctx: &Context, id: String) -> Result<(), CliError> {
    // Never forced: only the server that owns a running job may kill it.
    let outcome = store(ctx)
        .cancel(&id, false)
        .map_err(CliError::job_storage("access"))?;
    match outcome {
        CancelOutcome::Cancelled | CancelOutcome::CancelledRunning => {
            ctx.ui.line(&format!("Cancelled: {id}"))
        }
        CancelOutcome::AlreadyTerminal(status) => ctx
            .ui
            .line(&format!("Job already {status}; nothing to cancel.")),
        CancelOutcome::Running => Err(CliError::JobRunning(id)),
        CancelOutcome::NotFound => Err(CliError::JobNotFound(id)),
    }
}

pub fn run_gc(ctx: &Context, args: GcArgs) -> Result<(), CliError> {
    let store = store(ctx);
    let max_age_secs = match args.max_age {
        MaxAge::Days(days) => days * SECONDS_PER_DAY,
        MaxAge::All => 0.0,
    };
    let now = record::now();
    if args.dry_run {
        let candidates = store
            .gc_candidates(max_age_secs, now)
            .map_err(CliError::job_storage("access"))?;
        let mut lines: Vec<String> = candidates
            .iter()
            .map(|job| {
                format!(
                    "{}  {}  {}  {}",
                    job.id,
                    job.status,
                    escape::line(&job.agent),
                    one_line(&job.task, LINE_TASK_CHARS)
                )
            })
            .collect();
        lines.push(format!(
            "Would delete {} terminal job(s). No jobs deleted.",
            candidates.len()
        ));
        return ctx.ui.line(&lines.join("\n"));
    }
    let deleted = store
        .gc(max_age_secs, now)
        .map_err(CliError::job_storage("access"))?;
    ctx.ui.line(&match args.max_age {
        MaxAge::Days(days) => format!("Deleted {deleted} job(s) older than {days} day(s)."),
        MaxAge::All => format!("Deleted {deleted} terminal job(s) (all ages)."),
    })
}

fn detail_text(ctx: &Context, job: &Job, now: f64) -> String {
    let mut lines = vec![format!(
        "{} [{}]",
        ctx.ui.paint(Color::Bold, &job.id),
        paint_status(ctx, job.status, job.status.as_str())
    )];
    // Values arrive escaped; only a block's own line breaks remain, and
    // its later lines are indented under the first.
    let mut row = |label: &str, value: String| {
        let value = value.replace('\n', &format!("\n{}", " ".repeat(14)));
        lines.push(format!("  {:<12}{value}", format!("{label}:")));
    };
    row("agent", escape::line(&job.agent).into_owned());
    row(
        "task",
        escape::block(chars::prefix(&job.task, DETAIL_TASK_CHARS)).into_owned(),
    );
    row("created", format!("{} ago", age(now - job.created_at)));
    if let Some(at) = job.started_at {
        row("started", format!("{} ago", age(now - at)));
    }
    if let Some(at) = job.completed_at {
        row("completed", format!("{} ago", age(now - at)));
    }
    if let Some(error) = job.error.as_deref().filter(|e| !e.is_empty()) {
        row(
            "error",
            ctx.ui.paint(
                Color::Red,
                &escape::block(chars::prefix(error, DETAIL_ERROR_CHARS)),
            ),
        );
    }
    if let Some(progress) = job.progress.as_ref().filter(|p| !p.is_empty()) {
        lines.push("  progress:".into());
        let skip = progress.len().saturating_sub(DETAIL_PROGRESS_LINES);
        lines.extend(
            progress[skip..]
                .iter()
                .map(|line| format!("    {}", escape::line(line))),
        );
    }
    if let Some(result) = &job.result {
        let mut row = |label: &str, value: String| {
            lines.push(format!("  {:<12}{value}", format!("{label}:")));
        };
        row("success", if result.success { "yes" } else { "no" }.into());
        if let Some(cost) = result.cost_usd {
            row("cost_usd", format!("${cost:.4}"));
        }
        if result.budget_exceeded {
            row("budget", ctx.ui.paint(Color::Yellow, "EXCEEDED"));
        }
        if let Some(outcome) = result.outcome {
            row("outcome", outcome.as_str().into());
        }
        if !result.result.is_empty() {
            lines.push("  result:".into());
            let shown = escape::block(chars::prefix(&result.result, DETAIL_RESULT_CHARS));
            lines.extend(shown.lines().map(|line| format!("    {line}")));
            let total = result.result.chars().count();
            if total > DETAIL_RESULT_CHARS {
                lines.push(format!("    … truncated ({total} chars total)"));
            }
        }
    }
    lines.join("\n")
}

fn paint_status(ctx: &Context, status: Status, text: &str) -> String {
    let color = match status {
        Status::Pending => Color::Cyan,
        Status::Running => Color::Yellow,
        Status::Done => Color::Green,
        Status::Failed => Color::Red,
        Status::Cancelled => Color::Bold,
    };
    ctx.ui.paint(color, text)
}

/// `42s`, `5m`, `3h`, `2d`: whole units, rounded down; never negative.
fn age(seconds: f64) -> String {
    // `as` saturates; a clock set backwards shows as 0s.
    let secs = seconds.max(0.0) as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

/// The first `max` chars of `text` on one line.
fn one_line(text: &str, max: usize) -> String {
    escape::line(chars::prefix(text, max)).into_owned()
}

/// Pads to `width` characters (not bytes), so non-ASCII names line up.
fn pad(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(text.chars().count());
    format!("{text}{}", " ".repeat(fill))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn parser(args: &[&str]) -> Parser {
        Parser::from_args(args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn jobs_options_parse_and_a_small_limit_becomes_one() {
        let args = parse_jobs(&mut parser(&[
            "--status", "done", "--agent", "api", "--limit", "-5", "--json",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            args,
            JobsArgs {
                status: Some(Status::Done),
                agent: Some("api".into()),
                limit: 1,
                json: true
            }
        );
        assert_eq!(parse_jobs(&mut parser(&[])).unwrap().unwrap().limit, 20);
        assert_eq!(parse_jobs(&mut parser(&["-h"])).unwrap(), None);
    }

    #[test]
    fn jobs_rejects_unknown_statuses_and_non_numeric_limits() {
        let err = parse_jobs(&mut parser(&["--status", "Done"])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--status must be one of pending"),
            "{err}"
        );
        assert!(parse_jobs(&mut parser(&["--limit", "ten"])).is_err());
        assert!(parse_jobs(&mut parser(&["extra"])).is_err());
    }

    #[test]
    fn job_and_cancel_validate_the_id_before_anything_else() {
        assert_eq!(
            parse_job(&mut parser(&[ID, "--json"])).unwrap(),
            Some(JobArgs {
                id: ID.to_owned(),
                json: true,
                follow: false
            })
        );
        assert!(
            parse_job(&mut parser(&["--follow", ID]))
                .unwrap()
                .unwrap()
                .follow
        );
        assert_eq!(
            parse_cancel(&mut parser(&[ID])).unwrap(),
            Some(ID.to_owned())
        );
        let upper = ID.to_uppercase();
        for bad in ["../../x", "abc", &upper, &ID[..31]] {
            let err = parse_cancel(&mut parser(&[bad])).unwrap_err();
            assert!(matches!(err, UsageError::InvalidJobId(_)), "{bad}: {err}");
            assert!(parse_job(&mut parser(&[bad])).is_err());
        }
        assert!(matches!(
            parse_job(&mut parser(&[])).unwrap_err(),
            UsageError::MissingArgument("ID")
        ));
        assert!(parse_cancel(&mut parser(&[ID, ID])).is_err());
    }

    #[test]
    fn gc_days_must_be_positive_and_finite_and_all_stands_alone() {
        let gc = |args: &[&str]| parse_gc(&mut parser(args));
        assert_eq!(
            gc(&[]).unwrap().unwrap(),
            GcArgs {
                max_age: MaxAge::Days(7.0),
                dry_run: false
            }
        );
        assert_eq!(
            gc(&["--days", "0.5", "--dry-run"]).unwrap().unwrap(),
            GcArgs {
                max_age: MaxAge::Days(0.5),
                dry_run: true
            }
        );
        assert_eq!(gc(&["--all"]).unwrap().unwrap().max_age, MaxAge::All);
        for bad in ["0", "-1", "nan", "inf", "1e308", "x"] {
            assert!(gc(&["--days", bad]).is_err(), "{bad}");
        }
        assert!(matches!(
            gc(&["--days", "0"]).unwrap_err(),
            UsageError::DaysNotPositive(_)
        ));
        assert!(matches!(
            gc(&["--days", "3", "--all"]).unwrap_err(),
            UsageError::Conflict(..)
        ));
    }

    #[test]
    fn ages_use_whole_units() {
        let shown: Vec<String> = [-5.0, 59.9, 60.0, 3599.0, 3600.0, 86399.0, 172800.0]
            .into_iter()
            .map(age)
            .collect();
        assert_eq!(shown, ["0s", "59s", "1m", "59m", "1h", "23h", "2d"]);
    }

    #[test]
    fn listing_lines_cut_by_characters_and_escape_newlines() {
        assert_eq!(one_line("a\nb\r\nc", 60), r"a\nb\r\nc");
        assert_eq!(one_line(&"é".repeat(70), 60).chars().count(), 60);
        assert_eq!(pad("né", 4), "né  ");
    }

    #[test]
    fn help_texts_fit_in_79_columns() {
        for help in [JOBS_HELP, JOB_HELP, CANCEL_HELP, GC_HELP] {
            for line in help.lines() {
                assert!(line.chars().count() <= 79, "{line}");
            }
        }
    }

    #[test]
    fn follow_prints_only_steps_past_the_overlap_with_what_was_shown() {
        let steps = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let shown = steps(&["a", "b", "c"]);
        assert_eq!(
            new_steps(&shown, &steps(&["b", "c", "d", "e"])),
            steps(&["d", "e"])
        );
        assert_eq!(new_steps(&shown, &steps(&["a", "b", "c"])), steps(&[]));
        assert_eq!(new_steps(&[], &steps(&["a"])), steps(&["a"]));
        // More new steps than the window holds: everything in it is new.
        assert_eq!(new_steps(&shown, &steps(&["x", "y"])), steps(&["x", "y"]));
    }
}
