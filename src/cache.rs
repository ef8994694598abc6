//! The result cache: one in-memory store per server process of the answers
//! of clean, successful one-shot dispatches, so an orchestrator asking the
//! same agent the same thing again gets the answer without paying for a
//! second `claude` run. Owns the cache key (a SHA-256 over everything that
//! shapes the prompt or the command line), what may be stored, expiry by
//! age, first-in-first-out eviction (by count and by bytes), per-agent
//! invalidation and the `cache_stats` shape. Never persisted; knows nothing about MCP, jobs or
//! how a result was produced. The MCP tools decide when to use it (only
//! `dispatch` and `dispatch_parallel` items) and answer for a disabled cache
//! themselves.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::{Agent, CacheSettings, Settings};
use crate::pyvalue;
use crate::runner::{DispatchResult, Outcome};

/// All entries together weigh at most this many bytes (their results as
/// JSON); the oldest go first to make room.
pub const MAX_TOTAL_BYTES: usize = 64 * 1024 * 1024;
/// A result heavier than this is not cached at all: it would push out
/// dozens of ordinary answers, and asking again is what such a rare
/// answer costs.
pub const MAX_ENTRY_BYTES: usize = 4 * 1024 * 1024;

/// Everything that can change what a dispatch sends to `claude`. Take the
/// agent and settings from one config snapshot and use the same key for the
/// lookup and the insertion, so a dispatch that finishes after an edit
/// cannot fill the entry of the edited configuration.
#[derive(Clone, Copy)]
pub struct KeyInputs<'a> {
    pub agent_name: &'a str,
    pub agent: &'a Agent,
    pub settings: &'a Settings,
    pub task: &'a str,
    /// The effective context, after any group merge: different groups cache
    /// separately, and `group=""` is the same as no group.
    pub context: &'a str,
    /// An absent caller is passed as `""`, so "no caller" and an empty
    /// caller share one entry — on purpose, as in the original: both
    /// produce the same prompt.
    pub caller: &'a str,
    pub goal: &'a str,
    pub response_format: &'a str,
    /// The per-call `timeout_seconds`, already bounded. Unlike the original
    /// it is part of the key: the dispatch-protocol system prompt tells the
    /// agent how long it has, so a different timeout is a different prompt.
    pub timeout_override: Option<u64>,
}

/// A cache key: the lowercase hex SHA-256 of the canonical JSON of a
/// `KeyInputs`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(String);

impl CacheKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn cache_key(inputs: &KeyInputs) -> CacheKey {
    // Keys are written in sorted order; with `preserve_order` that order is
    // what gets serialized, so equal inputs always hash the same bytes.
    let canonical = json!({
        "agent": inputs.agent_name,
        "agent_config": agent_snapshot(inputs.agent),
        "caller": inputs.caller,
        "context": inputs.context,
        "goal": inputs.goal,
        "response_format": inputs.response_format,
        "settings": settings_snapshot(inputs.settings),
        "task": inputs.task,
        "timeout_override": inputs.timeout_override,
    });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    CacheKey(hex)
}

/// The agent fields that reach the prompt, the system prompt or the argv.
/// Tool lists stay tri-state (`null` inherits, `[]` means none).
fn agent_snapshot(agent: &Agent) -> Value {
    // Destructured without `..`: a field added to `Agent` stops this from
    // compiling until someone decides whether it belongs in the key.
    let Agent {
        directory,
        description: _,
        backend,
        host,
        ssh_options,
        remote_cli,
        timeout,
        max_budget_usd,
        model,
        fallback_model,
        effort,
        max_turns,
        json_schema,
        permission_mode,
        allowed_tools,
        disallowed_tools,
        capabilities: _,
        risky_capabilities: _,
        instructions,
        extra: _,
    } = agent;
    json!({
        "allowed_tools": allowed_tools,
        "backend": backend.map(|name| name.as_str()),
        "host": host,
        "remote_cli": remote_cli,
        "ssh_options": ssh_options,
        "directory": path_value(directory),
        "disallowed_tools": disallowed_tools,
        "instructions": instructions,
        "max_budget_usd": max_budget_usd,
        "model": model,
        "fallback_model": fallback_model,
        "effort": effort,
        "max_turns": max_turns,
        "json_schema": json_schema,
        "permission_mode": permission_mode,
        "timeout": timeout,
    })
}

