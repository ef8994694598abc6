//! Writing the usage journal: a `Record` per dispatch or cache hit, encoded
//! as one compact JSON line (keys in the original's order, non-ASCII left
//! as UTF-8) and appended with a single `write(2)` on an `O_APPEND`
//! descriptor. Lines are at most `MAX_LINE_BYTES`, far below `PIPE_BUF`, so
//! concurrent writers in different processes never interleave and no lock
//! is needed. The file rotates to `<name>.1` at `ROTATE_AT_BYTES`, keeping
//! two generations. `append` never fails and never panics: a billed result
//! must never be lost to bookkeeping.

use crate::chars;
use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Number, Value};

use crate::pyvalue;
use crate::runner::DispatchResult;
use crate::state::atomic::ensure_private_dir;
use crate::state::regular::open_regular;

/// The longest line written. A single `write` of up to `PIPE_BUF` (4096)
/// bytes to an `O_APPEND` file lands whole; half of it leaves room.
pub const MAX_LINE_BYTES: usize = 2048;
/// At this size the live file is renamed to `<name>.1` before appending.
pub const ROTATE_AT_BYTES: u64 = 2_000_000;

/// Field caps in characters (Unicode scalar values, as the original's
/// Python slicing counts them).
pub const AGENT_CHARS: usize = 100;
pub const CALLER_CHARS: usize = 60;
pub const OUTCOME_CHARS: usize = 20;
pub const ERR_CHARS: usize = 40;
/// The `err` of a run that was cancelled rather than failed.
pub const CANCELLED_ERR: &str = "cancelled";

/// One journal line. The constructors apply the field caps; `append`
/// still enforces the line-size rule for a record built by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Unix seconds.
    pub t: i64,
    pub agent: String,
    pub ok: bool,
    /// USD, rounded to 6 decimals; only finite values.
    pub cost: Option<f64>,
    /// The CLI's `duration_ms`, else the wall clock of the runner call;
    /// `None` on cache hits.
    pub ms: Option<u64>,
    pub turns: Option<u64>,
    pub outcome: Option<String>,
    /// The `error_type`.
    pub err: Option<String>,
    /// Served from the result cache, not a run of `claude`.
    pub cached: bool,
    pub caller: Option<String>,
}

impl Record {
    /// The record of one runner call. `wall_ms` is how long the call took;
    /// it stands in when the CLI reported no `duration_ms`, so a timeout
    /// shows its full length. An empty `caller` means none.
    pub fn from_result(result: &DispatchResult, wall_ms: u64, caller: &str) -> Record {
        Record {
            t: unix_now(),
            agent: chars::prefix(&result.agent, AGENT_CHARS).to_owned(),
            ok: result.success,
            cost: result
                .cost_usd
                .filter(|cost| cost.is_finite())
                .map(|cost| pyvalue::round(cost, 6)),
            ms: Some(result.duration_ms.unwrap_or(wall_ms)),
            turns: result.num_turns,
            outcome: result
                .outcome
                .map(|outcome| chars::prefix(outcome.as_str(), OUTCOME_CHARS).to_owned()),
            err: result
                .error_type
                .as_ref()
                .map(|error_type| chars::prefix(error_type.as_str(), ERR_CHARS).to_owned()),
            cached: false,
            caller: optional_caller(caller),
        }
    }

    /// Marks a run the caller or the server's exit stopped: its `err` is
    /// `cancelled`, which the summaries count apart from failures.
    pub fn mark_cancelled(&mut self) {
        self.err = Some(CANCELLED_ERR.to_owned());
    }

    /// The record of a result served from the cache: no cost, no duration.
    pub fn cache_hit(agent: &str, caller: &str) -> Record {
        Record {
            t: unix_now(),
            agent: chars::prefix(agent, AGENT_CHARS).to_owned(),
            ok: true,
            cost: None,
            ms: None,
            turns: None,
            outcome: None,
            err: None,
            cached: true,
            caller: optional_caller(caller),
        }
    }

