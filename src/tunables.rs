//! Bounds that exist to wait out a slow world — how long to wait for a
//! lock another process holds, how long a `doctor` probe may take, the
//! shortest per-call dispatch timeout — and that the test suite shortens
//! so it does not spend minutes waiting them out. In debug builds an
//! environment variable may shorten each (never lengthen it); release
//! builds always use the defaults, so nothing a user sets can change them.

use std::time::Duration;

/// `name`'s value in milliseconds in a debug build, at most `default`;
/// else `default`.
pub fn duration(name: &str, default: Duration) -> Duration {
    override_of(name).map_or(default, |ms| Duration::from_millis(ms).min(default))
}

/// `name`'s whole-number value in a debug build, at most `default`; else
/// `default`.
pub fn count(name: &str, default: u64) -> u64 {
    override_of(name).map_or(default, |n| n.min(default))
}

#[cfg(debug_assertions)]
fn override_of(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

#[cfg(not(debug_assertions))]
fn override_of(_name: &str) -> Option<u64> {
    None
}
