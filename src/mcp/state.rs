//! What one server process shares across its tool calls: where the files
//! are, the config (re-read only when the file changed), the concurrency
//! limiter and the result cache.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};

use crate::cache::ResultCache;
use crate::config::store::{self, LoadError};
use crate::config::{Config, Paths};
use crate::limiter::Limiter;
use crate::views::summary_cache::SummaryCache;

/// Identifies one version of the config file on disk. An atomic save
/// always produces a new inode, and an in-place edit changes size or
/// mtime, so an unchanged stamp means an unchanged file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    inode: u64,
    size: u64,
    mtime_ns: i128,
}

fn stamp(path: &std::path::Path) -> io::Result<Option<FileStamp>> {
    match fs::metadata(path) {
        Ok(m) => Ok(Some(FileStamp {
            dev: m.dev(),
            inode: m.ino(),
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        })),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

pub struct State {
    pub paths: Paths,
    config: Mutex<Option<(Option<FileStamp>, Arc<Config>)>>,
    pub limiter: Arc<Limiter>,
    pub cache: ResultCache,
    /// `list_agents` entries, rebuilt only for projects that changed.
    pub summaries: SummaryCache,
}

impl State {
    pub fn new(paths: Paths) -> State {
        State {
            paths,
            config: Mutex::new(None),
            limiter: Limiter::new(crate::config::Settings::default().max_concurrency as usize),
            cache: ResultCache::new(),
            summaries: SummaryCache::new(),
        }
    }

    /// The current config: the cached copy when the file is unchanged,
    /// otherwise freshly loaded. Also applies `max_concurrency` to the
    /// limiter, so an edited limit takes effect on the next call.
    pub fn config(&self) -> Result<Arc<Config>, LoadError> {
        let path = &self.paths.config;
        let now = stamp(path).map_err(|source| LoadError::Read {
            path: path.clone(),
            source,
        })?;
        let mut cached = self.config.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((seen, config)) = cached.as_ref()
            && *seen == now
        {
            return Ok(Arc::clone(config));
        }
        let config = Arc::new(store::load(path)?);
        self.limiter
            .resize(config.settings.max_concurrency as usize);
        *cached = Some((now, Arc::clone(&config)));
        Ok(config)
    }
}
