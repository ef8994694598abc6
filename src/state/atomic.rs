//! Atomic, private file replacement: a unique temp file beside the target,
//! written with mode 0600, flushed, then renamed over the target. A reader —
//! or a process killed half-way through the write — sees either the old file
//! or the new one, never a mixture.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::ids;

/// Creates `dir` (and missing parents) with mode 0700. An existing directory
/// is left as it is: tightening a directory the user chose (say, a dotfiles
/// checkout named by `AGENT_DISPATCH_CONFIG`) is not ours to do.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Follows `path` through symlinks to the file that should receive the bytes,
/// so a symlinked config (into a dotfiles repo, say) stays a symlink. A
/// dangling link resolves to where it points.
pub fn write_target(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    // Bounded like the kernel's own ELOOP limit, so a link cycle cannot spin.
    for _ in 0..40 {
        match fs::read_link(&current) {
            Ok(next) => {
                current = match current.parent() {
                    Some(parent) if next.is_relative() => parent.join(next),
                    _ => next,
                };
            }
            Err(_) => return current,
        }
    }
    current
}

/// Replaces the file at `path` (through symlinks) with `bytes`, atomically,
/// leaving it 0600. On any error the temp file is removed and the previous
/// file is untouched.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_private(&write_target(path), bytes)
}

/// Like `write_private`, but a symlink at `path` is replaced, never
/// followed: for our own state directories, where nothing is a link of the
/// user's.
pub fn replace_private(target: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(target, bytes, Durability::Synced)
}

/// Like `replace_private`, still atomic for readers, but not flushed to
/// disk: for files that describe the running process only and mean
/// nothing after a crash, written often enough that an fsync each time
/// would cost more than the work they describe.
pub fn replace_private_unsynced(target: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(target, bytes, Durability::Unsynced)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Durability {
    Synced,
    Unsynced,
}

fn replace(target: &Path, bytes: &[u8], durability: Durability) -> io::Result<()> {
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    ensure_private_dir(&dir)?;
    let file_name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let suffix = ids::hex32().map_err(io::Error::other)?;
    let mut temp_name = file_name.to_os_string();
    temp_name.push(format!(".{suffix}.tmp"));
    let temp = dir.join(temp_name);

    let result = write_then_rename(&temp, target, bytes, durability);
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn write_then_rename(
    temp: &Path,
    target: &Path,
    bytes: &[u8],
    durability: Durability,
) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp)?;
    file.write_all(bytes)?;
    if durability == Durability::Unsynced {
        drop(file);
        return fs::rename(temp, target);
    }
    file.sync_all()?;
    drop(file);
    fs::rename(temp, target)?;
    // The rename is durable only once the directory entry is on disk; a
    // failure here does not undo the (already visible) replacement.
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty());
    if let Ok(handle) = fs::File::open(dir.unwrap_or(Path::new("."))) {
        let _ = handle.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_file_is_0600_in_a_new_0700_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/agents.yaml");
        write_private(&path, b"x: 1\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"x: 1\n");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&tmp.path().join("a/b")), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
    }

    #[test]
    fn replacing_tightens_a_loose_file_to_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("agents.yaml");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_symlinked_file_stays_a_symlink_and_its_target_gets_the_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("dotfiles/agents.yaml");
        fs::create_dir_all(real.parent().unwrap()).unwrap();
        fs::write(&real, b"old").unwrap();
        let link = tmp.path().join("agents.yaml");
        symlink(&real, &link).unwrap();
        write_private(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
    }

    #[test]
    fn a_relative_symlink_resolves_against_its_own_directory() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("real")).unwrap();
        fs::write(tmp.path().join("real/agents.yaml"), b"old").unwrap();
        fs::create_dir_all(tmp.path().join("cfg")).unwrap();
        symlink("../real/agents.yaml", tmp.path().join("cfg/agents.yaml")).unwrap();
        write_private(&tmp.path().join("cfg/agents.yaml"), b"new").unwrap();
        assert_eq!(
            fs::read(tmp.path().join("real/agents.yaml")).unwrap(),
            b"new"
        );
    }

    #[test]
    fn a_failed_rename_keeps_the_old_target_and_leaves_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        // A non-empty directory cannot be replaced by a file: rename fails.
        let target = tmp.path().join("agents.yaml");
        fs::create_dir_all(target.join("inside")).unwrap();
        let err = write_private(&target, b"new").unwrap_err();
        assert!(err.kind() != io::ErrorKind::NotFound, "{err}");
        assert!(target.join("inside").is_dir());
        let leftovers: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("agents.yaml")]);
    }
}
