//! Turns a directory as written by a user (`~/work/api`, `../api`) into the
//! absolute, symlink-resolved path an agent is stored and run with. Like
//! Python's non-strict `Path.resolve()`, a directory that does not exist
//! (yet) still resolves: a config naming a missing project must load, and
//! show that agent as unhealthy.

use std::ffi::{CStr, CString, OsString};
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

#[derive(Debug)]
pub enum DirectoryError {
    UnknownUser(String),
    NoHome,
    CurrentDir(io::Error),
}

impl fmt::Display for DirectoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirectoryError::UnknownUser(user) => {
                write!(f, "'~{user}' names no user on this machine")
            }
            DirectoryError::NoHome => f.write_str("'~' cannot be expanded: HOME is not set"),
            DirectoryError::CurrentDir(err) => {
                write!(f, "the current directory is unavailable: {err}")
            }
        }
    }
}

impl std::error::Error for DirectoryError {}

/// Why a path given for a project cannot be an agent's directory.
#[derive(Debug)]
pub enum ProjectDirError {
    /// Empty or blank: it would silently mean "the current directory".
    Blank,
    Unresolvable(DirectoryError),
    /// Resolved, but no directory is there.
    Missing(PathBuf),
    /// agents.yaml is UTF-8 and cannot store this path.
    NotUtf8(PathBuf),
}

/// Checks a directory given for a new agent (CLI `add`, MCP `add_agent`)
/// and returns it resolved: it must be non-blank, resolvable, an existing
/// directory, and valid UTF-8.
pub fn project(raw: &Path) -> Result<PathBuf, ProjectDirError> {
    if raw.as_os_str().to_string_lossy().trim().is_empty() {
        return Err(ProjectDirError::Blank);
    }
    let resolved = resolve(raw).map_err(ProjectDirError::Unresolvable)?;
    if !resolved.is_dir() {
        return Err(ProjectDirError::Missing(resolved));
    }
    if resolved.to_str().is_none() {
        return Err(ProjectDirError::NotUtf8(resolved));
    }
    Ok(resolved)
}

/// Expands a leading `~` / `~user`, makes the path absolute against the
/// process's current directory, resolves symlinks in the part that exists
/// and normalizes the rest.
pub fn resolve(raw: &Path) -> Result<PathBuf, DirectoryError> {
    let expanded = expand_tilde(raw)?;
    let absolute = if expanded.is_absolute() {
        expanded
    } else {
        std::env::current_dir()
            .map_err(DirectoryError::CurrentDir)?
            .join(expanded)
    };
    Ok(resolve_existing_prefix(&absolute))
}

fn expand_tilde(raw: &Path) -> Result<PathBuf, DirectoryError> {
    let mut components = raw.components();
    let Some(Component::Normal(first)) = components.next() else {
        return Ok(raw.to_path_buf());
    };
    let Some(user) = first.to_str().and_then(|s| s.strip_prefix('~')) else {
        return Ok(raw.to_path_buf());
    };
    let home = if user.is_empty() {
        current_home().ok_or(DirectoryError::NoHome)?
    } else {
        home_of(user).ok_or_else(|| DirectoryError::UnknownUser(user.to_owned()))?
    };
    Ok(home.join(components.as_path()))
}

/// The user's home: `HOME` when set and non-empty, else the passwd entry.
pub fn current_home() -> Option<PathBuf> {
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => Some(PathBuf::from(home)),
        // SAFETY: getuid cannot fail.
        _ => passwd_home(|buf, len, pwd, result| unsafe {
            libc::getpwuid_r(libc::getuid(), pwd, buf, len, result)
        }),
    }
}

fn home_of(user: &str) -> Option<PathBuf> {
    let name = CString::new(user).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string for the call's duration.
    passwd_home(|buf, len, pwd, result| unsafe {
        libc::getpwnam_r(name.as_ptr(), pwd, buf, len, result)
    })
}

/// Runs a reentrant passwd lookup with a buffer we own and copies out the
/// home directory.
fn passwd_home(
    lookup: impl Fn(
        *mut libc::c_char,
        libc::size_t,
        *mut libc::passwd,
        *mut *mut libc::passwd,
    ) -> libc::c_int,
) -> Option<PathBuf> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid "empty" value for the out-param.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = lookup(buf.as_mut_ptr(), buf.len(), &mut pwd, &mut result);
    if rc != 0 || result.is_null() || pwd.pw_dir.is_null() {
        return None;
    }
    // SAFETY: on success pw_dir points into `buf`, NUL-terminated.
    let dir = unsafe { CStr::from_ptr(pwd.pw_dir) };
    Some(PathBuf::from(OsString::from_vec(dir.to_bytes().to_vec())))
}

/// Canonicalizes the longest prefix of `absolute` that exists, then appends
/// the remaining components lexically (`.` dropped, `..` pops).
fn resolve_existing_prefix(absolute: &Path) -> PathBuf {
    let mut prefix = absolute.to_path_buf();
    let mut rest: Vec<OsString> = Vec::new();
    let mut resolved = loop {
        if let Ok(real) = prefix.canonicalize() {
            break real;
        }
        match (prefix.file_name(), prefix.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                prefix = parent.to_path_buf();
            }
            // `..`/`.` at the end or the root itself: fall back to lexical.
            _ => break normalize_lexically(&prefix),
        }
    };
    for name in rest.iter().rev() {
        match Path::new(name).components().next() {
            Some(Component::ParentDir) => {
                resolved.pop();
            }
            Some(Component::CurDir) | None => {}
            _ => resolved.push(name),
        }
    }
    resolved
}

fn normalize_lexically(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn existing_directories_resolve_through_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        fs::create_dir(&real).unwrap();
        symlink(&real, tmp.path().join("link")).unwrap();
        let got = resolve(&tmp.path().join("link/./")).unwrap();
        assert_eq!(got, real.canonicalize().unwrap());
    }

    #[test]
    fn a_missing_tail_is_kept_and_normalized() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let got = resolve(&tmp.path().join("gone/deeper/../leaf")).unwrap();
        assert_eq!(got, base.join("gone/leaf"));
    }

    #[test]
    fn tilde_expands_to_home() {
        let home = current_home().expect("HOME");
        let got = resolve(Path::new("~/no-such-dir-for-test")).unwrap();
        assert!(got.ends_with("no-such-dir-for-test"), "{got:?}");
        assert!(got.starts_with(resolve_existing_prefix(&home)), "{got:?}");
    }

    #[test]
    fn tilde_of_an_unknown_user_is_an_error() {
        let err = resolve(Path::new("~no-such-user-xyz/p")).unwrap_err();
        assert!(matches!(err, DirectoryError::UnknownUser(ref u) if u == "no-such-user-xyz"));
        assert!(err.to_string().contains("names no user"));
    }

    #[test]
    fn tilde_of_root_resolves() {
        assert_eq!(
            resolve(Path::new("~root")).unwrap(),
            resolve_existing_prefix(Path::new("/root"))
        );
    }

    #[test]
    fn relative_paths_resolve_against_the_current_directory() {
        let cwd = std::env::current_dir().unwrap().canonicalize().unwrap();
        assert_eq!(
            resolve(Path::new("missing-x/y")).unwrap(),
            cwd.join("missing-x/y")
        );
    }
}