/// The settings a dispatch inherits. `max_dispatch_depth` is in because it
/// decides whether the dispatch may run at all; the cache, concurrency,
/// retention, journal and grant settings change no answer and are left out.
fn settings_snapshot(settings: &Settings) -> Value {
    let Settings {
        default_backend,
        default_timeout,
        default_max_budget_usd,
        default_permission_mode,
        default_allowed_tools,
        default_disallowed_tools,
        max_dispatch_depth,
        max_concurrency: _,
        cache: _,
        job_retention_days: _,
        dispatch_protocol,
        usage_log: _,
        mcp_may_grant: _,
        extra: _,
    } = settings;
    json!({
        "default_allowed_tools": default_allowed_tools,
        "default_backend": default_backend.map(|name| name.as_str()),
        "default_disallowed_tools": default_disallowed_tools,
        "default_max_budget_usd": default_max_budget_usd,
        "default_permission_mode": default_permission_mode,
        "default_timeout": default_timeout,
        "dispatch_protocol": dispatch_protocol,
        "max_dispatch_depth": max_dispatch_depth,
    })
}

/// A directory as text, or as its raw bytes when it is not UTF-8, so two
/// such paths can never collapse into one lossy string.
fn path_value(path: &Path) -> Value {
    match path.to_str() {
        Some(text) => Value::from(text),
        None => Value::from(path.as_os_str().as_bytes().to_vec()),
    }
}

/// Whether a result may be served again: a success the agent itself called
/// complete, with nothing denied and the budget respected.
fn is_clean_success(result: &DispatchResult) -> bool {
    result.success
        && result.denied_tools.as_ref().is_none_or(Vec::is_empty)
        && !result.budget_exceeded
        && matches!(result.outcome, None | Some(Outcome::Done))
}

pub struct ResultCache {
    inner: Mutex<Inner>,
    /// `Instant::now` outside tests; tests move time by hand instead of
    /// sleeping. Read only under the lock, so insertion times rise with the
    /// insertion sequence.
    clock: Box<dyn Fn() -> Instant + Send + Sync>,
}

struct Inner {
    /// The `(ttl, max_size)` the entries were stored under.
    shape: (u64, u64),
    entries: HashMap<CacheKey, Entry>,
    /// Insertion sequence → key: the oldest entry is the first one.
    order: BTreeMap<u64, CacheKey>,
    next_seq: u64,
    /// The summed `weight` of all entries.
    bytes: usize,
    hits: u64,
    misses: u64,
    evictions: u64,
}

struct Entry {
    seq: u64,
    inserted: Instant,
    agent: String,
    result: DispatchResult,
    weight: usize,
}

impl Inner {
    fn empty(shape: (u64, u64)) -> Inner {
        Inner {
            shape,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            bytes: 0,
            hits: 0,
            misses: 0,
            evictions: 0,
        }
    }

    /// Starts over (entries and counters) when the TTL or capacity changed,
    /// as the original does by re-creating its cache. This also keeps one
    /// TTL for all entries, which `drop_expired` relies on.
    fn configure(&mut self, settings: &CacheSettings) {
        // A capacity of 0 is refused by config validation; 1 is the least
        // that keeps "insert, then evict when full" meaningful.
        let shape = (settings.ttl, settings.max_size.max(1));
        if self.shape != shape {
            *self = Inner::empty(shape);
        }
    }

    fn ttl(&self) -> Duration {
        Duration::from_secs(self.shape.0)
    }

