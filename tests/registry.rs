//! The live-server registry with real processes: a child that registers
//! (this test binary re-run as `registry_child`) is live while it runs and
//! gone the moment it is SIGKILLed or exits; stale files are pruned only
//! when asked; corrupt entries are skipped; a mangled `started_at` sorts
//! last instead of failing the read.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

mod support;

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use agent_dispatch::registry::{self, ServerEntry};
use support::wait_until;

const CHILD_DIR: &str = "REGISTRY_TEST_SERVERS_DIR";
const CHILD_READY: &str = "REGISTRY_TEST_READY";
const CHILD_EXIT: &str = "REGISTRY_TEST_EXIT_AT_ONCE";

/// Not a test of its own: the body of the child processes. Registers,
/// says so by creating the ready file, then stays until killed (or, with
/// `CHILD_EXIT`, exits at once without unregistering, like a crash).
#[test]
#[ignore = "run as a child process by Server::start"]
fn registry_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let held = registry::register(Path::new(&dir), Path::new("/cfg/agents.yaml"))
        .expect("child registers");
    fs::write(std::env::var_os(CHILD_READY).unwrap(), "up").unwrap();
    if std::env::var_os(CHILD_EXIT).is_some() {
        std::process::exit(0);
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let _ = held.path();
    }
}

struct Server {
    child: Child,
}

impl Server {
    fn start(dir: &Path, exit_at_once: bool) -> Server {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, Ordering::SeqCst);
        let ready = dir.with_extension(format!("ready-{n}"));
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "registry_child",
                "--exact",
                "--ignored",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CHILD_DIR, dir)
            .env(CHILD_READY, &ready)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if exit_at_once {
            command.env(CHILD_EXIT, "1");
        }
        let child = command.spawn().unwrap();
        wait_until("the child to register", Duration::from_secs(20), || {
            ready.exists()
        });
        Server { child }
    }

    fn pid(&self) -> i64 {
        i64::from(self.child.id())
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn pids(entries: &[ServerEntry]) -> Vec<i64> {
    entries.iter().map(|e| e.pid).collect()
}

/// Writes `name` in `dir` and holds an exclusive lock on it, as a live
/// server would.
fn held_entry(dir: &Path, name: &str, body: &str) -> (File, PathBuf) {
    fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    fs::write(&path, body).unwrap();
    let file = File::open(&path).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) }, 0);
    (file, path)
}

#[test]
fn a_registered_child_is_live_with_its_version_and_config() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("servers");
    let server = Server::start(&dir, false);
    let live = registry::live_servers(&dir, true);
    assert_eq!(pids(&live), [server.pid()]);
    assert_eq!(live[0].version, env!("CARGO_PKG_VERSION"));
    assert_eq!(live[0].config.as_deref(), Some("/cfg/agents.yaml"));
    assert!(live[0].started_at.is_some());
    assert!(live[0].exe.is_some());
    assert_eq!(live[0].file, dir.join(format!("{}.json", server.pid())));
}

#[test]
fn a_sigkilled_server_is_not_live_and_its_file_is_pruned_only_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("servers");
    let mut server = Server::start(&dir, false);
    let file = dir.join(format!("{}.json", server.pid()));
    server.kill();
    assert!(registry::live_servers(&dir, false).is_empty());
    assert!(file.exists(), "prune=false must leave the stale file");
    assert!(registry::live_servers(&dir, true).is_empty());
    assert!(!file.exists(), "prune=true deletes the stale file");
}

#[test]
fn a_server_that_exited_without_unregistering_is_pruned_on_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("servers");
    let mut server = Server::start(&dir, true);
    let _ = server.child.wait();
    let file = dir.join(format!("{}.json", server.pid()));
    assert!(file.exists());
    assert!(registry::live_servers(&dir, true).is_empty());
    assert!(!file.exists());
}

