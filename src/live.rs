//! The dispatches this process is running right now, published for
//! `agent-dispatch ps`: one file per process, `servers/<pid>.live.json`
//! (0600, replaced atomically but not flushed to disk: it means nothing
//! after a crash), listing each running dispatch — agent,
//! backend, what started it, when, its last progress step. A publisher
//! thread writes it a moment after something changed, so a dispatch costs
//! no file I/O on its own path and one shorter than that moment none at
//! all; the file is removed when nothing runs. A reader skips files of
//! processes that are gone. Bookkeeping only: a failed write never touches
//! a dispatch.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use crate::state::atomic::replace_private_unsynced;
use crate::state::regular::read_regular;

/// How long after a change the board is written: changes within it are
/// written together.
const PUBLISH_DELAY: Duration = Duration::from_millis(200);
/// A live file is a few KB; anything far larger is not one.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Longest progress step kept (the view shows one line).
const MAX_STEP_CHARS: usize = 200;

/// One running dispatch.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    pub agent: String,
    pub backend: String,
    /// What started it: a tool name, `job <id>`, `test`.
    pub what: String,
    /// Seconds since the epoch.
    pub started_at: f64,
    pub last_step: Option<String>,
}

impl Running {
    pub fn to_json(&self, pid: u32) -> Value {
        json!({
            "pid": pid,
            "agent": self.agent,
            "backend": self.backend,
            "what": self.what,
            "started_at": self.started_at,
            "last_step": self.last_step,
        })
    }

    fn from_json(value: &Value) -> Option<Running> {
        let text = |key: &str| value.get(key)?.as_str().map(str::to_owned);
        Some(Running {
            agent: text("agent")?,
            backend: text("backend")?,
            what: text("what")?,
            started_at: value.get("started_at")?.as_f64()?,
            last_step: text("last_step"),
        })
    }
}

struct Board {
    running: BTreeMap<u64, Running>,
    next: u64,
    /// Changed since the last write.
    dirty: bool,
    /// The publisher thread runs (started with the first dispatch).
    publishing: bool,
    /// The process is about to exit: nothing is written any more.
    withdrawn: bool,
}

struct Shared {
    file: PathBuf,
    board: Mutex<Board>,
    changed: Condvar,
}

/// This process's board. Cheap to clone.
#[derive(Clone)]
pub struct LiveBoard(Arc<Shared>);

/// Keeps one dispatch on the board; dropping it takes it off.
pub struct Entry {
    board: LiveBoard,
    key: u64,
}

impl LiveBoard {
    /// The board of this process, published in `servers_dir`.
    pub fn new(servers_dir: &Path) -> LiveBoard {
        LiveBoard(Arc::new(Shared {
            file: servers_dir.join(format!("{}.live.json", std::process::id())),
            board: Mutex::new(Board {
                running: BTreeMap::new(),
                next: 0,
                dirty: false,
                publishing: false,
                withdrawn: false,
            }),
            changed: Condvar::new(),
        }))
    }

    pub fn start(&self, running: Running) -> Entry {
        let mut board = self.lock();
        let key = board.next;
        board.next += 1;
        board.running.insert(key, running);
        self.changed(&mut board);
        Entry {
            board: self.clone(),
            key,
        }
    }

    /// Removes this process's file now and publishes nothing more: for a
    /// process about to exit, whose publisher would not get to it.
    pub fn withdraw(&self) {
        let mut board = self.lock();
        board.withdrawn = true;
        if let Err(err) = fs::remove_file(&self.0.file)
            && err.kind() != io::ErrorKind::NotFound
        {
            crate::log::warn(&format!(
                "could not remove {}: {err}",
                self.0.file.display()
            ));
        }
    }

    fn lock(&self) -> MutexGuard<'_, Board> {
        // A map of plain records: a panic elsewhere cannot tear it.
        self.0.board.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks the board changed and makes sure a publisher will write it.
    fn changed(&self, board: &mut Board) {
        board.dirty = true;
        if !board.publishing {
            let shared = Arc::clone(&self.0);
            board.publishing = thread::Builder::new()
                .name("live-board".into())
                .spawn(move || publish_loop(&shared))
                .is_ok();
        }
        self.0.changed.notify_one();
    }
}

