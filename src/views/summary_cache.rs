//! Remembers each agent's `list_agents` entry between calls of a long-lived
//! server, and rebuilds it only when something it shows could have changed:
//! the agent's config, the project directory's entries (its mtime moves
//! when a file is created, removed or renamed in it) or the MCP config
//! files whose contents it reads (those of the agent's backend). A few
//! `stat`s per agent replace a directory listing, file reads and JSON
//! parsing.
//!
//! Stamps younger than two seconds are not trusted (file times are
//! coarse). Not noticed: a symlinked file at the top of a project whose target
//! appears or disappears without the directory itself changing.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use crate::config::project::{AgentFiles, McpConfig};
use crate::config::{Agent, BackendName, Settings};
use crate::runner::backends;
use crate::state::stamp::FileStamp;

#[derive(Debug, Clone, PartialEq, Eq)]
struct ProjectStamp {
    directory: FileStamp,
    /// One per MCP config file of the backend, in its order.
    mcp_configs: Vec<Option<FileStamp>>,
}

/// A stamp younger than this is never trusted for a cache entry (see
/// `FileStamp::settled`).
const SETTLE: Duration = Duration::from_secs(2);

impl ProjectStamp {
    fn settled(&self) -> bool {
        std::iter::once(&self.directory)
            .chain(self.mcp_configs.iter().flatten())
            .all(|stamp| stamp.settled(SETTLE))
    }
}

/// `None` when the directory is not there: such entries are cheap to build
/// and are never cached.
fn project_stamp(directory: &Path, files: &AgentFiles) -> Option<ProjectStamp> {
    let meta = fs::metadata(directory).ok().filter(fs::Metadata::is_dir)?;
    let stamp = |config: &McpConfig| FileStamp::of(&directory.join(config.path())).ok().flatten();
    Some(ProjectStamp {
        directory: FileStamp::from_metadata(&meta),
        mcp_configs: files.mcp_configs.iter().map(stamp).collect(),
    })
}

#[derive(Default)]
pub struct SummaryCache {
    /// By name: the agent and the backend it resolved to (the entry shows
    /// it, and the settings may choose it), the project's stamp, the entry.
    entries: Mutex<HashMap<String, (Agent, BackendName, ProjectStamp, Value)>>,
}

impl SummaryCache {
    pub fn new() -> SummaryCache {
        SummaryCache::default()
    }

    /// The `list_agents` entry of `name`, from the cache when still valid.
    pub fn summary(&self, name: &str, agent: &Agent, settings: &Settings) -> Value {
        let files = backends::of(agent, settings).project_files();
        // A remote project is surveyed on its host, with a cache of its own.
        let stamp = match agent.is_remote() {
            true => None,
            false => project_stamp(&agent.directory, &files),
        };
        let Some(stamp) = stamp else {
            return super::agents::summary(name, agent, settings);
        };
        let backend = agent.backend_name(settings);
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((seen_agent, seen_backend, seen_stamp, value)) = entries.get(name)
            && seen_agent == agent
            && *seen_backend == backend
            && *seen_stamp == stamp
        {
            return value.clone();
        }
        drop(entries);
        let value = super::agents::summary(name, agent, settings);
        if stamp.settled() {
            self.entries
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(
                    name.to_owned(),
                    (agent.clone(), backend, stamp, value.clone()),
                );
        }
        value
    }

    /// Drops entries of agents no longer configured.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|name, _| keep(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_rebuilt_when_the_project_or_the_agent_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        let cache = SummaryCache::new();
        let mut agent = Agent::new(dir.clone());
        assert_eq!(
            cache.summary("a", &agent, &Settings::default())["has_claude_md"],
            false
        );
        std::fs::write(dir.join("CLAUDE.md"), "x").unwrap();
        assert_eq!(
            cache.summary("a", &agent, &Settings::default())["has_claude_md"],
            true,
            "a new file changes the directory"
        );
        std::fs::write(dir.join(".mcp.json"), r#"{"mcpServers": {"db": {}}}"#).unwrap();
        assert_eq!(
            cache.summary("a", &agent, &Settings::default())["mcp_servers"],
            serde_json::json!(["db"])
        );
        // Rewritten in place: the directory is unchanged, the file is not.
        std::fs::write(
            dir.join(".mcp.json"),
            r#"{"mcpServers": {"db": {}, "logs": {}}}"#,
        )
        .unwrap();
        assert_eq!(
            cache.summary("a", &agent, &Settings::default())["mcp_servers"],
            serde_json::json!(["db", "logs"])
        );
        agent.description = "changed".into();
        assert_eq!(
            cache.summary("a", &agent, &Settings::default())["description"],
            "changed"
        );
    }

    #[test]
    fn settled_projects_are_cached_and_fresh_ones_are_not() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        let cache = SummaryCache::new();
        let agent = Agent::new(dir.clone());
        cache.summary("a", &agent, &Settings::default());
        assert!(
            cache.entries.lock().unwrap().is_empty(),
            "a just-changed directory is not trusted"
        );
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::open(&dir)
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();
        cache.summary("a", &agent, &Settings::default());
        assert_eq!(cache.entries.lock().unwrap().len(), 1);
        cache.retain(|name| name != "a");
        assert!(cache.entries.lock().unwrap().is_empty());
    }
}
