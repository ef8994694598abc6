//! Remote agents' hosts: for each, the agent CLI found there (its version)
//! and whether it is logged in there, asked over ssh the way `doctor` asks
//! a local CLI. Reachability and host-key problems show in the Agents
//! section (the project survey); a host that cannot be reached is skipped
//! here. Hosts are asked concurrently, each under the probe time limit.

use std::thread;
use std::time::Duration;

use super::claude_cli;
use super::report::{Check, Section, Status};
use crate::config::{Agent, Config};
use crate::runner::backend::{Backend, LoginCheck};
use crate::runner::backends;
use crate::runner::environment::find_on_path;
use crate::runner::ssh::{self, Remote};
use crate::runner::verdict::Exit;
use crate::shell;

fn check(status: Status, message: impl Into<String>) -> Check {
    Check::new(Section::Environment, status, message)
}

/// One pair of checks (CLI, login) per remote agent.
pub fn checks(config: &Config, timeout: Duration) -> Vec<Check> {
    let remote: Vec<(&String, &Agent)> = config
        .agents
        .iter()
        .filter(|(_, agent)| agent.is_remote())
        .collect();
    thread::scope(|scope| {
        let handles: Vec<_> = remote
            .iter()
            .map(|(name, agent)| {
                let backend = backends::of(agent, &config.settings);
                scope.spawn(move || agent_checks(name, agent, backend, timeout))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    vec![check(Status::Warn, "A remote probe failed unexpectedly")]
                })
            })
            .collect()
    })
}

/// What a command printed on the host, and how it ended.
struct Answer {
    exit: Exit,
    output: String,
}

fn ask(remote: &Remote, words: &[&str], timeout: Duration) -> Option<Answer> {
    let ssh = find_on_path("ssh")?;
    let control_dir = ssh::control_dir().ok()?;
    let command = shell::command_line(words);
    let run = remote
        .run_command(&ssh, &control_dir, &command, timeout)
        .ok()?;
    let stdout = crate::runner::process::lock_sink(&run.sink).bytes.clone();
    let output = format!(
        "{}\n{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&run.captured.stderr)
    );
    Some(Answer {
        exit: run.captured.exit,
        output,
    })
}

fn agent_checks(name: &str, agent: &Agent, backend: &dyn Backend, timeout: Duration) -> Vec<Check> {
    let Some(Ok(remote)) = Remote::of(agent) else {
        return Vec::new();
    };
    let host = remote.target.to_string();
    let cli = agent.remote_cli.as_deref().unwrap_or(backend.program());
    let Some(version) = ask(&remote, &[cli, "--version"], timeout) else {
        return vec![check(
            Status::Warn,
            format!("{name}: could not ask {host} for its {cli}"),
        )];
    };
    match version.exit {
        // ssh itself failed: the Agents section says why.
        Exit::Code(255) => return Vec::new(),
        Exit::Code(0) => {}
        _ => {
            return vec![
                check(Status::Fail, format!("{name}: {cli} not found on {host}"))
                    .detail(claude_cli::first_line(&version.output).to_owned())
                    .detail("A non-interactive ssh session often lacks the login PATH.")
                    .fix(format!(
                        "Name its path there: agent-dispatch update {name} --remote-cli /path/to/{}",
                        backend.program()
                    )),
            ];
        }
    }
    let found = check(Status::Ok, format!("{name}: {cli} on {host}")).detail(
        claude_cli::version_number(&version.output).map_or_else(
            || claude_cli::first_line(&version.output).to_owned(),
            |n| format!("version {n}"),
        ),
    );
    vec![found, login(name, backend, &remote, cli, timeout)]
}

fn login(
    name: &str,
    backend: &dyn Backend,
    remote: &Remote,
    cli: &str,
    timeout: Duration,
) -> Check {
    let host = remote.target.to_string();
    let logged_in = match backend.login_check() {
        LoginCheck::Command(args) => {
            let mut words = vec![cli];
            words.extend_from_slice(args);
            ask(remote, &words, timeout).map(|answer| answer.exit == Exit::Code(0))
        }
        LoginCheck::Credentials {
            env,
            home_files,
            optional,
        } => {
            // Any of the variables set, or any of the files under $HOME.
            // The names are our own constants, never a caller's text.
            let mut script: String = env
                .iter()
                .map(|key| format!("[ -n \"${{{key}:-}}\" ] && exit 0; "))
                .collect();
            for file in home_files {
                script.push_str(&format!(
                    "[ -f \"$HOME\"/{} ] && exit 0; ",
                    shell::quote_always(file)
                ));
            }
            script.push_str("exit 1");
            let answer = ask(remote, &["sh", "-c", &script], timeout);
            answer.map(|answer| answer.exit == Exit::Code(0) || optional)
        }
    };
    match logged_in {
        Some(true) => check(Status::Ok, format!("{name}: {cli} on {host} is logged in")),
        Some(false) => check(
            Status::Warn,
            format!(
                "{name}: {cli} on {host} is not logged in: the agent fails with error_type auth"
            ),
        )
        .fix(format!("On {host}: {}", backend.login_hint())),
        None => check(
            Status::Warn,
            format!("{name}: could not tell whether {cli} on {host} is logged in"),
        ),
    }
}
