//! `cache_stats` and `cache_clear`: the per-server result cache that
//! `dispatch` answers repeated identical questions from.

use serde_json::json;

use super::args::ArgError;
use super::params;
use super::{Body, Call, Kind, Tool, ToolResult};
use crate::config::Config;

pub fn tools() -> Vec<Tool> {
    vec![
        Tool {
            name: "cache_stats",
            description: "The result cache: entries, hits, misses, evictions, hit rate, TTL.",
            params: params::NONE,
            kind: Kind::ReadOnly,
            body: Body::Run(cache_stats),
        },
        Tool {
            name: "cache_clear",
            description: "Empty the result cache.",
            params: params::NONE,
            kind: Kind::Destructive,
            body: Body::Run(cache_clear),
        },
    ]
}

fn cache_stats(call: Call) -> Result<ToolResult, ArgError> {
    with_enabled_cache(call, |call, config| {
        ToolResult::ok(call.state.cache.stats(&config.settings.cache))
    })
}

fn cache_clear(call: Call) -> Result<ToolResult, ArgError> {
    with_enabled_cache(call, |call, _| {
        ToolResult::ok(json!({"cleared": call.state.cache.clear()}))
    })
}

/// Runs `answer` once the call has no arguments, the config loads and the
/// cache is on; otherwise returns the envelope that says which is not so.
fn with_enabled_cache(
    call: Call,
    answer: impl FnOnce(&Call, &Config) -> ToolResult,
) -> Result<ToolResult, ArgError> {
    call.args.finish()?;
    let config = match call.config() {
        Ok(config) => config,
        Err(envelope) => return Ok(envelope),
    };
    if !config.settings.cache.enabled {
        return Ok(ToolResult::ok(
            json!({"enabled": false, "message": "Cache is disabled in settings"}),
        ));
    }
    Ok(answer(&call, &config))
}
