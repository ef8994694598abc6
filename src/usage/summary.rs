//! Turning journal entries into numbers: the `stats` report (`summarize`:
//! totals plus one `Stats` per agent), the per-agent `Profile` behind
//! `typical` in `list_agents` / `inspect_agent` (memoized by `Profiles`),
//! and the timeout suggested when a dispatch times out. The rules are the
//! original's: implausible durations and costs are discarded so sums stay
//! finite, percentiles are nearest-rank with Python's round-half-to-even,
//! money is summed exactly and rounded to 4 decimals.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Number, Value};

use super::journal::CANCELLED_ERR;
use super::read::{Entry, PROFILE_TAIL_BYTES, Query, load};
use crate::pyvalue;
use crate::state::stamp::FileStamp;

/// Durations at or above this (about 11.6 days) are not believed.
const MAX_PLAUSIBLE_MS: f64 = 1e9;
/// Costs at or above this are not believed.
const MAX_PLAUSIBLE_COST: f64 = 1e6;
/// An agent needs this many live dispatches for a profile.
pub const PROFILE_MIN_DISPATCHES: u64 = 3;

/// The figures of one group of entries (all of them, or one agent's).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stats {
    /// Runs of `claude` (entries not served from the cache).
    pub dispatches: u64,
    pub cached_hits: u64,
    pub ok: u64,
    pub failed: u64,
    /// Runs the caller or a server's exit stopped: neither ok nor failed,
    /// and not part of the duration and cost figures.
    pub cancelled: u64,
    /// Exact sum of the plausible costs, rounded to 4 decimals.
    pub cost_usd: f64,
    /// Present together, when any run has a plausible duration.
    pub median_ms: Option<u64>,
    pub p90_ms: Option<u64>,
    pub max_ms: Option<u64>,
    /// Present together, when any run has a plausible cost.
    pub median_cost_usd: Option<f64>,
    pub max_cost_usd: Option<f64>,
    /// Counts by `outcome` / `err` string, of every entry.
    pub outcomes: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
}

impl Stats {
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Stats {
        let mut stats = Stats::default();
        let mut durations = Vec::new();
        let mut costs = Vec::new();
        for entry in entries {
            if let Some(outcome) = &entry.outcome {
                *stats.outcomes.entry(outcome.clone()).or_default() += 1;
            }
            if let Some(err) = &entry.err {
                *stats.errors.entry(err.clone()).or_default() += 1;
            }
            if entry.cached {
                stats.cached_hits += 1;
                continue;
            }
            if entry.err.as_deref() == Some(CANCELLED_ERR) {
                stats.cancelled += 1;
                continue;
            }
            stats.dispatches += 1;
            stats.ok += u64::from(entry.ok);
            durations.extend(entry.ms.filter(|ms| (0.0..MAX_PLAUSIBLE_MS).contains(ms)));
            costs.extend(
                entry
                    .cost
                    .filter(|cost| (0.0..MAX_PLAUSIBLE_COST).contains(cost)),
            );
        }
        stats.failed = stats.dispatches - stats.ok;
        stats.cost_usd = pyvalue::round(exact_sum(&costs), 4);
        durations.sort_by(f64::total_cmp);
        costs.sort_by(f64::total_cmp);
        let whole_ms = |ms: f64| ms.round_ties_even() as u64;
        stats.median_ms = percentile(&durations, 50.0).map(whole_ms);
        stats.p90_ms = percentile(&durations, 90.0).map(whole_ms);
        stats.max_ms = durations.last().copied().map(whole_ms);
        let money = |cost: f64| pyvalue::round(cost, 4);
        stats.median_cost_usd = percentile(&costs, 50.0).map(money);
        stats.max_cost_usd = costs.last().copied().map(money);
        stats
    }

    /// The JSON object of `stats --json`; optional figures only when known.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("dispatches".into(), self.dispatches.into());
        object.insert("cached_hits".into(), self.cached_hits.into());
        object.insert("ok".into(), self.ok.into());
        object.insert("failed".into(), self.failed.into());
        if self.cancelled > 0 {
            object.insert("cancelled".into(), self.cancelled.into());
        }
        object.insert("cost_usd".into(), finite(self.cost_usd));
        let optional = [
            ("median_ms", self.median_ms.map(Value::from)),
            ("p90_ms", self.p90_ms.map(Value::from)),
            ("max_ms", self.max_ms.map(Value::from)),
            ("median_cost_usd", self.median_cost_usd.map(finite)),
            ("max_cost_usd", self.max_cost_usd.map(finite)),
            ("outcomes", counts_json(&self.outcomes)),
            ("errors", counts_json(&self.errors)),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                object.insert(key.into(), value);
            }
        }
        Value::Object(object)
    }
}

