//! The agent CLIs other than `claude` that some local agent runs (`backend`):
//! each one found on `PATH` with its version, and whether it is logged in,
//! asked without the network — a command the CLI answers offline, or the
//! variables and files its login leaves. Probes run concurrently, each
//! under the probe time limit.

use std::path::Path;
use std::thread;
use std::time::Duration;

use super::claude_cli::{self, Probe};
use super::report::{Check, Section, Status};
use crate::config::{BackendName, Config};
use crate::runner::backend::{Backend, LoginCheck};
use crate::runner::backends;

fn check(status: Status, message: impl Into<String>) -> Check {
    Check::new(Section::Environment, status, message)
}

/// The CLIs other than claude that `config`'s agents run, each with the
/// agents that run it, in first-use order.
pub fn in_use(config: &Config) -> Vec<(BackendName, Vec<String>)> {
    let mut used: Vec<(BackendName, Vec<String>)> = Vec::new();
    for (name, agent) in &config.agents {
        let backend = agent.backend_name(&config.settings);
        // A remote agent's CLI is on its host (see `remote_agents`).
        if backend == BackendName::Claude || agent.is_remote() {
            continue;
        }
        match used.iter_mut().find(|(b, _)| *b == backend) {
            Some((_, agents)) => agents.push(name.clone()),
            None => used.push((backend, vec![name.clone()])),
        }
    }
    used
}

/// One check for each CLI in use, then one for its login.
pub fn checks(config: &Config, home: Option<&Path>, timeout: Duration) -> Vec<Check> {
    let used = in_use(config);
    thread::scope(|scope| {
        let handles: Vec<_> = used
            .iter()
            .map(|(name, agents)| scope.spawn(move || cli_checks(*name, agents, home, timeout)))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    vec![check(
                        Status::Warn,
                        "An agent CLI probe failed unexpectedly",
                    )]
                })
            })
            .collect()
    })
}

fn cli_checks(
    name: BackendName,
    agents: &[String],
    home: Option<&Path>,
    timeout: Duration,
) -> Vec<Check> {
    let backend = backends::named(name);
    let program = backend.program();
    let users = format!("used by {}", agents.join(", "));
    let Some(path) = backend.locate() else {
        return vec![
            check(
                Status::Fail,
                format!("{program} CLI not found on PATH ({users})"),
            )
            .detail("Those agents cannot run until it is installed.")
            .fix(format!("Install: {}", backend.install())),
        ];
    };
    let (version, login) = thread::scope(|scope| {
        let version = scope.spawn(|| claude_cli::probe(&path, &["--version"], timeout));
        let login = login_state(backend, &path, home, timeout);
        (join(version), login)
    });
    let found = check(
        Status::Ok,
        format!("{program} CLI: {} ({users})", path.display()),
    );
    let found = match version.succeeded().and_then(claude_cli::version_number) {
        Some(number) => found.detail(format!("version {number}")),
        None => found.detail(format!("version unknown: {program} --version {version}")),
    };
    vec![found, login]
}

fn join(handle: thread::ScopedJoinHandle<'_, Probe>) -> Probe {
    handle
        .join()
        .unwrap_or_else(|_| Probe::NotStarted(std::io::Error::other("the probe thread panicked")))
}

fn login_state(
    backend: &dyn Backend,
    path: &Path,
    home: Option<&Path>,
    timeout: Duration,
) -> Check {
    let program = backend.program();
    match backend.login_check() {
        LoginCheck::Command(args) => {
            let probe = claude_cli::probe(path, args, timeout);
            let said = |probe: &Probe| match probe {
                Probe::Ran { stdout, stderr, .. } => {
                    claude_cli::first_line(&format!("{stdout}\n{stderr}")).to_owned()
                }
                other => other.to_string(),
            };
            match &probe {
                Probe::Ran { .. } if probe.succeeded().is_some() => {
                    check(Status::Ok, format!("{program} CLI is logged in")).detail(said(&probe))
                }
                Probe::Ran { .. } => not_logged_in(backend).detail(said(&probe)),
                _ => check(
                    Status::Warn,
                    format!("Could not tell whether the {program} CLI is logged in"),
                )
                .detail(format!("{program} {} {probe}", args.join(" "))),
            }
        }
        LoginCheck::Credentials {
            env,
            home_files,
            optional,
        } => {
            let variable = env
                .iter()
                .find(|key| std::env::var_os(key).is_some_and(|v| !v.is_empty()));
            let file =
                home.and_then(|home| home_files.iter().find(|file| home.join(file).is_file()));
            match (variable, file) {
                (Some(key), _) => check(
                    Status::Ok,
                    format!("{program} CLI has credentials (${key} is set)"),
                ),
                (None, Some(file)) => check(
                    Status::Ok,
                    format!("{program} CLI has credentials (~/{file})"),
                ),
                (None, None) if optional => check(
                    Status::Ok,
                    format!("{program} CLI has no provider credentials: only its free models run"),
                ),
                (None, None) => not_logged_in(backend),
            }
        }
    }
}

fn not_logged_in(backend: &dyn Backend) -> Check {
    let program = backend.program();
    check(
        Status::Warn,
        format!("{program} CLI is not logged in: its agents fail with error_type auth"),
    )
    .fix(backend.login_hint())
}
