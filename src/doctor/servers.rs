//! The Running servers section, from one snapshot of the registry: how
//! many `agent-dispatch serve` processes are live, which still run another
//! version (version drift), and which run a binary that has since been
//! replaced on disk or is not this one (binary drift). A server keeps the
//! code it started with until Claude Code restarts it, so after an
//! upgrade these are the sessions still running old code.

use std::path::Path;

use super::report::{Check, Section, Status};
use crate::registry::{self, ServerEntry};

const LOWER_BOUND: &str =
    "Lower bound: only servers started on this version or later register here.";
const RESTART: &str =
    "Restart the Claude Code sessions that use them (or reconnect agent-dispatch in /mcp)";

fn check(status: Status, message: impl Into<String>) -> Check {
    Check::new(Section::RunningServers, status, message)
}

pub fn checks(entries: &[ServerEntry], version: &str, exe: Option<&Path>) -> Vec<Check> {
    if entries.is_empty() {
        return vec![
            check(
                Status::Ok,
                "No agent-dispatch server is registered as running",
            )
            .detail(LOWER_BOUND),
        ];
    }
    let drift = registry::version_drift(entries, version);
    let drifted: usize = drift.values().sum();
    let mut checks = vec![
        check(
            Status::Ok,
            format!(
                "{} server process(es) registered, {} on {version}",
                entries.len(),
                entries.len() - drifted
            ),
        )
        .detail(LOWER_BOUND),
    ];
    let now = crate::jobs::now();
    if drifted > 0 {
        let counts: Vec<String> = drift.iter().map(|(v, n)| format!("{n}x {v}")).collect();
        let mut warned = check(
            Status::Warn,
            format!(
                "{drifted} server(s) still executing older code: {}",
                counts.join(", ")
            ),
        )
        .detail("A server keeps the code it started with until Claude Code restarts it.");
        for entry in entries.iter().filter(|e| e.version != version) {
            warned = warned.detail(describe(entry, &entry.version, now));
        }
        checks.push(warned.fix(RESTART));
    }
    let binary_drift: Vec<String> = entries
        .iter()
        .filter(|e| e.version == version)
        .filter_map(|entry| {
            let recorded = entry.exe.as_deref()?;
            let what = if binary_replaced(entry.pid) {
                format!("{recorded} (replaced on disk since it started)")
            } else if exe.is_some_and(|exe| Path::new(recorded) != exe) {
                format!("{recorded} (not this binary)")
            } else {
                return None;
            };
            Some(describe(entry, &what, now))
        })
        .collect();
    if !binary_drift.is_empty() {
        let mut warned = check(
            Status::Warn,
            format!(
                "{} server(s) run a replaced or different agent-dispatch binary",
                binary_drift.len()
            ),
        );
        if let Some(exe) = exe {
            warned = warned.detail(format!("This doctor is {}.", exe.display()));
        }
        for line in binary_drift {
            warned = warned.detail(line);
        }
        checks.push(warned.fix(RESTART));
    }
    checks
}

/// `pid 123: <what>, up 3h 12m` (the age left out when unknown).
fn describe(entry: &ServerEntry, what: &str, now: f64) -> String {
    match entry.uptime_secs(now) {
        Some(age) => format!("pid {}: {what}, up {}", entry.pid, format_age(age)),
        None => format!("pid {}: {what}", entry.pid),
    }
}

/// Linux marks the executable of a process whose binary was deleted or
/// replaced (an upgrade renames a new file over it) with ` (deleted)`.
#[cfg(target_os = "linux")]
fn binary_replaced(pid: i64) -> bool {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .is_ok_and(|target| target.to_string_lossy().ends_with(" (deleted)"))
}

/// macOS names a process's executable through `proc_pidpath`; one whose
/// file was deleted has no path left to give, or a path that is gone.
/// Best effort: a binary replaced in place at the same path looks current.
#[cfg(target_os = "macos")]
fn binary_replaced(pid: i64) -> bool {
    let Ok(pid) = libc::c_int::try_from(pid) else {
        return false;
    };
    let mut buf = vec![0u8; libc::PROC_PIDPATHINFO_MAXSIZE as usize];
    // SAFETY: the buffer is as large as the size passed; proc_pidpath
    // writes at most that many bytes.
    let len = unsafe { libc::proc_pidpath(pid, buf.as_mut_ptr().cast(), buf.len() as u32) };
    if len <= 0 {
        return true;
    }
    buf.truncate(len as usize);
    let path = <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(buf);
    !Path::new(&path).exists()
}

pub fn format_age(secs: f64) -> String {
    let secs = secs as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {}h", secs / 86400, secs % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::registry::ServerEntry;

    fn entry(pid: i64, version: &str, started_at: Option<f64>) -> ServerEntry {
        ServerEntry::for_tests(pid, version, started_at)
    }

    #[test]
    fn ages_read_like_a_person_would_say_them() {
        assert_eq!(format_age(5.9), "5s");
        assert_eq!(format_age(125.0), "2m");
        assert_eq!(format_age(3.0 * 3600.0 + 720.0), "3h 12m");
        assert_eq!(format_age(2.0 * 86400.0 + 4.0 * 3600.0), "2d 4h");
    }

    #[test]
    fn old_versions_are_counted_and_listed_per_server() {
        let now = crate::jobs::now();
        let entries = [
            entry(10, "9.9.9", Some(now)),
            entry(11, "0.16.0", Some(now - 120.0)),
            entry(12, "0.16.0", None),
        ];
        let checks = checks(&entries, "9.9.9", None);
        assert_eq!(checks.len(), 2);
        assert_eq!(
            checks[0].message,
            "3 server process(es) registered, 1 on 9.9.9"
        );
        assert_eq!(
            checks[1].message,
            "2 server(s) still executing older code: 2x 0.16.0"
        );
        assert!(
            checks[1]
                .details
                .contains(&"pid 11: 0.16.0, up 2m".to_owned())
        );
        assert!(checks[1].details.contains(&"pid 12: 0.16.0".to_owned()));
    }

    #[test]
    fn a_server_of_this_version_from_another_binary_is_binary_drift() {
        let mut other = entry(i64::from(std::process::id()), "1.0.0", None);
        other.exe = Some("/old/agent-dispatch".into());
        let checks = checks(&[other], "1.0.0", Some(Path::new("/new/agent-dispatch")));
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[1].status, Status::Warn);
        let line = format!(
            "pid {}: /old/agent-dispatch (not this binary)",
            std::process::id()
        );
        assert!(checks[1].details.contains(&line), "{:?}", checks[1].details);
    }
}