    fn remove(&mut self, key: &CacheKey) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.order.remove(&entry.seq);
        self.bytes -= entry.weight;
        Some(entry)
    }

    /// Removes the oldest insertion; false when there is none.
    fn evict_oldest(&mut self) -> bool {
        let Some((_, oldest)) = self.order.pop_first() else {
            return false;
        };
        if let Some(entry) = self.entries.remove(&oldest) {
            self.bytes -= entry.weight;
        }
        self.evictions += 1;
        true
    }

    /// Drops every expired entry (not counted as evictions). With one TTL
    /// for all entries and insertion times rising with the sequence, the
    /// expired entries are exactly the oldest ones.
    fn drop_expired(&mut self, now: Instant) {
        let ttl = self.ttl();
        while let Some((&seq, key)) = self.order.first_key_value() {
            let expired = self
                .entries
                .get(key)
                .is_none_or(|entry| now.saturating_duration_since(entry.inserted) > ttl);
            if !expired {
                break;
            }
            if let Some(key) = self.order.remove(&seq)
                && let Some(entry) = self.entries.remove(&key)
            {
                self.bytes -= entry.weight;
            }
        }
    }
}

impl Default for ResultCache {
    fn default() -> ResultCache {
        ResultCache::with_clock(Box::new(Instant::now))
    }
}

impl ResultCache {
    pub fn new() -> ResultCache {
        ResultCache::default()
    }

    fn with_clock(clock: Box<dyn Fn() -> Instant + Send + Sync>) -> ResultCache {
        let defaults = CacheSettings::default();
        ResultCache {
            inner: Mutex::new(Inner::empty((defaults.ttl, defaults.max_size))),
            clock,
        }
    }

    /// A copy of the stored result, if there is one younger than the TTL.
    /// Age counts from insertion; reading never extends it. An expired entry
    /// is removed and counts as a miss. A disabled cache answers nothing and
    /// counts nothing, and keeps its entries for when it is enabled again.
    pub fn get(&self, key: &CacheKey, settings: &CacheSettings) -> Option<DispatchResult> {
        if !settings.enabled {
            return None;
        }
        let mut inner = self.lock();
        let now = (self.clock)();
        inner.configure(settings);
        let ttl = inner.ttl();
        let expired = inner
            .entries
            .get(key)
            .map(|entry| now.saturating_duration_since(entry.inserted) > ttl);
        match expired {
            Some(false) => {
                inner.hits += 1;
                inner.entries.get(key).map(|entry| entry.result.clone())
            }
            Some(true) => {
                inner.remove(key);
                inner.misses += 1;
                None
            }
            None => {
                inner.misses += 1;
                None
            }
        }
    }

    /// Stores `result` under `key` if it is a clean success (see
    /// `is_clean_success`) and the cache is enabled with a non-zero TTL (a
    /// zero TTL would expire the entry at the next lookup anyway). A key
    /// already present is replaced and its age restarts, without evicting
    /// anything; a new key at capacity evicts the oldest insertion. Returns
    /// whether it was stored.
    pub fn put(
        &self,
        key: &CacheKey,
        agent_name: &str,
        result: &DispatchResult,
        settings: &CacheSettings,
    ) -> bool {
        if !settings.enabled || settings.ttl == 0 || !is_clean_success(result) {
            return false;
        }
        let Some(weight) = weight_within(result, MAX_ENTRY_BYTES) else {
            return false;
        };
        let mut inner = self.lock();
        let now = (self.clock)();
        inner.configure(settings);
        let refreshed = inner.remove(key).is_some();
        while (!refreshed && inner.entries.len() as u64 >= inner.shape.1)
            || inner.bytes + weight > MAX_TOTAL_BYTES
        {
            if !inner.evict_oldest() {
                break;
            }
        }
        inner.bytes += weight;
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.order.insert(seq, key.clone());
        inner.entries.insert(
            key.clone(),
            Entry {
                seq,
                inserted: now,
                agent: agent_name.to_owned(),
                result: result.clone(),
                weight,
            },
        );
        true
    }

