//! Primitives for the files this tool keeps on disk: private directories,
//! atomic whole-file replacement, bounded cross-process and in-process
//! locks, opening only regular files, and stamps telling whether a file
//! changed. The config
//! store and (later) the job store are built on these; nothing here knows what
//! the files contain.

pub mod atomic;
pub mod flock;
pub mod local_lock;
pub mod regular;
pub mod stamp;
