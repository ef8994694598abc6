#![allow(dead_code)]
// each test crate uses a different subset
// Test support: a failed setup step should fail the test on the spot.
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A per-test stand-in `claude`: a wrapper script around
//! `fixtures/fake-claude` that fixes its environment and records every
//! invocation, plus helpers to read those records and look for processes.

use std::path::{Path, PathBuf};

pub struct FakeClaude {
    pub dir: tempfile::TempDir,
    /// The executable to pass as `claude`.
    pub path: PathBuf,
}

/// One recorded run of the stand-in.
#[derive(Debug)]
pub struct Invocation {
    pub argv: Vec<String>,
    pub cwd: String,
    pub stdin: String,
    pub depth: String,
    pub pgid: i32,
}

impl Invocation {
    /// The value after flag `name` in this run's argv.
    pub fn flag(&self, name: &str) -> Option<&str> {
        let at = self.argv.iter().position(|arg| arg == name)?;
        self.argv.get(at + 1).map(String::as_str)
    }
}

fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

impl FakeClaude {
    pub fn new(env: &[(&str, &str)]) -> FakeClaude {
        FakeClaude::in_dir(tempfile::tempdir().expect("tempdir"), env)
    }

    /// A stand-in whose environment also names files of its own (pid
    /// files, markers): each `(key, name)` of `files` sets `key` to
    /// `file(name)`.
    pub fn with_files(env: &[(&str, &str)], files: &[(&str, &str)]) -> FakeClaude {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths: Vec<(&str, String)> = files
            .iter()
            .map(|(key, name)| (*key, dir.path().join(name).to_str().unwrap().to_owned()))
            .collect();
        let mut all = env.to_vec();
        all.extend(paths.iter().map(|(key, path)| (*key, path.as_str())));
        FakeClaude::in_dir(dir, &all)
    }

    fn in_dir(dir: tempfile::TempDir, env: &[(&str, &str)]) -> FakeClaude {
        let path = write_wrapper(dir.path(), "claude", env);
        FakeClaude { dir, path }
    }

    /// Puts the stand-in of another agent CLI (`codex`, `gemini`,
    /// `opencode`: `fixtures/fake-<cli>`) beside this one, with its own
    /// environment (`FAKE_<CLI>_*`) and its own records.
    pub fn with_cli(self, cli: &str, env: &[(&str, &str)]) -> FakeClaude {
        write_wrapper(self.dir.path(), cli, env);
        self
    }

    /// The recorded runs of `cli`'s stand-in.
    pub fn invocations_of(&self, cli: &str) -> Vec<Invocation> {
        read_invocations(&self.dir.path().join(record_dir(cli)))
    }

    /// A path inside this stand-in's directory (pid files, markers).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn invocations(&self) -> Vec<Invocation> {
        self.invocations_of("claude")
    }
}

fn record_dir(cli: &str) -> String {
    if cli == "claude" {
        "record".to_owned()
    } else {
        format!("record-{cli}")
    }
}

/// Writes `dir/<cli>`, a script that runs `fixtures/fake-<cli>` with
/// `env` and records every run; returns its path.
fn write_wrapper(dir: &Path, cli: &str, env: &[(&str, &str)]) -> PathBuf {
    let record = dir.join(record_dir(cli));
    std::fs::create_dir(&record).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/fake-{cli}"));
    let mut script = String::from("#!/bin/sh\n");
    script.push_str(&format!(
        "export FAKE_{}_RECORD={}\n",
        cli.to_uppercase(),
        shell_quote(record.to_str().unwrap())
    ));
    for (key, value) in env {
        script.push_str(&format!("export {key}={}\n", shell_quote(value)));
    }
    script.push_str(&format!(
        "exec {} \"$@\"\n",
        shell_quote(fixture.to_str().unwrap())
    ));
    let path = dir.join(cli);
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn read_invocations(record: &Path) -> Vec<Invocation> {
    let mut out = Vec::new();
    for n in 1.. {
        let read = |ext: &str| std::fs::read(record.join(format!("{n}.{ext}")));
        let Ok(pid) = read("pid") else { break };
        if pid.is_empty() {
            break;
        }
        let text = |ext: &str| {
            String::from_utf8_lossy(&read(ext).unwrap_or_default())
                .trim_end()
                .to_owned()
        };
        let raw = read("argv").unwrap();
        let mut argv: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        argv.pop();
        out.push(Invocation {
            argv,
            cwd: text("cwd"),
            stdin: text("stdin"),
            depth: text("env_depth"),
            pgid: text("pgid").parse().unwrap_or(0),
        });
    }
    out
}

/// Live (non-zombie) processes in process group `pgid`.
pub fn live_in_group(pgid: i32) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command: state, ppid, pgrp, ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[2].parse::<i32>() == Ok(pgid) {
            pids.push(pid);
        }
    }
    pids
}

/// True if `pid` names a live (non-zombie) process.
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

/// Reads a pid file written by the stand-in and SIGKILLs that process
/// (tests clean up detached grandchildren this way).
pub fn kill_pid_file(path: &Path) {
    if let Some(pid) = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
    {
        // SAFETY: plain kill(2) on a pid our test started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// A `claude` (in its own directory, for PATH) that appends `start` and
/// `end` lines to a log around each run of `fake`: the log shows how many
/// runs overlapped.
pub struct LoggingClaude {
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
}

impl LoggingClaude {
    pub fn around(fake: &FakeClaude) -> LoggingClaude {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let wrapper = dir.path().join("claude");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\necho start >> '{log}'\n'{fake}' \"$@\"\nrc=$?\necho end >> '{log}'\nexit $rc\n",
                log = log.display(),
                fake = fake.path.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        LoggingClaude { dir, log }
    }

    /// (runs started, most runs at once)
    pub fn runs_and_peak(&self) -> (usize, i32) {
        let events = std::fs::read_to_string(&self.log).unwrap_or_default();
        let (mut running, mut peak, mut starts) = (0i32, 0i32, 0usize);
        for line in events.lines() {
            if line == "start" {
                starts += 1;
                running += 1;
            } else {
                running -= 1;
            }
            peak = peak.max(running);
        }
        (starts, peak)
    }
}

/// Waits (up to 2 s) until group `pgid` has no live process. A SIGKILLed
/// process has closed its pipes a moment before it stops showing as
/// running, so "killed" is checked as "gone shortly", never as "gone at
/// this instant".
pub fn group_gone(pgid: i32) -> bool {
    // Generous: only a group that never goes may fail a test, never a slow
    // machine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if live_in_group(pgid).is_empty() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