    /// Drops every entry stored for `agent_name` (after its configuration
    /// changed through MCP); returns how many.
    pub fn invalidate_agent(&self, agent_name: &str) -> usize {
        let mut inner = self.lock();
        let stale: Vec<CacheKey> = inner
            .entries
            .iter()
            .filter(|(_, entry)| entry.agent == agent_name)
            .map(|(key, _)| key.clone())
            .collect();
        for key in &stale {
            inner.remove(key);
        }
        stale.len()
    }

    /// Empties the cache and resets hits, misses and evictions; returns how
    /// many entries were removed.
    pub fn clear(&self) -> usize {
        let mut inner = self.lock();
        let removed = inner.entries.len();
        let shape = inner.shape;
        *inner = Inner::empty(shape);
        removed
    }

    /// The `cache_stats` answer, after dropping expired entries:
    /// `{"size", "max_size", "hits", "misses", "evictions", "hit_rate",
    /// "ttl"}` with `hit_rate` rounded as Python's `round(x, 3)` (0.0 before
    /// any lookup), then our byte bounds: `bytes`, `max_bytes`,
    /// `max_entry_bytes`.
    pub fn stats(&self, settings: &CacheSettings) -> Value {
        let mut inner = self.lock();
        let now = (self.clock)();
        if settings.enabled {
            inner.configure(settings);
            inner.drop_expired(now);
        }
        let lookups = inner.hits + inner.misses;
        let hit_rate = if lookups == 0 {
            0.0
        } else {
            pyvalue::round(inner.hits as f64 / lookups as f64, 3)
        };
        json!({
            "size": inner.entries.len(),
            "max_size": settings.max_size,
            "hits": inner.hits,
            "misses": inner.misses,
            "evictions": inner.evictions,
            "hit_rate": hit_rate,
            "ttl": settings.ttl,
            "bytes": inner.bytes,
            "max_bytes": MAX_TOTAL_BYTES,
            "max_entry_bytes": MAX_ENTRY_BYTES,
        })
    }