impl Entry {
    /// Records the dispatch's latest step.
    pub fn step(&self, message: &str) {
        let mut board = self.board.lock();
        let Some(running) = board.running.get_mut(&self.key) else {
            return;
        };
        running.last_step = Some(crate::chars::prefix(message, MAX_STEP_CHARS).to_owned());
        self.board.changed(&mut board);
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let mut board = self.board.lock();
        board.running.remove(&self.key);
        self.board.changed(&mut board);
    }
}

/// Writes the board a moment after each change, for the life of the
/// process.
fn publish_loop(shared: &Shared) {
    let lock = || shared.board.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let mut board = lock();
        while !board.dirty {
            board = shared
                .changed
                .wait(board)
                .unwrap_or_else(|p| p.into_inner());
        }
        drop(board);
        thread::sleep(PUBLISH_DELAY);
        let mut board = lock();
        board.dirty = false;
        if board.withdrawn {
            return;
        }
        let written = if board.running.is_empty() {
            match fs::remove_file(&shared.file) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
                _ => Ok(()),
            }
        } else {
            let pid = std::process::id();
            let list: Vec<Value> = board.running.values().map(|r| r.to_json(pid)).collect();
            replace_private_unsynced(&shared.file, Value::Array(list).to_string().as_bytes())
        };
        drop(board);
        if let Err(err) = written {
            crate::log::warn(&format!(
                "could not publish running dispatches to {}: {err}",
                shared.file.display()
            ));
        }
    }
}

/// Every dispatch running on this machine, by process, oldest first; files
/// of processes that are gone are skipped (and removed when `prune`).
pub fn read_all(servers_dir: &Path, prune: bool) -> Vec<(u32, Running)> {
    let Ok(listing) = fs::read_dir(servers_dir) else {
        return Vec::new();
    };
    let mut all = Vec::new();
    for entry in listing.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".live.json"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if !crate::registry::pid_exists(i64::from(pid)) {
            if prune {
                let _ = fs::remove_file(entry.path());
            }
            continue;
        }
        let Ok(Some(bytes)) = read_regular(&entry.path(), MAX_FILE_BYTES) else {
            continue;
        };
        let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        all.extend(
            items
                .iter()
                .filter_map(Running::from_json)
                .map(|r| (pid, r)),
        );
    }
    all.sort_by(|a, b| a.1.started_at.total_cmp(&b.1.started_at));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(agent: &str, started_at: f64) -> Running {
        Running {
            agent: agent.into(),
            backend: "claude".into(),
            what: "dispatch".into(),
            started_at,
            last_step: None,
        }
    }

    #[test]
    fn a_running_dispatch_is_published_until_it_ends() {
        let tmp = tempfile::tempdir().unwrap();
        let board = LiveBoard::new(tmp.path());
        let first = board.start(running("api", 2.0));
        let second = board.start(running("web", 1.0));
        second.step("Using tool: Bash");
        let seen = wait_for(|| {
            let seen = read_all(tmp.path(), false);
            (seen.len() == 2 && seen[0].1.last_step.is_some()).then_some(seen)
        });
        let agents: Vec<&str> = seen.iter().map(|(_, r)| r.agent.as_str()).collect();
        assert_eq!(agents, ["web", "api"], "oldest first");
        assert_eq!(seen[0].0, std::process::id());
        drop(second);
        drop(first);
        wait_for(|| (!board.0.file.exists()).then_some(()));
        assert!(read_all(tmp.path(), false).is_empty());
    }

    /// Waits for the publisher, which writes a moment after a change.
    fn wait_for<T>(mut ready: impl FnMut() -> Option<T>) -> T {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(value) = ready() {
                return value;
            }
            assert!(std::time::Instant::now() < deadline, "never published");
            thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn files_of_gone_processes_are_skipped_and_pruned() {
        let tmp = tempfile::tempdir().unwrap();
        // Pid 0 is never a process we can signal as ours; use a huge one.
        let stale = tmp.path().join("4194303.live.json");
        fs::write(
            &stale,
            r#"[{"agent":"x","backend":"claude","what":"test","started_at":1.0}]"#,
        )
        .unwrap();
        assert!(read_all(tmp.path(), true).is_empty());
        assert!(!stale.exists());
    }
}
