//! What one server process shares across its tool calls: where the files
//! are, the config (re-read only when the file changed), the concurrency
//! limiter, the result cache and the dispatch path over both.

use std::sync::{Arc, Mutex};

use crate::cache::ResultCache;
use crate::config::store::{self, LoadError};
use crate::config::{Config, Paths};
use crate::dispatch::Dispatcher;
use crate::jobs::store::JobStore;
use crate::jobs::worker::Jobs;
use crate::limiter::Limiter;
use crate::live::LiveBoard;
use crate::state::stamp::FileStamp;
use crate::usage::Profiles;
use crate::views::summary_cache::SummaryCache;

pub struct State {
    pub paths: Paths,
    config: Mutex<Option<(Option<FileStamp>, Arc<Config>)>>,
    pub limiter: Arc<Limiter>,
    pub cache: Arc<ResultCache>,
    /// The one dispatch path, over this server's limiter, cache, journal
    /// and profiles.
    pub dispatcher: Dispatcher,
    /// `list_agents` entries, rebuilt only for projects that changed.
    pub summaries: SummaryCache,
    /// Async jobs and `return_ref` records, and the workers this server runs.
    pub jobs: Arc<Jobs>,
    /// Per-agent run profiles from the usage journal, re-read only when it
    /// changed.
    pub profiles: Arc<Profiles>,
}

impl State {
    pub fn new(paths: Paths) -> State {
        let limiter = Limiter::new(crate::config::Settings::default().max_concurrency as usize);
        let cache = Arc::new(ResultCache::new());
        let profiles = Arc::new(Profiles::new());
        let dispatcher = Dispatcher::new(
            Arc::clone(&limiter),
            Some(Arc::clone(&cache)),
            paths.usage_log.clone(),
            Arc::clone(&profiles),
            LiveBoard::new(&paths.servers_dir),
        );
        let jobs = Jobs::new(JobStore::new(paths.jobs_dir.clone()));
        State {
            paths,
            config: Mutex::new(None),
            limiter,
            cache,
            dispatcher,
            summaries: SummaryCache::new(),
            jobs,
            profiles,
        }
    }

    /// Start-up housekeeping of the job store, best effort: the retention
    /// sweep (`job_retention_days`) and recovery of records a dead server
    /// left `running` or `pending`. Problems are logged, never fatal.
    pub fn maintain_jobs(&self) {
        let store = self.jobs.store();
        let now = crate::jobs::now();
        // An unreadable config must never delete anything: no retention.
        let retention_days = self.config().map_or(0, |c| c.settings.job_retention_days);
        if retention_days > 0 {
            match store.gc(retention_days as f64 * 86_400.0, now) {
                Ok(0) => {}
                Ok(purged) => crate::log::info(&format!(
                    "retention: deleted {purged} finished jobs older than {retention_days} days"
                )),
                Err(err) => crate::log::warn(&format!("retention sweep failed: {err}")),
            }
        }
        match store.recover_stale(now) {
            Ok(0) => {}
            Ok(recovered) => {
                crate::log::info(&format!("marked {recovered} abandoned jobs as failed"))
            }
            Err(err) => crate::log::warn(&format!("stale job recovery failed: {err}")),
        }
    }

    /// The current config: the cached copy when the file is unchanged,
    /// otherwise freshly loaded. Also applies `max_concurrency` to the
    /// limiter, so an edited limit takes effect on the next call.
    pub fn config(&self) -> Result<Arc<Config>, LoadError> {
        let path = &self.paths.config;
        let now = FileStamp::of(path).map_err(|source| LoadError::Read {
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