/// A JSON number. Every figure here comes from values bounded on input, so
/// a non-finite one cannot occur; `null` is the defensive answer.
fn finite(value: f64) -> Value {
    Number::from_f64(value).map_or(Value::Null, Value::Number)
}

fn counts_json(counts: &BTreeMap<String, u64>) -> Option<Value> {
    (!counts.is_empty()).then(|| {
        Value::Object(
            counts
                .iter()
                .map(|(key, count)| (key.clone(), Value::from(*count)))
                .collect(),
        )
    })
}

/// The nearest-rank percentile of ascending `sorted` values: the element
/// at `round(pct/100·n + 0.5) − 1`, rounding half to even as Python does —
/// the median of 8 values is the 4th, of 2 values the 2nd.
pub fn percentile(sorted: &[f64], pct: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = (pct / 100.0 * sorted.len() as f64 + 0.5).round_ties_even();
    let index = (rank - 1.0).clamp(0.0, last as f64) as usize;
    sorted.get(index).copied()
}

/// The correctly rounded sum of `values` (Python's `math.fsum`): partial
/// sums kept exactly (Shewchuk), so many small costs do not drift.
fn exact_sum(values: &[f64]) -> f64 {
    let mut partials: Vec<f64> = Vec::new();
    for &value in values {
        let mut x = value;
        let mut kept = 0;
        for i in 0..partials.len() {
            let mut y = partials[i];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let high = x + y;
            let low = y - (high - x);
            if low != 0.0 {
                partials[kept] = low;
                kept += 1;
            }
            x = high;
        }
        partials.truncate(kept);
        partials.push(x);
    }
    // Add the partials from the largest down; stop once the result is
    // exact, and correct a half-way case as fsum does.
    let Some(mut high) = partials.pop() else {
        return 0.0;
    };
    let mut low = 0.0;
    while let Some(next) = partials.pop() {
        let x = high;
        let y = next;
        high = x + y;
        let y_rounded = high - x;
        low = y - y_rounded;
        if low != 0.0 {
            break;
        }
    }
    if let Some(&next) = partials.last()
        && ((low < 0.0 && next < 0.0) || (low > 0.0 && next > 0.0))
    {
        let y = low * 2.0;
        let x = high + y;
        if y == x - high {
            high = x;
        }
    }
    high
}

/// The `stats` report: totals and one `Stats` per agent, agents ordered by
/// spend (highest first), then dispatches (most first), then name.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub total: Stats,
    pub agents: Vec<(String, Stats)>,
}

impl Summary {
    pub fn to_json(&self) -> Value {
        let agents: Map<String, Value> = self
            .agents
            .iter()
            .map(|(name, stats)| (name.clone(), stats.to_json()))
            .collect();
        let mut object = Map::new();
        object.insert("total".into(), self.total.to_json());
        object.insert("agents".into(), Value::Object(agents));
        Value::Object(object)
    }
}

pub fn summarize(entries: &[Entry]) -> Summary {
    let mut by_agent: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for entry in entries {
        by_agent.entry(&entry.agent).or_default().push(entry);
    }
    let mut agents: Vec<(String, Stats)> = by_agent
        .into_iter()
        .map(|(name, entries)| (name.to_owned(), Stats::of(entries)))
        .collect();
    // The map already sorted by name; a stable sort keeps that as the last
    // tie-break.
    agents.sort_by(|(_, a), (_, b)| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then(b.dispatches.cmp(&a.dispatches))
    });
    Summary {
        total: Stats::of(entries),
        agents,
    }
}

/// What an agent's recent runs typically look like.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub dispatches: u64,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
    pub median_cost_usd: Option<f64>,
    pub failed: u64,
    pub outcomes: BTreeMap<String, u64>,
}

impl Profile {
    /// The profile of an agent's `stats`; `None` below
    /// `PROFILE_MIN_DISPATCHES` live dispatches. The typical figures come
    /// from `succeeded`, the stats of its successful runs only: a run that
    /// failed at once (not logged in, say) says nothing about how long the
    /// agent's work takes.
    pub fn from_stats(stats: &Stats, succeeded: &Stats) -> Option<Profile> {
        if stats.dispatches < PROFILE_MIN_DISPATCHES {
            return None;
        }
        let seconds = |ms: u64| pyvalue::round(ms as f64 / 1000.0, 1);
        Some(Profile {
            dispatches: stats.dispatches,
            median_seconds: succeeded.median_ms.map(seconds),
            p90_seconds: succeeded.p90_ms.map(seconds),
            median_cost_usd: succeeded.median_cost_usd,
            failed: stats.failed,
            outcomes: stats.outcomes.clone(),
        })
    }