    /// No critical section can leave the maps half-updated, so a lock
    /// poisoned by a panicking thread is still safe to use.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The weight of `result` (its size as JSON), or `None` when it exceeds
/// `cap`. Counted without building the text, and abandoned at the cap.
fn weight_within(result: &DispatchResult, cap: usize) -> Option<usize> {
    struct Counter {
        bytes: usize,
        cap: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.bytes += buf.len();
            if self.bytes > self.cap {
                return Err(std::io::Error::other("over the cap"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { bytes: 0, cap };
    serde_json::to_writer(&mut counter, result).ok()?;
    Some(counter.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::path::PathBuf;
    use std::sync::Arc;

    /// A cache whose clock only moves when the test says so.
    fn cache_with_clock() -> (ResultCache, impl Fn(Duration)) {
        let now = Arc::new(Mutex::new(Instant::now()));
        let read = Arc::clone(&now);
        let cache = ResultCache::with_clock(Box::new(move || *read.lock().unwrap()));
        let advance = move |by: Duration| *now.lock().unwrap() += by;
        (cache, advance)
    }

    fn settings(ttl: u64, max_size: u64) -> CacheSettings {
        CacheSettings {
            ttl,
            max_size,
            ..CacheSettings::default()
        }
    }

    fn done(answer: &str) -> DispatchResult {
        DispatchResult {
            result: answer.into(),
            outcome: Some(Outcome::Done),
            ..DispatchResult::new("web", true)
        }
    }

    fn key(name: &str) -> CacheKey {
        let agent = Agent::new(PathBuf::from("/srv/web"));
        cache_key(&KeyInputs {
            task: name,
            ..base(&agent, &Settings::default())
        })
    }

    fn base<'a>(agent: &'a Agent, settings: &'a Settings) -> KeyInputs<'a> {
        KeyInputs {
            agent_name: "web",
            agent,
            settings,
            task: "list the routes",
            context: "",
            caller: "",
            goal: "",
            response_format: "",
            timeout_override: None,
        }
    }

    fn answer(cache: &ResultCache, key: &CacheKey, settings: &CacheSettings) -> Option<String> {
        cache.get(key, settings).map(|result| result.result)
    }

    #[test]
    fn key_is_stable_lowercase_hex_sha256() {
        let agent = Agent::new(PathBuf::from("/srv/web"));
        let settings = Settings::default();
        let first = cache_key(&base(&agent, &settings));
        let again = cache_key(&base(&agent.clone(), &settings.clone()));
        assert_eq!(first, again);
        assert_eq!(first.as_str().len(), 64);
        assert!(
            first
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[test]
    fn each_key_component_separates_entries() {
        let agent = Agent::new(PathBuf::from("/srv/web"));
        let settings = Settings::default();
        let with_agent = |change: fn(&mut Agent)| {
            let mut agent = agent.clone();
            change(&mut agent);
            cache_key(&base(&agent, &settings))
        };
        let with_settings = |change: fn(&mut Settings)| {
            let mut settings = settings.clone();
            change(&mut settings);
            cache_key(&base(&agent, &settings))
        };
        let with_call = |change: fn(&mut KeyInputs)| {
            let mut inputs = base(&agent, &settings);
            change(&mut inputs);
            cache_key(&inputs)
        };
        let keys = [
            cache_key(&base(&agent, &settings)),
            with_call(|i| i.agent_name = "api"),
            with_call(|i| i.task = "list the models"),
            with_call(|i| i.context = "staging"),
            with_call(|i| i.caller = "orchestrator"),
            with_call(|i| i.goal = "a map"),
            with_call(|i| i.response_format = "json"),
            with_call(|i| i.timeout_override = Some(60)),
            with_agent(|a| a.directory = PathBuf::from("/srv/api")),
            with_agent(|a| a.timeout = 60),
            with_agent(|a| a.max_budget_usd = Some(0.5)),
            with_agent(|a| a.model = Some("opus".into())),
            with_agent(|a| a.permission_mode = Some("plan".into())),
            with_agent(|a| a.allowed_tools = Some(vec![])),
            with_agent(|a| a.allowed_tools = Some(vec!["Read".into()])),
            with_agent(|a| a.disallowed_tools = Some(vec![])),
            with_agent(|a| a.instructions = "be brief".into()),
            with_settings(|s| s.default_timeout = 60),
            with_settings(|s| s.default_max_budget_usd = Some(0.5)),
            with_settings(|s| s.default_permission_mode = Some("plan".into())),
            with_settings(|s| s.default_allowed_tools = vec!["Read".into()]),
            with_settings(|s| s.default_disallowed_tools = vec!["Bash".into()]),
            with_settings(|s| s.max_dispatch_depth = 1),
            with_settings(|s| s.dispatch_protocol = false),
        ];
        let distinct: HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
    }

    #[test]
    fn fields_that_shape_no_prompt_or_argv_share_a_key() {
        let agent = Agent::new(PathBuf::from("/srv/web"));
        let defaults = Settings::default();
        let plain = cache_key(&base(&agent, &defaults));
        let mut labelled = agent.clone();
        labelled.description = "the web app".into();
        labelled.capabilities = vec!["frontend".into()];
        labelled.risky_capabilities = vec!["deploys".into()];
        let mut tuned = defaults.clone();
        tuned.max_concurrency = 1;
        tuned.cache = settings(60, 10);
        tuned.job_retention_days = 7;
        tuned.usage_log = false;
        assert_eq!(cache_key(&base(&labelled, &tuned)), plain);
    }

    #[test]
    fn absent_and_empty_caller_share_an_entry() {
        let agent = Agent::new(PathBuf::from("/srv/web"));
        let settings = Settings::default();
        let absent: Option<String> = None;
        let from_absent = cache_key(&KeyInputs {
            caller: absent.as_deref().unwrap_or_default(),
            ..base(&agent, &settings)
        });
        let from_empty = cache_key(&KeyInputs {
            caller: "",
            ..base(&agent, &settings)
        });
        assert_eq!(from_absent, from_empty);
    }

    #[test]
    fn non_utf8_directories_do_not_collide() {
        use std::ffi::OsStr;
        let settings = Settings::default();
        let one = Agent::new(PathBuf::from(OsStr::from_bytes(b"/srv/\xff")));
        let two = Agent::new(PathBuf::from(OsStr::from_bytes(b"/srv/\xfe")));
        assert_ne!(
            cache_key(&base(&one, &settings)),
            cache_key(&base(&two, &settings))
        );
    }

    #[test]
    fn oldest_insertion_is_evicted_at_max_size() {
        let cache = ResultCache::new();
        let config = settings(300, 2);
        for name in ["a", "b", "c"] {
            assert!(cache.put(&key(name), "web", &done(name), &config));
        }
        assert_eq!(answer(&cache, &key("a"), &config), None);
        assert_eq!(answer(&cache, &key("b"), &config).as_deref(), Some("b"));
        assert_eq!(answer(&cache, &key("c"), &config).as_deref(), Some("c"));
        assert_eq!(cache.stats(&config)["evictions"], 1);
    }

    #[test]
    fn refreshing_a_key_never_evicts_and_makes_it_newest() {
        let cache = ResultCache::new();
        let config = settings(300, 2);
        cache.put(&key("a"), "web", &done("a1"), &config);
        cache.put(&key("b"), "web", &done("b"), &config);
        cache.put(&key("a"), "web", &done("a2"), &config);
        assert_eq!(cache.stats(&config)["evictions"], 0);
        assert_eq!(cache.stats(&config)["size"], 2);
        assert_eq!(answer(&cache, &key("a"), &config).as_deref(), Some("a2"));
        cache.put(&key("c"), "web", &done("c"), &config);
        assert_eq!(answer(&cache, &key("b"), &config), None);
        assert_eq!(answer(&cache, &key("a"), &config).as_deref(), Some("a2"));
    }

    #[test]
    fn entries_expire_strictly_after_ttl_from_insertion() {
        let (cache, advance) = cache_with_clock();
        let config = settings(10, 100);
        cache.put(&key("a"), "web", &done("a"), &config);
        advance(Duration::from_secs(5));
        // Reading does not restart the age.
        assert!(cache.get(&key("a"), &config).is_some());
        advance(Duration::from_secs(5));
        assert!(cache.get(&key("a"), &config).is_some());
        advance(Duration::from_nanos(1));
        assert!(cache.get(&key("a"), &config).is_none());
        let stats = cache.stats(&config);
        assert_eq!(
            (stats["size"].clone(), stats["misses"].clone()),
            (json!(0), json!(1))
        );
    }

    #[test]
    fn refresh_restarts_the_age() {
        let (cache, advance) = cache_with_clock();
        let config = settings(10, 100);
        cache.put(&key("a"), "web", &done("a1"), &config);
        advance(Duration::from_secs(8));
        cache.put(&key("a"), "web", &done("a2"), &config);
        advance(Duration::from_secs(8));
        assert_eq!(answer(&cache, &key("a"), &config).as_deref(), Some("a2"));
    }

    #[test]
    fn stats_drop_expired_entries_without_counting_evictions() {
        let (cache, advance) = cache_with_clock();
        let config = settings(10, 100);
        cache.put(&key("old"), "web", &done("old"), &config);
        advance(Duration::from_secs(6));
        cache.put(&key("new"), "web", &done("new"), &config);
        advance(Duration::from_secs(6));
        let stats = cache.stats(&config);
        assert_eq!(stats["size"], 1);
        assert_eq!(stats["evictions"], 0);
        assert_eq!(stats["misses"], 0);
        assert_eq!(answer(&cache, &key("new"), &config).as_deref(), Some("new"));
    }

    #[test]
    fn invalidation_drops_only_the_named_agent() {
        let cache = ResultCache::new();
        let config = settings(300, 100);
        cache.put(&key("a"), "web", &done("a"), &config);
        cache.put(&key("b"), "api", &done("b"), &config);
        cache.put(&key("c"), "web", &done("c"), &config);
        assert_eq!(cache.invalidate_agent("web"), 2);
        assert_eq!(answer(&cache, &key("a"), &config), None);
        assert_eq!(answer(&cache, &key("c"), &config), None);
        assert_eq!(answer(&cache, &key("b"), &config).as_deref(), Some("b"));
        assert_eq!(cache.invalidate_agent("nobody"), 0);
    }

    #[test]
    fn degraded_results_are_not_stored_while_done_is() {
        let cache = ResultCache::new();
        let config = settings(300, 100);
        let degraded = [
            DispatchResult::new("web", false),
            DispatchResult {
                denied_tools: Some(vec!["Bash".into()]),
                ..done("denied")
            },
            DispatchResult {
                budget_exceeded: true,
                ..done("over budget")
            },
            DispatchResult {
                outcome: Some(Outcome::Partial),
                ..done("partial")
            },
            DispatchResult {
                outcome: Some(Outcome::Blocked),
                ..done("blocked")
            },
        ];
        for result in &degraded {
            assert!(!cache.put(&key("a"), "web", result, &config), "{result:?}");
        }
        assert_eq!(cache.stats(&config)["size"], 0);
        let clean = [
            done("done"),
            DispatchResult {
                outcome: None,
                ..done("no status line")
            },
            DispatchResult {
                denied_tools: Some(vec![]),
                ..done("nothing denied")
            },
        ];
        for result in &clean {
            assert!(cache.put(&key("a"), "web", result, &config), "{result:?}");
        }
    }

    #[test]
    fn disabled_cache_or_zero_ttl_stores_and_counts_nothing() {
        let cache = ResultCache::new();
        let off = CacheSettings {
            enabled: false,
            ..settings(300, 100)
        };
        assert!(!cache.put(&key("a"), "web", &done("a"), &off));
        assert!(!cache.put(&key("a"), "web", &done("a"), &settings(0, 100)));
        assert!(cache.get(&key("a"), &off).is_none());
        let stats = cache.stats(&settings(0, 100));
        assert_eq!(
            (stats["size"].clone(), stats["misses"].clone()),
            (json!(0), json!(0))
        );
    }

    #[test]
    fn disabling_keeps_entries_for_when_it_is_enabled_again() {
        let cache = ResultCache::new();
        let on = settings(300, 100);
        let off = CacheSettings {
            enabled: false,
            ..on.clone()
        };
        cache.put(&key("a"), "web", &done("a"), &on);
        assert!(cache.get(&key("a"), &off).is_none());
        assert_eq!(answer(&cache, &key("a"), &on).as_deref(), Some("a"));
    }

    #[test]
    fn changing_ttl_or_max_size_starts_over() {
        let cache = ResultCache::new();
        let first = settings(300, 100);
        cache.put(&key("a"), "web", &done("a"), &first);
        assert!(cache.get(&key("a"), &first).is_some());
        for changed in [settings(600, 100), settings(600, 50)] {
            assert!(cache.get(&key("a"), &changed).is_none());
            assert_eq!(cache.stats(&changed)["misses"], 1);
            cache.put(&key("a"), "web", &done("a"), &changed);
        }
    }

    #[test]
    fn get_hands_out_a_copy() {
        let cache = ResultCache::new();
        let config = settings(300, 100);
        cache.put(&key("a"), "web", &done("original"), &config);
        let mut copy = cache.get(&key("a"), &config).unwrap();
        copy.result.push_str(" and changed");
        assert_eq!(
            answer(&cache, &key("a"), &config).as_deref(),
            Some("original")
        );
    }

    #[test]
    fn clear_reports_removed_entries_and_resets_counters() {
        let cache = ResultCache::new();
        let config = settings(300, 1);
        cache.put(&key("a"), "web", &done("a"), &config);
        cache.put(&key("b"), "web", &done("b"), &config);
        cache.get(&key("b"), &config);
        cache.get(&key("a"), &config);
        assert_eq!(cache.clear(), 1);
        assert_eq!(
            cache.stats(&config).to_string(),
            r#"{"size":0,"max_size":1,"hits":0,"misses":0,"evictions":0,"hit_rate":0.0,"ttl":300,"bytes":0,"max_bytes":67108864,"max_entry_bytes":4194304}"#
        );
    }

    #[test]
    fn stats_have_the_original_shape_and_rounding() {
        let cache = ResultCache::new();
        let config = settings(300, 100);
        cache.put(&key("a"), "web", &done("a"), &config);
        cache.get(&key("a"), &config);
        cache.get(&key("a"), &config);
        cache.get(&key("missing"), &config);
        let stats = cache.stats(&config);
        let text = stats.to_string();
        // The original's keys first, in its order; our byte bounds after.
        assert!(
            text.starts_with(
                r#"{"size":1,"max_size":100,"hits":2,"misses":1,"evictions":0,"hit_rate":0.667,"ttl":300,"bytes":"#
            ),
            "{text}"
        );
        assert_eq!(
            stats["bytes"].as_u64(),
            weight_within(&done("a"), usize::MAX).map(|w| w as u64)
        );
    }

    #[test]
    fn usable_from_many_threads() {
        let cache = Arc::new(ResultCache::new());
        let config = settings(300, 1000);
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let (cache, config) = (Arc::clone(&cache), config.clone());
                std::thread::spawn(move || {
                    for round in 0..50 {
                        let k = key(&format!("{worker}-{round}"));
                        cache.put(&k, "web", &done("x"), &config);
                        assert!(cache.get(&k, &config).is_some());
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(cache.stats(&config)["size"], 200);
    }

    #[test]
    fn results_over_the_entry_cap_are_not_stored() {
        let cache = ResultCache::new();
        let config = settings(300, 100);
        let huge = done(&"x".repeat(MAX_ENTRY_BYTES));
        assert!(!cache.put(&key("huge"), "web", &huge, &config));
        assert_eq!(cache.stats(&config)["size"], 0);
        assert_eq!(cache.stats(&config)["bytes"], 0);
    }

    #[test]
    fn the_byte_budget_evicts_the_oldest_entries() {
        let cache = ResultCache::new();
        let config = settings(300, 1000);
        let big = "y".repeat(MAX_ENTRY_BYTES - 1024);
        let fit = MAX_TOTAL_BYTES / MAX_ENTRY_BYTES;
        for n in 0..fit + 3 {
            assert!(cache.put(&key(&n.to_string()), "web", &done(&big), &config));
        }
        let stats = cache.stats(&config);
        assert!(
            stats["bytes"].as_u64().unwrap() <= MAX_TOTAL_BYTES as u64,
            "{stats}"
        );
        let kept = stats["size"].as_u64().unwrap() as usize;
        assert!(kept < fit + 3 && kept >= fit - 1, "{stats}");
        assert_eq!(
            stats["evictions"].as_u64().unwrap() as usize,
            fit + 3 - kept
        );
        assert!(
            answer(&cache, &key("0"), &config).is_none(),
            "the oldest went first"
        );
        assert!(answer(&cache, &key(&(fit + 2).to_string()), &config).is_some());
        assert_eq!(cache.clear(), kept);
        assert_eq!(cache.stats(&config)["bytes"], 0);
    }
}
