//! Primitives for the files this tool keeps on disk: private directories,
//! atomic whole-file replacement, bounded cross-process locks, and stamps
//! telling whether a file changed. The config
//! store and (later) the job store are built on these; nothing here knows what
//! the files contain.

pub mod atomic;
pub mod flock;
pub mod stamp;