    /// The full profile, for `inspect_agent`: `failed` only when non-zero,
    /// `outcomes` only when any.
    pub fn full_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("dispatches".into(), self.dispatches.into());
        self.insert_typical(&mut object);
        if self.failed > 0 {
            object.insert("failed".into(), self.failed.into());
        }
        if let Some(outcomes) = counts_json(&self.outcomes) {
            object.insert("outcomes".into(), outcomes);
        }
        Value::Object(object)
    }

    /// `typical` for `list_agents`: median and p90 seconds and median cost,
    /// those that are known; `None` when none is.
    pub fn typical_json(&self) -> Option<Value> {
        let mut object = Map::new();
        self.insert_typical(&mut object);
        (!object.is_empty()).then_some(Value::Object(object))
    }

    fn insert_typical(&self, object: &mut Map<String, Value>) {
        let figures = [
            ("median_seconds", self.median_seconds),
            ("p90_seconds", self.p90_seconds),
            ("median_cost_usd", self.median_cost_usd),
        ];
        for (key, value) in figures {
            if let Some(value) = value {
                object.insert(key.into(), finite(value));
            }
        }
    }
}

/// One profile per agent with enough live dispatches among `entries`.
pub fn profiles(entries: &[Entry]) -> HashMap<String, Profile> {
    summarize(entries)
        .agents
        .into_iter()
        .filter_map(|(name, stats)| {
            let succeeded = Stats::of(entries.iter().filter(|e| e.ok && e.agent == name));
            Profile::from_stats(&stats, &succeeded).map(|profile| (name, profile))
        })
        .collect()
}

/// The timeout to suggest after a timeout: the agent's p90 with half again
/// as headroom, rounded up to a multiple of 30 seconds, at least 30.
/// `None` without a profile or without durations in it.
pub fn suggested_timeout(profile: &Profile) -> Option<u64> {
    let padded = profile.p90_seconds? * 1.5;
    // The original's floor((padded + 29) / 30): rounds integral values up
    // to a multiple of 30.
    let steps = ((padded + 29.0) / 30.0).floor().max(0.0);
    Some((steps as u64).saturating_mul(30).max(30))
}

/// What identifies one state of the journal: any append changes the size.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JournalState {
    path: PathBuf,
    stamp: FileStamp,
}

impl JournalState {
    fn of(journal: &Path) -> Option<JournalState> {
        Some(JournalState {
            path: journal.to_path_buf(),
            stamp: FileStamp::of(journal).ok().flatten()?,
        })
    }
}

/// The per-agent profiles of a journal, recomputed only when the journal
/// changed. Shared between threads (the MCP worker pool).
#[derive(Debug, Default)]
pub struct Profiles {
    memo: Mutex<Option<Memo>>,
}

/// The profiles computed for one state of the journal.
#[derive(Debug)]
struct Memo {
    state: JournalState,
    profiles: Arc<HashMap<String, Profile>>,
}

impl Profiles {
    pub fn new() -> Profiles {
        Profiles::default()
    }

    /// The profiles from the last `PROFILE_TAIL_BYTES` of each generation
    /// of `journal`. A missing or unreadable journal gives no profiles.
    pub fn get(&self, journal: &Path) -> Arc<HashMap<String, Profile>> {
        let Some(state) = JournalState::of(journal) else {
            return Arc::default();
        };
        if let Some(memo) = &*self.lock()
            && memo.state == state
        {
            return Arc::clone(&memo.profiles);
        }
        // Computed without the lock: a slow disk must not stall the other
        // workers, and two threads computing the same thing is harmless. The
        // state was taken before the read, so a concurrent append can only
        // cause one extra recomputation, never a stale answer.
        let query = Query {
            max_bytes: PROFILE_TAIL_BYTES,
            ..Query::default()
        };
        let computed = Arc::new(
            load(journal, &query).map_or_else(|_| HashMap::new(), |entries| profiles(&entries)),
        );
        *self.lock() = Some(Memo {
            state,
            profiles: Arc::clone(&computed),
        });
        computed
    }

    fn lock(&self) -> MutexGuard<'_, Option<Memo>> {
        self.memo.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(agent: &str, ms: f64, cost: f64) -> Entry {
        Entry {
            t: 0.0,
            agent: agent.into(),
            ok: true,
            cached: false,
            cost: Some(cost),
            ms: Some(ms),
            outcome: None,
            err: None,
        }
    }

