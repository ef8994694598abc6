//! The identity of one version of a file on disk: device, inode, size and
//! modification time. An atomic replacement always brings a new inode and
//! an in-place edit or append changes the size or mtime, so an unchanged
//! stamp means an unchanged file — the basis of every "re-read only when it
//! changed" memo (config, journal profiles, project summaries).

use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    inode: u64,
    size: u64,
    mtime_ns: i128,
}

impl FileStamp {
    pub fn from_metadata(meta: &Metadata) -> FileStamp {
        FileStamp {
            dev: meta.dev(),
            inode: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }

    /// The stamp of `path` (symlinks followed); `None` when it does not
    /// exist, an error for anything else.
    pub fn of(path: &Path) -> io::Result<Option<FileStamp>> {
        match fs::metadata(path) {
            Ok(meta) => Ok(Some(FileStamp::from_metadata(&meta))),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// True when the file was last modified at least `age` ago. File times
    /// tick coarsely (a few milliseconds), so a second change in the same
    /// tick as the one stamped would leave the stamp equal: only a settled
    /// stamp proves "unchanged since".
    pub fn settled(&self, age: Duration) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        now - self.mtime_ns >= age.as_nanos() as i128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_changes_with_an_append_and_with_a_replacement() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        assert_eq!(FileStamp::of(&path).unwrap(), None);
        fs::write(&path, "a").unwrap();
        let first = FileStamp::of(&path).unwrap().unwrap();
        assert_eq!(FileStamp::of(&path).unwrap(), Some(first));
        fs::write(&path, "ab").unwrap();
        let appended = FileStamp::of(&path).unwrap().unwrap();
        assert_ne!(appended, first);
        crate::state::atomic::write_private(&path, b"ab").unwrap();
        assert_ne!(
            FileStamp::of(&path).unwrap().unwrap(),
            appended,
            "a new inode"
        );
        assert!(!appended.settled(Duration::from_secs(60)));
        assert!(appended.settled(Duration::ZERO));
    }
}
