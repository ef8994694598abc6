//! What the runner reads from its own process environment: the recursion
//! depth this process runs at (`AGENT_DISPATCH_DEPTH`) and where an agent CLI
//! is on `PATH`.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub const DEPTH_ENV: &str = "AGENT_DISPATCH_DEPTH";

/// The depth value as Python's `int()` reads it: surrounding whitespace, a
/// sign and `_` between digits are fine; anything else (including
/// `"1.5"`) is unreadable and counts as 0, like a missing variable.
pub fn parse_depth(raw: Option<&OsStr>) -> i64 {
    raw.and_then(OsStr::to_str)
        .and_then(crate::pyvalue::int_text)
        .unwrap_or(0)
}

/// The current process's depth.
pub fn current_depth() -> i64 {
    parse_depth(std::env::var_os(DEPTH_ENV).as_deref())
}

/// The first executable file called `name` in the `PATH` directories.
/// Empty and relative `PATH` entries (which resolve against the current
/// directory) are skipped: a project directory must not be able to plant a
/// fake agent CLI.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_follows_python_int() {
        let depth = |s: &str| parse_depth(Some(OsStr::new(s)));
        assert_eq!(parse_depth(None), 0);
        assert_eq!(depth("2"), 2);
        assert_eq!(depth(" 3 \n"), 3);
        assert_eq!(depth("+1"), 1);
        assert_eq!(depth("-1"), -1);
        assert_eq!(depth("1_0"), 10);
        for unreadable in ["", "1.5", "abc", "1__0", "_1", "1_", "0x2", "--1"] {
            assert_eq!(depth(unreadable), 0, "{unreadable:?}");
        }
        assert_eq!(depth("99999999999999999999999"), i64::MAX);
    }
}
