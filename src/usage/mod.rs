//! The usage journal: one JSON line per dispatch (and per cache hit) in
//! `usage.jsonl`, appended without locks by every server and CLI process
//! (`journal`), read back from the tails of its two generations (`read`),
//! and aggregated into the `stats` report and the per-agent `typical`
//! profiles that `list_agents`, `inspect_agent` and the timeout hint show
//! (`summary`). Bookkeeping only: nothing here may fail a dispatch, and
//! nothing here knows about MCP or the CLI.

pub mod journal;
pub mod read;
pub mod summary;

pub use journal::{Record, append};
pub use read::{Entry, Query, ReadError, load};
pub use summary::{Profile, Profiles, Stats, Summary, suggested_timeout, summarize};

/// The timeout that `agent`'s recorded runs suggest (p90 × 1.5), if it has
/// enough of them.
pub fn measured_timeout(
    profiles: &Profiles,
    journal: &std::path::Path,
    agent: &str,
) -> Option<u64> {
    profiles.get(journal).get(agent).and_then(suggested_timeout)
}
