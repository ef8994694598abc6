//! The live-server registry: one `servers/<pid>.json` per running
//! `agent-dispatch serve`, written in the Python original's format so the
//! two tools can share the directory. A server holds an exclusive `flock`
//! on its own file for as long as it runs; that lock — not the file's
//! existence, not the pid — is the liveness signal, so a SIGKILLed server
//! is recognised as dead the moment the kernel closes its descriptor, and a
//! recycled pid cannot pass for it. `doctor` reads the registry to report
//! how many servers run and which still execute older code.
//!
//! Nothing here ever fails loudly: registering is best-effort (the caller
//! logs a `None`), and reading skips whatever it cannot make sense of.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::VERSION;
use crate::state::atomic::ensure_private_dir;
use crate::state::regular::{open_or_create_private, open_regular};

/// A registry file is a few hundred bytes; anything far larger is not one.
const MAX_ENTRY_BYTES: u64 = 64 * 1024;

/// How often `register` retries when a reader pruned the file between our
/// `open` and our `flock` (see `register`).
const REGISTER_ATTEMPTS: usize = 3;

/// One live server, as read from its registry file.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerEntry {
    pub pid: i64,
    /// `unknown` when the file names none.
    pub version: String,
    /// Seconds since the epoch; `None` when missing or not a finite number.
    pub started_at: Option<f64>,
    /// The config path the server was started with, if recorded.
    pub config: Option<String>,
    /// The binary the server runs, as it was when it started. Only this
    /// tool records it; entries of the Python original have none.
    pub exe: Option<String>,
    /// The registry file this entry came from.
    pub file: PathBuf,
}

#[cfg(test)]
impl ServerEntry {
    /// An entry with only what the tests look at; no file behind it.
    pub fn for_tests(pid: i64, version: &str, started_at: Option<f64>) -> ServerEntry {
        ServerEntry {
            pid,
            version: version.into(),
            started_at,
            config: None,
            exe: None,
            file: PathBuf::new(),
        }
    }
}

impl ServerEntry {
    /// How long the server has been up at `now` (epoch seconds), if its
    /// start time is usable.
    pub fn uptime_secs(&self, now: f64) -> Option<f64> {
        self.started_at
            .map(|started| now - started)
            .filter(|age| *age >= 0.0)
    }
}

/// This process's registry entry. The file stays locked while the value
/// lives; dropping it removes the file and releases the lock.
#[derive(Debug)]
pub struct Registration {
    file: File,
    path: PathBuf,
}

impl Registration {
    /// The registry file this process holds.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Unlink while still holding the lock: a reader that opened the
        // file just before sees it locked (live) for an instant, which is
        // true; one that opens it after finds nothing.
        if same_file(&self.file, &self.path) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Registers the current process as a live server: creates `servers_dir`
/// (0700) and `<pid>.json` (0600), takes an exclusive non-blocking `flock`
/// on it and writes `{"pid", "version", "started_at", "config", "exe"}`.
/// Returns `None` when any step fails — including a second registration
/// while this process's first one is still held.
pub fn register(servers_dir: &Path, config: &Path) -> Option<Registration> {
    ensure_private_dir(servers_dir).ok()?;
    let pid = std::process::id();
    let path = servers_dir.join(format!("{pid}.json"));
    let body = entry_json(pid, config);
    for _ in 0..REGISTER_ATTEMPTS {
        let mut file = open_or_create_private(&path).ok()?;
        if try_lock(&file, true).ok()? != Locked::Yes {
            return None;
        }
        // Between our open and our flock, a reader may have found the
        // (still unlocked) file, judged its owner dead and unlinked it. A
        // lock on an unlinked inode would make us invisible: start over.
        if !same_file(&file, &path) {
            continue;
        }
        file.set_len(0).ok()?;
        file.write_all(body.as_bytes()).ok()?;
        return Some(Registration { file, path });
    }
    None
}

fn entry_json(pid: u32, config: &Path) -> String {
    let started_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut entry = Map::new();
    entry.insert("pid".into(), pid.into());
    entry.insert("version".into(), VERSION.into());
    entry.insert("started_at".into(), started_at.into());
    entry.insert(
        "config".into(),
        config.to_string_lossy().into_owned().into(),
    );
    if let Some(exe) = current_exe() {
        entry.insert("exe".into(), exe.to_string_lossy().into_owned().into());
    }
    Value::Object(entry).to_string()
}

/// This binary's canonical path, when the OS can tell.
pub fn current_exe() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.canonicalize().unwrap_or(exe))
}

/// The live servers in `servers_dir`, newest start first (entries without
/// a usable start time last). A file whose lock can be taken belongs to a
/// dead server: it is skipped, and deleted when `prune` is set. A locked
/// file that does not parse, or names no positive pid, is skipped and left
/// alone. A missing or unreadable directory is an empty registry.
pub fn live_servers(servers_dir: &Path, prune: bool) -> Vec<ServerEntry> {
    let Ok(listing) = fs::read_dir(servers_dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = listing
        .flatten()
        .map(|entry| entry.path())
        // `<pid>.json` only: the directory also holds other files of
        // ours (`<pid>.live.json`), which are never registry entries.
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "json")
                && path
                    .file_stem()
                    .and_then(|stem| stem.to_str())
                    .is_some_and(|stem| {
                        !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit())
                    })
        })
        .collect();
    paths.sort();
    let mut live: Vec<ServerEntry> = paths
        .into_iter()
        .filter_map(|path| read_live(&path, prune))
        .collect();
    // Stable, so equal or unusable times keep the file-name order.
    live.sort_by(|a, b| match (a.started_at, b.started_at) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    live
}

