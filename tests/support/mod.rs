//! Runs the real `agent-dispatch` binary against an isolated config.

#![allow(dead_code)] // each test crate uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("cfg/agents.yaml")
    }

    /// Creates (if needed) and returns a project directory inside the sandbox.
    pub fn project(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join("projects").join(name);
        std::fs::create_dir_all(&path).expect("project dir");
        path.canonicalize().expect("canonical project dir")
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
