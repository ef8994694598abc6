//! Reading the usage journal back: the last `max_bytes` of `<name>.1`, then
//! of the live file, older generation first. Lines are judged one by one and
//! every field is coerced leniently (a hand-edited `"ms": NaN` loses that
//! field, not the line), because the file is shared with the Python original
//! and with people. Bounded reads keep `stats` and the `typical` profiles
//! cheap however long the journal has been growing.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::pyvalue;

use super::journal::rotated_path;
use crate::runner::lenient_json;
use crate::state::regular::open_regular;

/// How much of each generation `stats` reads.
pub const STATS_TAIL_BYTES: u64 = 512 * 1024;
/// How much of each generation the `typical` profiles read.
pub const PROFILE_TAIL_BYTES: u64 = 128 * 1024;

const SECONDS_PER_DAY: f64 = 86_400.0;

/// Which records to load.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Only records of the last `days` days; 0 keeps every record read.
    pub days: u64,
    /// Only this agent (exact match).
    pub agent: Option<String>,
    /// The tail of each generation that is read.
    pub max_bytes: u64,
}

impl Default for Query {
    fn default() -> Query {
        Query {
            days: 0,
            agent: None,
            max_bytes: STATS_TAIL_BYTES,
        }
    }
}

/// One journal record as read back, fields coerced; anything missing,
/// mistyped or non-finite is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Unix seconds; 0 when missing.
    pub t: f64,
    pub agent: String,
    /// `ok` is truthy.
    pub ok: bool,
    /// `cached` is truthy.
    pub cached: bool,
    pub cost: Option<f64>,
    pub ms: Option<f64>,
    pub outcome: Option<String>,
    pub err: Option<String>,
}

impl Entry {
    /// The entry of one journal line; `None` for a blank or unparsable
    /// line, a non-object, or an object without a string `agent`.
    pub fn parse(line: &str) -> Option<Entry> {
        if line.trim().is_empty() {
            return None;
        }
        let Ok(Value::Object(object)) = lenient_json::parse(line) else {
            return None;
        };
        let Some(Value::String(agent)) = object.get("agent") else {
            return None;
        };
        let text = |key: &str| match object.get(key) {
            Some(Value::String(text)) => Some(text.clone()),
            _ => None,
        };
        Some(Entry {
            t: object.get("t").and_then(pyvalue::float).unwrap_or(0.0),
            agent: agent.clone(),
            ok: object.get("ok").is_some_and(pyvalue::truthy),
            cached: object.get("cached").is_some_and(pyvalue::truthy),
            cost: object.get("cost").and_then(pyvalue::float),
            ms: object.get("ms").and_then(pyvalue::float),
            outcome: text("outcome"),
            err: text("err"),
        })
    }
}

/// A journal generation that exists but cannot be read.
#[derive(Debug)]
pub struct ReadError {
    pub path: PathBuf,
    pub error: io::Error,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not read usage journal {}: {}",
            self.path.display(),
            self.error
        )
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// The records of `journal` (both generations) that match `query`, oldest
/// first. Missing files are empty journals.
pub fn load(journal: &Path, query: &Query) -> Result<Vec<Entry>, ReadError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64());
    let cutoff = (query.days > 0).then_some(now - query.days as f64 * SECONDS_PER_DAY);
    let mut entries = Vec::new();
    for path in [rotated_path(journal), journal.to_path_buf()] {
        let tail = read_tail(&path, query.max_bytes).map_err(|error| ReadError {
            path: path.clone(),
            error,
        })?;
        entries.extend(
            tail.split(|&byte| byte == b'\n')
                .filter_map(|line| Entry::parse(&String::from_utf8_lossy(line)))
                .filter(|entry| cutoff.is_none_or(|cutoff| entry.t >= cutoff))
                .filter(|entry| query.agent.as_ref().is_none_or(|a| *a == entry.agent)),
        );
    }
    Ok(entries)
}

/// The complete lines among the last `max_bytes` bytes of `path`; empty
/// when the file does not exist. A line cut by the start of the window is
/// dropped — unless the window starts exactly at a line start, which one
/// extra byte before it tells.
fn read_tail(path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
    let mut file = match open_regular(path, OpenOptions::new().read(true)) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let size = file.metadata()?.len();
    let start = size.saturating_sub(max_bytes);
    let peek = u64::from(start > 0);
    file.seek(SeekFrom::Start(start - peek))?;
    let mut bytes = Vec::new();
    // `take` bounds the read even if the file grows meanwhile.
    file.take(max_bytes + peek).read_to_end(&mut bytes)?;
    if start == 0 {
        return Ok(bytes);
    }
    // `bytes[0]` is the byte before the window: after a newline the first
    // line is whole and the newline itself splits off an empty line.
    let cut = bytes
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(bytes.len(), |newline| newline + 1);
    Ok(bytes.split_off(cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_skips_lines_without_a_string_agent() {
        assert_eq!(Entry::parse(""), None);
        assert_eq!(Entry::parse("not json"), None);
        assert_eq!(Entry::parse("[1,2]"), None);
        assert_eq!(Entry::parse(r#"{"t":1}"#), None);
        assert_eq!(Entry::parse(r#"{"agent":5}"#), None);
        let entry = Entry::parse(r#"{"agent":"web"}"#).unwrap();
        assert_eq!((entry.t, entry.ok, entry.cached), (0.0, false, false));
    }

    #[test]
    fn nan_loses_only_its_field() {
        let entry =
            Entry::parse(r#"{"t":5,"agent":"web","ok":true,"cost":NaN,"ms":Infinity,"err":"x"}"#)
                .unwrap();
        assert_eq!(entry.cost, None);
        assert_eq!(entry.ms, None);
        assert_eq!((entry.t, entry.ok), (5.0, true));
        assert_eq!(entry.err.as_deref(), Some("x"));
    }

    #[test]
    fn tail_starting_on_a_line_boundary_keeps_that_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        std::fs::write(&path, "aaaa\nbbbb\ncccc\n").unwrap();
        assert_eq!(read_tail(&path, 10).unwrap(), b"bbbb\ncccc\n");
        assert_eq!(read_tail(&path, 9).unwrap(), b"cccc\n");
        assert_eq!(read_tail(&path, 100).unwrap(), b"aaaa\nbbbb\ncccc\n");
        assert_eq!(read_tail(&dir.path().join("missing"), 10).unwrap(), b"");
    }
}