    /// The JSON object, keys in the journal's order, absent fields left out.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("t".into(), self.t.into());
        object.insert("agent".into(), self.agent.clone().into());
        object.insert("ok".into(), self.ok.into());
        if let Some(cost) = self.cost.and_then(Number::from_f64) {
            object.insert("cost".into(), Value::Number(cost));
        }
        if let Some(ms) = self.ms {
            object.insert("ms".into(), ms.into());
        }
        if let Some(turns) = self.turns {
            object.insert("turns".into(), turns.into());
        }
        if let Some(outcome) = &self.outcome {
            object.insert("outcome".into(), outcome.clone().into());
        }
        if let Some(err) = &self.err {
            object.insert("err".into(), err.clone().into());
        }
        if self.cached {
            object.insert("cached".into(), true.into());
        }
        if let Some(caller) = &self.caller {
            object.insert("caller".into(), caller.clone().into());
        }
        Value::Object(object)
    }

    /// The line to append, newline included: at most `MAX_LINE_BYTES`, or,
    /// when too long, the same record without its `caller`; `None` when
    /// even that does not fit (the record is then not written).
    pub fn encode_line(&self) -> Option<String> {
        let line = compact_line(self);
        if line.len() <= MAX_LINE_BYTES {
            return Some(line);
        }
        let without_caller = Record {
            caller: None,
            ..self.clone()
        };
        Some(compact_line(&without_caller)).filter(|line| line.len() <= MAX_LINE_BYTES)
    }
}

fn compact_line(record: &Record) -> String {
    let mut line = record.to_json().to_string();
    line.push('\n');
    line
}

fn optional_caller(caller: &str) -> Option<String> {
    (!caller.is_empty()).then(|| chars::prefix(caller, CALLER_CHARS).to_owned())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// The older generation of `journal`: `usage.jsonl` → `usage.jsonl.1`.
pub fn rotated_path(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// Appends `record` to the journal at `path`, rotating first when the file
/// has reached `ROTATE_AT_BYTES`. Every failure is swallowed; use
/// `try_append` to see it.
pub fn append(path: &Path, record: &Record) {
    let _ = try_append(path, record);
}

/// `append`, reporting what went wrong. A record too long to write
/// atomically is skipped and counts as success.
pub fn try_append(path: &Path, record: &Record) -> io::Result<()> {
    let Some(line) = record.encode_line() else {
        return Ok(());
    };
    if let Some(dir) = path.parent() {
        ensure_private_dir(dir)?;
    }
    let mut file = open_private_append(path)?;
    if file.metadata()?.len() >= ROTATE_AT_BYTES {
        rotate(path)?;
        file = open_private_append(path)?;
    }
    // One `write`, never a retry loop: a second write could land after
    // another process's line and split this one.
    let written = file.write(line.as_bytes())?;
    if written == line.len() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!(
                "short write to {}: {written} of {} bytes",
                path.display(),
                line.len()
            ),
        ))
    }
}

/// Opens the journal for appending (created 0600). A journal — or its
/// rotated generation — that existed with looser modes is tightened to
/// 0600: it lists every task's agent and caller.
fn open_private_append(path: &Path) -> io::Result<File> {
    let file = open_regular(
        path,
        OpenOptions::new().append(true).create(true).mode(0o600),
    )?;
    tighten(&file)?;
    // Best effort: a rotated file that is not ours to open must not stop
    // the journal; the next rotation replaces it.
    if let Ok(rotated) = open_regular(&rotated_path(path), OpenOptions::new().read(true)) {
        let _ = tighten(&rotated);
    }
    Ok(file)
}

fn tighten(file: &File) -> io::Result<()> {
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        file.set_permissions(Permissions::from_mode(mode & 0o700))?;
    }
    Ok(())
}