/// How many live servers run each version other than `current` (a missing
/// version counts as `unknown`), keyed in sorted order.
pub fn version_drift(entries: &[ServerEntry], current: &str) -> BTreeMap<String, usize> {
    let mut drift = BTreeMap::new();
    for entry in entries.iter().filter(|e| e.version != current) {
        *drift.entry(entry.version.clone()).or_insert(0) += 1;
    }
    drift
}

fn read_live(path: &Path, prune: bool) -> Option<ServerEntry> {
    let file = match open_regular(path, OpenOptions::new().read(true)) {
        Ok(file) => file,
        Err(err) => {
            if err.kind() == io::ErrorKind::InvalidData {
                crate::log::warn(&format!(
                    "skipped server registry entry {}: {err}",
                    path.display()
                ));
            }
            return None;
        }
    };
    // A shared probe: it conflicts with a server's exclusive lock but not
    // with another reader probing at the same moment.
    match try_lock(&file, false) {
        Ok(Locked::Yes) => {
            if prune && same_file(&file, path) {
                let _ = fs::remove_file(path);
            }
            None
        }
        Ok(Locked::HeldElsewhere) => parse_entry(&read_bounded(file)?, path),
        // No flock here (some network file systems): fall back to "the
        // pid exists", which cannot tell a recycled pid from the server.
        Err(_) => {
            let entry = parse_entry(&read_bounded(file)?, path)?;
            pid_exists(entry.pid).then_some(entry)
        }
    }
}

fn read_bounded(file: File) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(MAX_ENTRY_BYTES).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Parses a registry file; `None` unless it is a JSON object with a
/// positive integer `pid`.
pub fn parse_entry(bytes: &[u8], file: &Path) -> Option<ServerEntry> {
    let Value::Object(map) = serde_json::from_slice::<Value>(bytes).ok()? else {
        return None;
    };
    let pid = map.get("pid")?.as_i64().filter(|pid| *pid > 0)?;
    let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
    Some(ServerEntry {
        pid,
        version: text("version").unwrap_or_else(|| "unknown".to_owned()),
        started_at: map
            .get("started_at")
            .and_then(Value::as_f64)
            .filter(|t| t.is_finite()),
        config: text("config"),
        exe: text("exe"),
        file: file.to_path_buf(),
    })
}

#[derive(Debug, PartialEq)]
enum Locked {
    Yes,
    HeldElsewhere,
}

/// A non-blocking `flock`, exclusive or shared.
fn try_lock(file: &File, exclusive: bool) -> io::Result<Locked> {
    let taken = if exclusive {
        file.try_lock()
    } else {
        file.try_lock_shared()
    };
    match taken {
        Ok(()) => Ok(Locked::Yes),
        Err(TryLockError::WouldBlock) => Ok(Locked::HeldElsewhere),
        Err(TryLockError::Error(err)) => Err(err),
    }
}

/// True when `path` still names the inode `file` has open.
fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

/// Whether a process with this pid exists (ours to signal or not).
pub fn pid_exists(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: &str, started_at: Option<f64>) -> ServerEntry {
        ServerEntry::for_tests(1, version, started_at)
    }

    #[test]
    fn drift_counts_other_versions_in_sorted_order() {
        let entries = [
            entry("0.2.0", None),
            entry(VERSION, None),
            entry("0.16.0", None),
            entry("0.2.0", None),
            entry("unknown", None),
        ];
        let drift = version_drift(&entries, VERSION);
        let pairs: Vec<(&str, usize)> = drift.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(pairs, [("0.16.0", 1), ("0.2.0", 2), ("unknown", 1)]);
    }

    #[test]
    fn entries_of_the_python_original_parse() {
        let bytes = br#"{"pid": 4242, "version": "0.16.0", "started_at": 1712345678.25, "config": "/h/.config/agent-dispatch/agents.yaml"}"#;
        let parsed = parse_entry(bytes, Path::new("4242.json")).unwrap();
        assert_eq!(parsed.pid, 4242);
        assert_eq!(parsed.version, "0.16.0");
        assert_eq!(parsed.started_at, Some(1712345678.25));
        assert_eq!(parsed.exe, None);
    }

    #[test]
    fn entries_without_a_positive_pid_or_not_objects_are_rejected() {
        for bytes in [
            &b"{\"pid\": 0}"[..],
            b"{\"pid\": -3}",
            b"{\"pid\": \"12\"}",
            b"{\"version\": \"1\"}",
            b"[1]",
            b"{\"pid\": 12",
            b"\xff\xfe",
        ] {
            assert_eq!(parse_entry(bytes, Path::new("x.json")), None, "{bytes:?}");
        }
    }

    #[test]
    fn a_missing_version_reads_as_unknown_and_a_bad_time_as_none() {
        let parsed = parse_entry(
            br#"{"pid": 7, "started_at": "yesterday"}"#,
            Path::new("7.json"),
        )
        .unwrap();
        assert_eq!(parsed.version, "unknown");
        assert_eq!(parsed.started_at, None);
        assert_eq!(parsed.uptime_secs(100.0), None);
    }

    #[test]
    fn registering_writes_a_locked_entry_that_drop_removes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("servers");
        let held = register(&dir, Path::new("/cfg/agents.yaml")).unwrap();
        let live = live_servers(&dir, true);
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].pid, i64::from(std::process::id()));
        assert_eq!(live[0].version, VERSION);
        assert_eq!(live[0].config.as_deref(), Some("/cfg/agents.yaml"));
        // A second registration in the same process cannot take the lock.
        assert!(register(&dir, Path::new("/cfg/agents.yaml")).is_none());
        let path = held.path().to_path_buf();
        drop(held);
        assert!(!path.exists());
        assert!(live_servers(&dir, true).is_empty());
    }
}
