//! Opening files in our state directories (job records, the server
//! registry, lock files, the usage journal) without being led anywhere: a
//! symlink in the last component is refused rather than followed, and a
//! FIFO or device is refused rather than waited on (`O_NONBLOCK` makes the
//! open itself return at once; `fstat` then tells what it is).

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Why a path in a state directory was refused.
#[derive(Debug)]
struct Refused(&'static str);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Refused {}

/// The flags every state-file open adds: no symlink, no wait, no leak
/// into children.
pub const SAFE_OPEN_FLAGS: libc::c_int = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;

/// Opens `path` with `options` plus `SAFE_OPEN_FLAGS` and requires a
/// regular file.
pub fn open_regular(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    let file = options
        .custom_flags(SAFE_OPEN_FLAGS)
        .open(path)
        .map_err(|err| match err.raw_os_error() {
            Some(libc::ELOOP) => io::Error::new(
                io::ErrorKind::InvalidData,
                Refused("is a symlink, which is never followed in a state directory"),
            ),
            _ => err,
        })?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            Refused("is not a regular file (a FIFO, device or directory is never read)"),
        ));
    }
    Ok(file)
}

/// Opens (creating it 0600 if missing) the regular file at `path` for
/// reading and writing, without truncating it.
pub fn open_or_create_private(path: &Path) -> io::Result<File> {
    open_regular(
        path,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600),
    )
}

/// Reads at most `max_bytes` of the regular file at `path`; `None` when
/// nothing is there.
pub fn read_regular(path: &Path, max_bytes: u64) -> io::Result<Option<Vec<u8>>> {
    let file = match open_regular(path, OpenOptions::new().read(true)) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let mut bytes = Vec::new();
    file.take(max_bytes).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn regular_files_read_and_missing_ones_are_none() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.json");
        std::fs::write(&path, b"{}").unwrap();
        assert_eq!(read_regular(&path, 1024).unwrap().unwrap(), b"{}");
        assert_eq!(read_regular(&path, 1).unwrap().unwrap(), b"{");
        assert!(
            read_regular(&tmp.path().join("none"), 1024)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_symlink_a_fifo_and_a_directory_are_refused_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("secret");
        std::fs::write(&target, b"secret").unwrap();
        let link = tmp.path().join("link.json");
        symlink(&target, &link).unwrap();
        let err = read_regular(&link, 1024).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");

        let fifo = tmp.path().join("fifo.json");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let err = read_regular(&fifo, 1024).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");

        let err = read_regular(tmp.path(), 1024).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}
