//! Where this tool's files live, from the environment, exactly as the
//! original resolves them: `~/.config/agent-dispatch/agents.yaml` unless
//! `AGENT_DISPATCH_CONFIG` names another file, and the jobs, usage journal
//! and server registry beside the config unless their own variables say
//! otherwise. An empty variable counts as unset.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::directory;

pub const CONFIG_ENV: &str = "AGENT_DISPATCH_CONFIG";
pub const JOBS_DIR_ENV: &str = "AGENT_DISPATCH_JOBS_DIR";
pub const USAGE_LOG_ENV: &str = "AGENT_DISPATCH_USAGE_LOG";
pub const SERVERS_DIR_ENV: &str = "AGENT_DISPATCH_SERVERS_DIR";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub config: PathBuf,
    /// The `flock` target that serializes config mutations.
    pub config_lock: PathBuf,
    pub jobs_dir: PathBuf,
    pub usage_log: PathBuf,
    pub servers_dir: PathBuf,
}

impl Paths {
    pub fn from_env() -> Paths {
        Paths::resolve(|name| std::env::var_os(name), directory::current_home())
    }

    /// Resolves against an explicit environment lookup and home directory.
    pub fn resolve(var: impl Fn(&str) -> Option<OsString>, home: Option<PathBuf>) -> Paths {
        let set = |name: &str| {
            var(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        };
        let config = set(CONFIG_ENV).unwrap_or_else(|| {
            home.clone()
                .unwrap_or_else(|| PathBuf::from("/"))
                .join(".config/agent-dispatch/agents.yaml")
        });
        let config_dir = config
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let jobs_dir = set(JOBS_DIR_ENV)
            .map(|dir| expand_home(&dir, home.as_deref()))
            .unwrap_or_else(|| config_dir.join("jobs"));
        let mut lock_name = config.as_os_str().to_owned();
        lock_name.push(".lock");
        Paths {
            config_lock: PathBuf::from(lock_name),
            jobs_dir,
            usage_log: set(USAGE_LOG_ENV).unwrap_or_else(|| config_dir.join("usage.jsonl")),
            servers_dir: set(SERVERS_DIR_ENV).unwrap_or_else(|| config_dir.join("servers")),
            config,
        }
    }
}

/// The original expands `~` for the jobs directory only.
fn expand_home(path: &Path, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn paths(vars: &[(&str, &str)]) -> Paths {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Paths::resolve(
            |name| vars.get(name).cloned(),
            Some(PathBuf::from("/home/u")),
        )
    }

    #[test]
    fn defaults_live_under_the_home_config_dir() {
        let p = paths(&[]);
        assert_eq!(
            p.config,
            Path::new("/home/u/.config/agent-dispatch/agents.yaml")
        );
        assert_eq!(
            p.config_lock,
            Path::new("/home/u/.config/agent-dispatch/agents.yaml.lock")
        );
        assert_eq!(p.jobs_dir, Path::new("/home/u/.config/agent-dispatch/jobs"));
        assert_eq!(
            p.usage_log,
            Path::new("/home/u/.config/agent-dispatch/usage.jsonl")
        );
        assert_eq!(
            p.servers_dir,
            Path::new("/home/u/.config/agent-dispatch/servers")
        );
    }

    #[test]
    fn a_config_override_moves_everything_beside_it() {
        let p = paths(&[(CONFIG_ENV, "/x/y/agents.yaml")]);
        assert_eq!(p.config_lock, Path::new("/x/y/agents.yaml.lock"));
        assert_eq!(p.jobs_dir, Path::new("/x/y/jobs"));
        assert_eq!(p.usage_log, Path::new("/x/y/usage.jsonl"));
        assert_eq!(p.servers_dir, Path::new("/x/y/servers"));
    }

    #[test]
    fn empty_variables_count_as_unset_and_own_overrides_win() {
        let p = paths(&[
            (CONFIG_ENV, ""),
            (JOBS_DIR_ENV, "~/jobs"),
            (USAGE_LOG_ENV, "/logs/u.jsonl"),
            (SERVERS_DIR_ENV, ""),
        ]);
        assert_eq!(
            p.config,
            Path::new("/home/u/.config/agent-dispatch/agents.yaml")
        );
        assert_eq!(p.jobs_dir, Path::new("/home/u/jobs"));
        assert_eq!(p.usage_log, Path::new("/logs/u.jsonl"));
        assert_eq!(
            p.servers_dir,
            Path::new("/home/u/.config/agent-dispatch/servers")
        );
    }
}
