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

/// `x` rounded to `digits` decimals the way Python's `round(x, digits)`
/// does: to the nearest representable decimal, ties to even. Formatting
/// with a precision rounds the exact binary value correctly, which is what
/// Python does too; non-finite values come back unchanged.
pub(crate) fn round_decimal(x: f64, digits: usize) -> f64 {
    if !x.is_finite() {
        return x;
    }
    format!("{x:.digits$}").parse().unwrap_or(x)
}

/// The timeout that `agent`'s recorded runs suggest (p90 × 1.5), if it has
/// enough of them.
pub fn measured_timeout(
    profiles: &Profiles,
    journal: &std::path::Path,
    agent: &str,
) -> Option<u64> {
    profiles.get(journal).get(agent).and_then(suggested_timeout)
}

#[cfg(test)]
mod tests {
    use super::round_decimal;

    #[test]
    fn round_decimal_matches_python_round() {
        assert_eq!(round_decimal(0.123_456_789, 6), 0.123_457);
        assert_eq!(round_decimal(1.000_05, 4), 1.0001); // 1.00005 is 1.0000500…01
        assert_eq!(round_decimal(2.675, 2), 2.67); // 2.675 is 2.67499… in binary
        assert_eq!(round_decimal(0.125, 2), 0.12); // an exact tie goes to even
        assert_eq!(round_decimal(-0.0, 4), 0.0);
    }
}
