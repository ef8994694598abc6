//! The one dispatch path above the runner, used by every surface that runs
//! an agent — the MCP dispatch tools, the async job worker and CLI `test`:
//! the result cache (when the request may use it), a limiter slot, the run
//! itself (`runner::dispatch`), the offer of a timeout measured from the
//! agent's recent runs, the usage journal, and storing a clean answer. It
//! takes a neutral `Request` and gives back a `DispatchResult`; it knows
//! nothing of MCP or of the CLI.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::cache::{KeyInputs, ResultCache, cache_key};
use crate::limiter::Limiter;
use crate::pyfmt::repr_str;
use crate::runner::{self, CancelToken, Dispatch, DispatchResult, ErrorType};
use crate::usage::{self, Profiles};

/// What the services of one process share for running dispatches.
#[derive(Clone)]
pub struct Dispatcher {
    limiter: Arc<Limiter>,
    /// `None` where nothing is cached (the CLI).
    cache: Option<Arc<ResultCache>>,
    journal: PathBuf,
    profiles: Arc<Profiles>,
}

/// One dispatch to run.
pub struct Request<'a> {
    pub dispatch: Dispatch<'a>,
    /// Whether a stored answer may stand in for the run, and a clean answer
    /// be stored (one-shot JSON dispatches only).
    pub cached: bool,
    /// Receives the agent's steps as they happen (stream mode).
    pub progress: Option<runner::Progress>,
}

/// A dispatch's result, and whether the cache gave it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub result: DispatchResult,
    pub cached: bool,
}

impl Dispatcher {
    pub fn new(
        limiter: Arc<Limiter>,
        cache: Option<Arc<ResultCache>>,
        journal: PathBuf,
        profiles: Arc<Profiles>,
    ) -> Dispatcher {
        Dispatcher {
            limiter,
            cache,
            journal,
            profiles,
        }
    }

    /// Runs `request` to its answer. Cancelled while waiting for a slot, it
    /// answers that the dispatch never started.
    pub fn run(&self, request: Request, cancel: &CancelToken) -> Answer {
        let agent = request.dispatch.agent_name;
        // `start` always agrees here, so there is always an answer.
        self.run_then(request, cancel, || true)
            .unwrap_or_else(|| Answer {
                result: not_started(agent),
                cached: false,
            })
    }

    /// Like `run`, but once a slot is held `start` decides whether the run
    /// still happens (an async job cancelled while it was queued does not);
    /// `None` when it declined.
    pub fn run_then(
        &self,
        request: Request,
        cancel: &CancelToken,
        start: impl FnOnce() -> bool,
    ) -> Option<Answer> {
        let d = &request.dispatch;
        let cache = self.cache.as_deref().filter(|_| request.cached);
        let key = cache.map(|_| key_of(d));
        if let (Some(cache), Some(key)) = (cache, &key)
            && let Some(hit) = cache.get(key, &d.settings.cache)
        {
            if d.settings.usage_log {
                usage::append(
                    &self.journal,
                    &usage::Record::cache_hit(d.agent_name, d.ask.caller),
                );
            }
            return Some(Answer {
                result: hit,
                cached: true,
            });
        }
        let started = Instant::now();
        let mut result = match self.limiter.acquire(cancel) {
            Some(slot) => {
                if !start() {
                    return None;
                }
                // The slot is held until the runner returns, i.e. until its
                // process has been reaped.
                let result = runner::dispatch(d, cancel, request.progress);
                drop(slot);
                result
            }
            None => not_started(d.agent_name),
        };
        // Measured before this run is journaled, from the runs before it.
        runner::offer_measured_timeout(&mut result, d, || {
            usage::measured_timeout(&self.profiles, &self.journal, d.agent_name)
        });
        if d.settings.usage_log {
            let wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            usage::append(
                &self.journal,
                &usage::Record::from_result(&result, wall_ms, d.ask.caller),
            );
        }
        if let (Some(cache), Some(key)) = (cache, &key) {
            cache.put(key, d.agent_name, &result, &d.settings.cache);
        }
        Some(Answer {
            result,
            cached: false,
        })
    }
}

/// The cache key of `d`, taken once before the run, so an answer produced
/// under an old config cannot fill the entry of an edited one.
fn key_of(d: &Dispatch) -> crate::cache::CacheKey {
    cache_key(&KeyInputs {
        agent_name: d.agent_name,
        agent: d.agent,
        settings: d.settings,
        task: d.ask.task,
        context: d.ask.context,
        caller: d.ask.caller,
        goal: d.ask.goal,
        response_format: d.ask.response_format,
        timeout_override: d.timeout_secs,
    })
}

fn not_started(agent: &str) -> DispatchResult {
    DispatchResult::failure(
        agent,
        ErrorType::CliError,
        format!(
            "Dispatch to agent {} was cancelled before it started.",
            repr_str(agent)
        ),
    )
}