    fn hit(agent: &str) -> Entry {
        Entry {
            cached: true,
            cost: None,
            ms: None,
            ..run(agent, 0.0, 0.0)
        }
    }

    fn values(n: usize) -> Vec<f64> {
        (1..=n).map(|i| i as f64).collect()
    }

    #[test]
    fn percentile_is_nearest_rank_with_half_to_even() {
        assert_eq!(percentile(&values(8), 50.0), Some(4.0));
        assert_eq!(percentile(&values(2), 50.0), Some(2.0));
        assert_eq!(percentile(&values(10), 90.0), Some(10.0));
        assert_eq!(percentile(&values(1), 90.0), Some(1.0));
        assert_eq!(percentile(&values(3), 50.0), Some(2.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn cache_hits_count_apart_from_dispatches() {
        let mut failed = run("a", 100.0, 0.5);
        failed.ok = false;
        let stats = Stats::of(&[run("a", 100.0, 0.5), failed, hit("a")]);
        assert_eq!(
            (stats.dispatches, stats.cached_hits, stats.ok, stats.failed),
            (2, 1, 1, 1)
        );
        assert_eq!(stats.cost_usd, 1.0);
    }

    #[test]
    fn implausible_durations_and_costs_are_discarded() {
        let stats = Stats::of(&[
            run("a", -1.0, -0.5),
            run("a", 1e9, 1e6),
            run("a", 250.0, 0.25),
        ]);
        assert_eq!(stats.dispatches, 3);
        assert_eq!(
            (stats.median_ms, stats.p90_ms, stats.max_ms),
            (Some(250), Some(250), Some(250))
        );
        assert_eq!(stats.cost_usd, 0.25);
        assert_eq!(stats.max_cost_usd, Some(0.25));
    }

    #[test]
    fn figures_without_data_are_absent_from_json() {
        let stats = Stats::of(&[hit("a")]);
        assert_eq!(
            stats.to_json().to_string(),
            r#"{"dispatches":0,"cached_hits":1,"ok":0,"failed":0,"cost_usd":0.0}"#
        );
    }

    #[test]
    fn outcomes_and_errors_are_counted_and_sorted() {
        let mut a = run("a", 1.0, 0.0);
        a.outcome = Some("partial".into());
        a.err = Some("timeout".into());
        let mut b = run("a", 1.0, 0.0);
        b.outcome = Some("done".into());
        let json = Stats::of(&[a, b.clone(), b]).to_json();
        assert_eq!(json["outcomes"].to_string(), r#"{"done":2,"partial":1}"#);
        assert_eq!(json["errors"].to_string(), r#"{"timeout":1}"#);
    }

    #[test]
    fn money_is_summed_exactly_and_rounded_to_four_decimals() {
        let entries: Vec<Entry> = (0..10).map(|_| run("a", 1.0, 0.1)).collect();
        assert_eq!(Stats::of(&entries).cost_usd, 1.0);
        assert_eq!(exact_sum(&[1e16, 1.0, -1e16]), 1.0);
        assert_eq!(exact_sum(&[0.1; 10]), 1.0);
        assert_eq!(
            Stats::of(&[run("a", 1.0, 0.123_456)]).median_cost_usd,
            Some(0.1235)
        );
    }

    #[test]
    fn agents_ordered_by_spend_then_dispatches_then_name() {
        let summary = summarize(&[
            run("cheap", 1.0, 0.01),
            run("zeta", 1.0, 0.0),
            run("alpha", 1.0, 0.0),
            run("busy", 1.0, 0.0),
            run("busy", 1.0, 0.0),
            run("dear", 1.0, 2.0),
        ]);
        let names: Vec<&str> = summary.agents.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["dear", "cheap", "busy", "alpha", "zeta"]);
        assert_eq!(summary.total.dispatches, 6);
    }

    #[test]
    fn profile_needs_three_live_dispatches() {
        let entries = [
            run("few", 1.0, 0.0),
            run("few", 1.0, 0.0),
            hit("few"),
            run("many", 1000.0, 0.1),
            run("many", 2000.0, 0.2),
            run("many", 64_250.0, 0.3),
        ];
        let profiles = profiles(&entries);
        assert!(!profiles.contains_key("few"));
        let many = &profiles["many"];
        assert_eq!(many.dispatches, 3);
        assert_eq!(many.median_seconds, Some(2.0));
        assert_eq!(many.p90_seconds, Some(64.2)); // 64.25 → half to even
        assert_eq!(many.median_cost_usd, Some(0.2));
    }

    #[test]
    fn typical_figures_come_from_successful_runs_only() {
        let mut instant_failure = run("api", 100.0, 0.0);
        instant_failure.ok = false;
        let entries = [
            instant_failure.clone(),
            instant_failure.clone(),
            instant_failure,
            run("api", 60_000.0, 0.5),
        ];
        let api = &profiles(&entries)["api"];
        assert_eq!((api.dispatches, api.failed), (4, 3));
        assert_eq!(api.median_seconds, Some(60.0), "not the 0.1 s failures");
        assert_eq!(api.median_cost_usd, Some(0.5));
        let mut all_failed = entries[..3].to_vec();
        all_failed.iter_mut().for_each(|e| e.agent = "web".into());
        assert_eq!(profiles(&all_failed)["web"].typical_json(), None);
    }

    #[test]
    fn cancelled_runs_are_neither_ok_nor_failed_nor_typical() {
        let mut cancelled = run("api", 5.0, 0.0);
        cancelled.ok = false;
        cancelled.err = Some(CANCELLED_ERR.into());
        let stats = Stats::of(&[cancelled.clone(), cancelled, run("api", 2000.0, 0.1)]);
        assert_eq!(
            (stats.dispatches, stats.ok, stats.failed, stats.cancelled),
            (1, 1, 0, 2)
        );
        assert_eq!(stats.median_ms, Some(2000));
        assert_eq!(stats.to_json()["cancelled"], 2);
    }

    #[test]
    fn profile_json_shows_only_what_is_known() {
        let mut failed = run("a", 1500.0, 0.0);
        failed.ok = false;
        failed.outcome = Some("blocked".into());
        let entries = [failed, run("a", 1500.0, 0.0), run("a", 1500.0, 0.0)];
        let profile = Profile::from_stats(
            &Stats::of(&entries),
            &Stats::of(entries.iter().filter(|e| e.ok)),
        )
        .unwrap();
        assert_eq!(
            profile.full_json().to_string(),
            r#"{"dispatches":3,"median_seconds":1.5,"p90_seconds":1.5,"median_cost_usd":0.0,"failed":1,"outcomes":{"blocked":1}}"#
        );
        assert_eq!(
            profile.typical_json().unwrap().to_string(),
            r#"{"median_seconds":1.5,"p90_seconds":1.5,"median_cost_usd":0.0}"#
        );
        let bare = Profile {
            dispatches: 3,
            median_seconds: None,
            p90_seconds: None,
            median_cost_usd: None,
            failed: 0,
            outcomes: BTreeMap::new(),
        };
        assert_eq!(bare.full_json().to_string(), r#"{"dispatches":3}"#);
        assert_eq!(bare.typical_json(), None);
    }

    fn profile_with_p90(p90_seconds: Option<f64>) -> Profile {
        Profile {
            dispatches: 3,
            median_seconds: p90_seconds,
            p90_seconds,
            median_cost_usd: None,
            failed: 0,
            outcomes: BTreeMap::new(),
        }
    }

    #[test]
    fn suggested_timeout_pads_p90_by_half_to_a_multiple_of_thirty() {
        let suggest = |p90| suggested_timeout(&profile_with_p90(Some(p90)));
        assert_eq!(suggest(100.0), Some(150));
        assert_eq!(suggest(0.5), Some(30));
        assert_eq!(suggest(20.0), Some(30));
        assert_eq!(suggest(21.0), Some(60)); // 31.5 s
        assert_eq!(suggest(200.0), Some(300));
        assert_eq!(suggested_timeout(&profile_with_p90(None)), None);
    }

    #[test]
    fn profiles_are_recomputed_after_an_append() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("usage.jsonl");
        let memo = Profiles::new();
        assert!(memo.get(&journal).is_empty());
        let line = "{\"t\":1,\"agent\":\"web\",\"ok\":true,\"ms\":1000}\n";
        std::fs::write(&journal, line.repeat(3)).unwrap();
        let first = memo.get(&journal);
        assert_eq!(first["web"].dispatches, 3);
        assert!(Arc::ptr_eq(&first, &memo.get(&journal)));
        std::fs::write(&journal, line.repeat(4)).unwrap();
        assert_eq!(memo.get(&journal)["web"].dispatches, 4);
    }

    #[test]
    fn corrupt_journal_gives_empty_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("usage.jsonl");
        std::fs::write(&journal, b"\xff\xfe garbage\n{not json\n[]\n").unwrap();
        assert!(Profiles::new().get(&journal).is_empty());
        // A directory where the journal should be cannot be read at all.
        std::fs::create_dir(dir.path().join("dir.jsonl")).unwrap();
        assert!(
            Profiles::new()
                .get(&dir.path().join("dir.jsonl"))
                .is_empty()
        );
    }
}