/// Renames a full journal to `<name>.1`, replacing an older `.1`. Two
/// processes may both see the file full; the loser's rename then either
/// finds nothing (the file is already gone) or moves a fresh, nearly empty
/// file over `.1`. Both are accepted, as in the original: the journal is
/// lock-free bookkeeping, and a lost generation only shortens history.
fn rotate(path: &Path) -> io::Result<()> {
    match std::fs::rename(path, rotated_path(path)) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{ErrorType, Outcome};

    fn result() -> DispatchResult {
        DispatchResult {
            cost_usd: Some(0.123_456_789),
            duration_ms: Some(1200),
            num_turns: Some(3),
            outcome: Some(Outcome::Partial),
            ..DispatchResult::new("web", true)
        }
    }

    fn without_time(line: &str) -> String {
        let mut value: Value = serde_json::from_str(line).unwrap();
        value["t"] = 0.into();
        value.to_string()
    }

    #[test]
    fn runner_record_has_keys_in_journal_order() {
        let record = Record::from_result(&result(), 9999, "planner");
        let line = record.encode_line().unwrap();
        assert!(line.ends_with('\n'));
        assert_eq!(
            without_time(&line),
            r#"{"t":0,"agent":"web","ok":true,"cost":0.123457,"ms":1200,"turns":3,"outcome":"partial","caller":"planner"}"#
        );
    }

    #[test]
    fn wall_clock_stands_in_for_missing_duration() {
        let failed = DispatchResult::failure("web", ErrorType::Timeout, "timed out".into());
        let record = Record::from_result(&failed, 300_000, "");
        assert_eq!(
            without_time(&record.encode_line().unwrap()),
            r#"{"t":0,"agent":"web","ok":false,"ms":300000,"err":"timeout"}"#
        );
    }

    #[test]
    fn cache_hit_has_no_cost_or_duration() {
        let record = Record::cache_hit("web", "ui");
        assert_eq!(
            without_time(&record.encode_line().unwrap()),
            r#"{"t":0,"agent":"web","ok":true,"cached":true,"caller":"ui"}"#
        );
    }

    #[test]
    fn non_finite_cost_is_left_out() {
        let nan = DispatchResult {
            cost_usd: Some(f64::NAN),
            ..DispatchResult::new("web", true)
        };
        assert!(
            !Record::from_result(&nan, 1, "")
                .encode_line()
                .unwrap()
                .contains("cost")
        );
    }

    #[test]
    fn fields_are_capped_in_characters_not_bytes() {
        let long = DispatchResult {
            error_type: Some(ErrorType::Other("é".repeat(50))),
            ..DispatchResult::new(&"ü".repeat(150), false)
        };
        let record = Record::from_result(&long, 1, &"ß".repeat(70));
        assert_eq!(record.agent.chars().count(), AGENT_CHARS);
        assert_eq!(
            record.caller.as_deref().map(|c| c.chars().count()),
            Some(60)
        );
        assert_eq!(record.err.as_deref().map(|e| e.chars().count()), Some(40));
        // UTF-8 stays unescaped.
        assert!(record.encode_line().unwrap().contains("üüü"));
    }

    #[test]
    fn capped_record_always_fits_one_atomic_write() {
        // The worst case per character is a control character, escaped to
        // six bytes; every capped field full of them still fits.
        let control = "\u{1}";
        let record = Record {
            t: i64::MAX,
            agent: control.repeat(AGENT_CHARS),
            ok: false,
            cost: Some(999_999.999_999),
            ms: Some(u64::MAX),
            turns: Some(u64::MAX),
            outcome: Some(control.repeat(OUTCOME_CHARS)),
            err: Some(control.repeat(ERR_CHARS)),
            cached: true,
            caller: Some(control.repeat(CALLER_CHARS)),
        };
        let line = record.encode_line().unwrap();
        assert!(line.contains("caller"));
        assert!(line.len() <= MAX_LINE_BYTES, "{}", line.len());
    }

    #[test]
    fn line_without_room_even_without_caller_is_skipped() {
        let record = Record {
            agent: "a".repeat(3000),
            ..Record::cache_hit("x", "")
        };
        assert_eq!(record.encode_line(), None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.jsonl");
        try_append(&path, &record).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn append_creates_private_dir_and_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/usage.jsonl");
        append(&path, &Record::cache_hit("web", ""));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }

    #[test]
    fn append_to_an_unwritable_place_is_silent() {
        let dir = tempfile::tempdir().unwrap();
        // The journal's "directory" is a regular file.
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        let path = blocker.join("usage.jsonl");
        append(&path, &Record::cache_hit("web", ""));
        assert!(try_append(&path, &Record::cache_hit("web", "")).is_err());
    }
}
