//! `doctor`: a read-only health check of everything a dispatch depends on
//! — the `claude` CLI (found, version, options we pass, login), the other
//! agent CLIs agents run (found, version, login), the
//! servers running from this tool (and whether they run old code or a
//! replaced binary), the config, Claude Code's registration of this
//! server, the agents' directories and the groups' members. It never runs
//! a dispatch and never crashes on what it finds: every file read is
//! bounded, every `claude` probe has a time limit and lossy decoding, and
//! whatever cannot be checked becomes a warning.
//!
//! One file per section; `report` holds the result types. The CLI's
//! `doctor` command renders the report for people or as JSON.

pub mod agent_clis;
pub mod claude_cli;
pub mod config_checks;
pub mod environment;
pub mod registration;
pub mod remote_agents;
pub mod report;
pub mod servers;

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use crate::config::Paths;
use crate::registry;
use crate::runner::environment::find_on_path;
use claude_cli::Probe;
use config_checks::ConfigState;

pub use report::{Check, Report, SCHEMA_VERSION, Section, Status};

/// What a doctor run looks at, resolved from the environment once.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub paths: Paths,
    /// `claude` as found on `PATH`.
    pub claude: Option<PathBuf>,
    /// `agent-dispatch` as found on `PATH`.
    pub self_on_path: Option<PathBuf>,
    /// This binary, canonical, when the OS can tell.
    pub exe: Option<PathBuf>,
    /// The version this binary is.
    pub version: String,
    /// Where the agent CLIs keep their logins.
    pub home: Option<PathBuf>,
    pub probe_timeout: Duration,
}

impl Inputs {
    pub fn from_env(paths: Paths) -> Inputs {
        Inputs {
            paths,
            claude: find_on_path("claude"),
            self_on_path: find_on_path("agent-dispatch"),
            exe: registry::current_exe(),
            version: crate::VERSION.to_owned(),
            home: std::env::var_os("HOME").map(PathBuf::from),
            probe_timeout: crate::tunables::duration(
                "AGENT_DISPATCH_TEST_PROBE_TIMEOUT_MS",
                claude_cli::PROBE_TIMEOUT,
            ),
        }
    }
}

/// The installed CLI's answers, gathered concurrently so that a CLI that
/// hangs costs one time limit, not four.
#[derive(Debug)]
pub struct Probes {
    pub version: Probe,
    pub help: Probe,
    pub auth: Probe,
    pub mcp_list: Probe,
}

impl Probes {
    pub fn gather(claude: &std::path::Path, timeout: Duration) -> Probes {
        thread::scope(|scope| {
            let run = |args: &'static [&'static str]| {
                scope.spawn(move || claude_cli::probe(claude, args, timeout))
            };
            let version = run(&["--version"]);
            let help = run(&["--help"]);
            let auth = run(&["auth", "status"]);
            let mcp_list = run(&["mcp", "list"]);
            let join = |handle: thread::ScopedJoinHandle<'_, Probe>| {
                handle.join().unwrap_or_else(|_| {
                    Probe::NotStarted(std::io::Error::other("the probe thread panicked"))
                })
            };
            Probes {
                version: join(version),
                help: join(help),
                auth: join(auth),
                mcp_list: join(mcp_list),
            }
        })
    }
}

/// Runs every check, in report order.
pub fn run(inputs: &Inputs) -> Report {
    let probes = inputs
        .claude
        .as_deref()
        .map(|claude| Probes::gather(claude, inputs.probe_timeout));
    let config = ConfigState::read(&inputs.paths.config);
    // One snapshot serves every server check, so the counts agree.
    let servers = registry::live_servers(&inputs.paths.servers_dir, true);

    let mut checks = environment::checks(inputs, probes.as_ref(), &config);
    if let Some(loaded) = config.config() {
        checks.extend(agent_clis::checks(
            loaded,
            inputs.home.as_deref(),
            inputs.probe_timeout,
        ));
        checks.extend(remote_agents::checks(loaded, inputs.probe_timeout));
    }
    checks.extend(servers::checks(
        &servers,
        &inputs.version,
        inputs.exe.as_deref(),
    ));
    checks.push(config_checks::config_check(&config));
    checks.extend(registration::checks(
        probes.as_ref().map(|p| &p.mcp_list),
        inputs.exe.as_deref(),
    ));
    checks.extend(config_checks::agent_checks(&config));
    checks.extend(config_checks::group_checks(&config));
    Report { checks }
}