#[test]
fn corrupt_entries_are_skipped_and_left_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("servers");
    let (_a, garbage) = held_entry(&dir, "1.json", "{not json");
    let (_b, no_pid) = held_entry(&dir, "2.json", r#"{"version": "1.0"}"#);
    let (_c, _) = held_entry(&dir, "3.json", r#"{"pid": 3, "version": "1.0"}"#);
    fs::write(dir.join("notes.txt"), "not an entry").unwrap();
    let live = registry::live_servers(&dir, true);
    assert_eq!(pids(&live), [3]);
    assert!(garbage.exists() && no_pid.exists());
}

#[test]
fn a_mangled_started_at_sorts_last_and_the_newest_comes_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("servers");
    let _held = [
        held_entry(&dir, "101.json", r#"{"pid": 101, "started_at": "garbage"}"#),
        held_entry(&dir, "102.json", r#"{"pid": 102, "started_at": 1000.5}"#),
        held_entry(&dir, "103.json", r#"{"pid": 103, "started_at": 2000}"#),
        held_entry(&dir, "104.json", r#"{"pid": 104}"#),
    ];
    let live = registry::live_servers(&dir, true);
    assert_eq!(pids(&live), [103, 102, 101, 104]);
    assert_eq!(live[2].version, "unknown");
}

#[test]
fn version_drift_counts_live_servers_on_other_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("servers");
    let current = env!("CARGO_PKG_VERSION");
    let _held = [
        held_entry(&dir, "1.json", r#"{"pid": 1, "version": "0.16.0"}"#),
        held_entry(&dir, "2.json", r#"{"pid": 2, "version": "0.16.0"}"#),
        held_entry(
            &dir,
            "3.json",
            &format!(r#"{{"pid": 3, "version": "{current}"}}"#),
        ),
        held_entry(&dir, "4.json", r#"{"pid": 4}"#),
    ];
    // A dead server on an old version does not count.
    fs::write(dir.join("5.json"), r#"{"pid": 5, "version": "0.1.0-dead"}"#).unwrap();
    let live = registry::live_servers(&dir, true);
    let drift = registry::version_drift(&live, current);
    let pairs: Vec<(&str, usize)> = drift.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(pairs, [("0.16.0", 2), ("unknown", 1)]);
}

#[test]
fn a_missing_registry_directory_is_empty_and_registering_creates_it_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cfg/servers");
    assert!(registry::live_servers(&dir, true).is_empty());
    let server = Server::start(&dir, false);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(format!("{}.json", server.pid()))), 0o600);
}

/// The real server: `agent-dispatch serve` registers itself at start.
#[test]
fn a_real_serve_process_is_live_until_sigkilled() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("servers");
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent-dispatch"))
        .arg("serve")
        .env("AGENT_DISPATCH_CONFIG", tmp.path().join("agents.yaml"))
        .env("AGENT_DISPATCH_SERVERS_DIR", &dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = i64::from(child.id());
    wait_until("serve to register", Duration::from_secs(10), || {
        !registry::live_servers(&dir, true).is_empty()
    });
    let live = registry::live_servers(&dir, true);
    assert_eq!(pids(&live), [pid]);
    assert_eq!(live[0].version, env!("CARGO_PKG_VERSION"));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(registry::live_servers(&dir, true).is_empty());
    assert!(!dir.join(format!("{pid}.json")).exists());
}

/// What `doctor --json` says about running servers.
fn doctor_servers_message(sandbox: &support::Sandbox) -> String {
    // No `claude` on PATH: doctor must not probe a real one here.
    let out = sandbox
        .command()
        .env("PATH", "/usr/bin:/bin")
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("doctor --json is JSON");
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["section"] == "Running servers")
        .map(|check| check["message"].as_str().unwrap().to_owned())
        .expect("a Running servers check")
}

#[test]
fn a_sigkilled_server_disappears_from_doctors_live_list() {
    let sandbox = support::Sandbox::new();
    let mut server = sandbox
        .command()
        .arg("serve")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let servers_dir = sandbox.config().parent().unwrap().join("servers");
    let entry = servers_dir.join(format!("{}.json", server.id()));
    wait_until("serve to register", Duration::from_secs(10), || {
        entry.exists()
    });
    let message = doctor_servers_message(&sandbox);
    assert!(
        message.starts_with("1 server process(es) registered"),
        "{message}"
    );
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(
        doctor_servers_message(&sandbox),
        "No agent-dispatch server is registered as running"
    );
}
