//! Runs the real `agent-dispatch` binary against an isolated config.

#![allow(dead_code)]
// each test crate uses a different subset
// Test support: a failed setup step should fail the test on the spot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

pub const BIN: &str = env!("CARGO_BIN_EXE_agent-dispatch");

/// A throwaway home for one test: its own config path and a project dir.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A sandbox with one agent, `api` (described "API"), in its own
    /// project directory.
    pub fn with_api_agent() -> Sandbox {
        let sandbox = Sandbox::new();
        sandbox.add_agent("api", "API");
        sandbox
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("cfg/agents.yaml")
    }

    /// Creates (if needed) and returns a project directory inside the sandbox.
    pub fn project(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join("projects").join(name);
        std::fs::create_dir_all(&path).expect("project dir");
        path.canonicalize().expect("canonical project dir")
    }

    /// The jobs directory the binary uses by default: beside the config.
    pub fn jobs_dir(&self) -> PathBuf {
        self.config().with_file_name("jobs")
    }

    /// The usage journal the binary uses by default: beside the config.
    pub fn usage_log(&self) -> PathBuf {
        self.config().with_file_name("usage.jsonl")
    }

    /// Adds agent `name` through the CLI, in a project directory of the
    /// same name, and returns that directory.
    pub fn add_agent(&self, name: &str, description: &str) -> PathBuf {
        let dir = self.project(name);
        self.run(&["add", name, path_str(&dir), "-d", description])
            .ok();
        dir
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env("AGENT_DISPATCH_CONFIG", self.config())
            .env_remove("AGENT_DISPATCH_JOBS_DIR")
            .env_remove("AGENT_DISPATCH_USAGE_LOG")
            .env_remove("AGENT_DISPATCH_SERVERS_DIR")
            .env("NO_COLOR", "1");
        cmd
    }

    /// `command()` with `claude_dir` (a stand-in `claude`) first on PATH.
    pub fn command_with_claude(&self, claude_dir: &Path) -> Command {
        let mut cmd = self.command();
        cmd.env("PATH", path_with(claude_dir));
        cmd
    }

    /// The server registry (and live-dispatch files) of this sandbox.
    pub fn servers_dir(&self) -> PathBuf {
        self.dir.path().join("servers")
    }

    /// `command_with_claude` with the registry in `servers_dir()`.
    pub fn command_with_registry(&self, claude_dir: &Path) -> Command {
        let mut cmd = self.command_with_claude(claude_dir);
        cmd.env("AGENT_DISPATCH_SERVERS_DIR", self.servers_dir());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run(self
            .command()
            .args(args)
            .output()
            .expect("run agent-dispatch"))
    }

    pub fn run_os(&self, args: &[&std::ffi::OsStr]) -> Run {
        Run(self
            .command()
            .args(args)
            .output()
            .expect("run agent-dispatch"))
    }

    pub fn read_config(&self) -> String {
        std::fs::read_to_string(self.config()).expect("config readable")
    }

    pub fn write_config(&self, text: &str) {
        let path = self.config();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Rewrites `from` (a setting as the CLI writes it, e.g.
    /// "max_concurrency: 5") in the config, which must hold it.
    #[track_caller]
    pub fn edit_config(&self, from: &str, to: &str) {
        let text = self.read_config();
        assert!(text.contains(from), "no {from:?} in the config:\n{text}");
        self.write_config(&text.replace(from, to));
    }
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert_eq!(
            self.code(),
            0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }
    /// Asserts the exit code and returns stderr.
    #[track_caller]
    pub fn fails(&self, code: i32) -> String {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        assert!(
            self.stderr().starts_with("error: "),
            "stderr: {}",
            self.stderr()
        );
        self.stderr()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok()).expect("valid JSON on stdout")
    }
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 test path")
}

/// A PATH with `dir` first, then only the system's directories.
pub fn path_with(dir: &Path) -> String {
    format!("{}:/usr/bin:/bin", dir.display())
}

/// Polls `done` until it holds. `limit` only tells a hang from a slow
/// machine: past it the test fails, naming `what`.
#[track_caller]
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The record of job `id` in `jobs_dir`, read straight from its file.
pub fn job_record(jobs_dir: &Path, id: &str) -> serde_json::Value {
    let path = jobs_dir.join(format!("{id}.json"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("a whole job record")
}

/// Makes job `id`'s record look created and started two hours ago and
/// untouched since, as after a long outage: what stale recovery waits for.
pub fn age_job_record(jobs_dir: &Path, id: &str) {
    let path = jobs_dir.join(format!("{id}.json"));
    let mut record = job_record(jobs_dir, id);
    let then = SystemTime::now() - Duration::from_secs(7200);
    let epoch = then.duration_since(SystemTime::UNIX_EPOCH).unwrap();
    record["created_at"] = serde_json::json!(epoch.as_secs_f64());
    record["started_at"] = serde_json::json!(epoch.as_secs_f64());
    std::fs::write(&path, serde_json::to_string_pretty(&record).unwrap()).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(then).unwrap();
}
