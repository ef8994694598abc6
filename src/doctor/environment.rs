//! The Environment section: is `claude` installed (and which version), does
//! it accept what every dispatch passes — the prompt after `--`, and
//! `--append-system-prompt` when the dispatch protocol or an agent's
//! instructions need it — is it logged in, and is `agent-dispatch` itself
//! on `PATH`.

use std::path::Path;

use super::claude_cli::{self, Login, Probe};
use super::config_checks::ConfigState;
use super::report::{Check, Section, Status};
use super::{Inputs, Probes};
use crate::config::{BackendName, Config};
use crate::runner::backends;

const UPGRADE: &str = "Upgrade claude: claude update";

fn check(status: Status, message: impl Into<String>) -> Check {
    Check::new(Section::Environment, status, message)
}

pub fn checks(inputs: &Inputs, probes: Option<&Probes>, config: &ConfigState) -> Vec<Check> {
    let mut checks = Vec::new();
    match (&inputs.claude, probes) {
        (Some(claude), Some(probes)) => {
            checks.push(found(claude, &probes.version));
            match probes.help.succeeded().filter(|h| !h.trim().is_empty()) {
                Some(help) => {
                    checks.push(separator(help));
                    checks.push(append_system_prompt(
                        claude_cli::supports_append_system_prompt(help),
                        config,
                    ));
                }
                None => checks.push(
                    check(
                        Status::Warn,
                        "Could not run `claude --help` to check --append-system-prompt and `--` support",
                    )
                    .detail(format!("claude --help {}", probes.help)),
                ),
            }
            checks.push(login(&probes.auth));
        }
        _ if !runs_claude(config) => checks.push(
            check(
                Status::Warn,
                "claude CLI not found on PATH (no agent runs it)",
            )
            .detail("Claude Code's registration of this server cannot be checked without it.")
            .fix(format!(
                "Install: {}",
                backends::named(BackendName::Claude).install()
            )),
        ),
        _ => checks.push(
            check(Status::Fail, "claude CLI not found on PATH")
                .detail("Every claude agent's dispatch runs `claude`; none can run without it.")
                .fix(format!(
                    "Install: {}",
                    backends::named(BackendName::Claude).install()
                )),
        ),
    }
    checks.push(match &inputs.self_on_path {
        Some(path) => {
            let ok = check(
                Status::Ok,
                format!("agent-dispatch CLI: {}", path.display()),
            );
            match &inputs.exe {
                Some(exe) if path.canonicalize().ok().as_deref() != Some(exe.as_path()) => ok
                    .detail(format!(
                        "This doctor runs {}, a different binary.",
                        exe.display()
                    )),
                _ => ok,
            }
        }
        None => check(
            Status::Warn,
            "agent-dispatch not on PATH (MCP server still works via absolute path)",
        ),
    });
    checks
}

/// Whether some agent runs claude; true when that cannot be told (no
/// config, no agents yet): claude is the default.
fn runs_claude(config: &ConfigState) -> bool {
    config.config().is_none_or(|loaded| {
        loaded.agents.is_empty()
            || loaded.agents.values().any(|agent| {
                !agent.is_remote() && agent.backend_name(&loaded.settings) == BackendName::Claude
            })
    })
}

fn found(claude: &Path, version: &Probe) -> Check {
    let ok = check(Status::Ok, format!("claude CLI: {}", claude.display()));
    match version.succeeded().and_then(claude_cli::version_number) {
        Some(number) => ok.detail(format!("version {number}")),
        None => ok.detail(format!("version unknown: claude --version {version}")),
    }
}

/// We always end the options with `--` so that a prompt starting with `-`
/// cannot be read as a flag; the rule for trusting a CLI with it is in
/// `claude_cli::takes_positional_prompt`.
fn separator(help: &str) -> Check {
    if claude_cli::takes_positional_prompt(help) {
        check(
            Status::Ok,
            "claude CLI takes the prompt as an argument (accepts `--` before it)",
        )
    } else {
        check(
            Status::Warn,
            "claude CLI help shows no prompt argument: it may reject the `--` before the prompt",
        )
        .detail("Dispatches pass the prompt as `-- <prompt>`.")
        .fix(UPGRADE)
    }
}

fn append_system_prompt(supported: bool, config: &ConfigState) -> Check {
    const PREFIX: &str = "claude CLI predates --append-system-prompt";
    if supported {
        return check(
            Status::Ok,
            "claude CLI supports --append-system-prompt (dispatch protocol)",
        );
    }
    let Some(loaded) = config.config() else {
        return check(
            Status::Warn,
            format!("{PREFIX}: dispatches that need it will fail"),
        )
        .detail("The config could not be loaded, so which dispatches send the flag is unknown.")
        .fix(UPGRADE);
    };
    let instructed = instructed_agents(loaded);
    let protocol = loaded.settings.dispatch_protocol;
    if !protocol && instructed.is_empty() {
        return check(
            Status::Ok,
            format!("{PREFIX}; unused (dispatch_protocol is off, no agent has instructions)"),
        );
    }
    let mut warned = if protocol {
        let mut w = check(Status::Warn, format!("{PREFIX}: every dispatch will fail"))
            .detail("settings.dispatch_protocol is on (the default).");
        if !instructed.is_empty() {
            w = w.detail(format!(
                "Agents with instructions: {}",
                instructed.join(", ")
            ));
        }
        w.detail("Upgrade claude (recommended), or stop sending the flag:")
            .detail(format!(
                "set `dispatch_protocol: false` under `settings:` in {}",
                config.path().display()
            ))
    } else {
        check(
            Status::Warn,
            format!(
                "{PREFIX}: dispatches to {} will fail",
                instructed.join(", ")
            ),
        )
        .detail("Upgrade claude (recommended), or stop sending the flag:")
    };
    for agent in &instructed {
        warned = warned.detail(format!("agent-dispatch update {agent} --instructions none"));
    }
    warned.fix(UPGRADE)
}

fn instructed_agents(config: &Config) -> Vec<&str> {
    config
        .agents
        .iter()
        .filter(|(_, agent)| !agent.instructions.trim().is_empty())
        .map(|(name, _)| name.as_str())
        .collect()
}

fn login(auth: &Probe) -> Check {
    match claude_cli::login_state(auth) {
        Some(Login::LoggedIn(method)) => {
            let ok = check(Status::Ok, "claude CLI is logged in");
            match method {
                Some(method) => ok.detail(format!("auth method: {method}")),
                None => ok,
            }
        }
        // A warning, not a failure: an agent's own settings (an API key
        // helper, say) can authenticate where the default login does not.
        Some(Login::LoggedOut) => check(
            Status::Warn,
            "claude CLI is not logged in: dispatches will fail with \"Not logged in\"",
        )
        .fix("Run: claude auth login"),
        None => check(Status::Warn, "Could not check whether claude is logged in")
            .detail(format!("claude auth status {auth}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Agent;
    use std::path::PathBuf;

    fn state(protocol: bool, instructed: &[&str]) -> ConfigState {
        let mut config = Config::default();
        config.settings.dispatch_protocol = protocol;
        for name in ["a", "b"] {
            let mut agent = Agent::new(PathBuf::from("/tmp"));
            if instructed.contains(&name) {
                agent.instructions = "be brief".into();
            }
            config.agents.insert(name.into(), agent);
        }
        ConfigState::Loaded(PathBuf::from("/c/agents.yaml"), config)
    }

    #[test]
    fn an_old_cli_is_harmless_only_when_nothing_sends_the_flag() {
        let unused = append_system_prompt(false, &state(false, &[]));
        assert_eq!(unused.status, Status::Ok);
        assert!(unused.message.ends_with("no agent has instructions)"));

        let every = append_system_prompt(false, &state(true, &["b"]));
        assert_eq!(every.status, Status::Warn);
        assert!(every.message.ends_with("every dispatch will fail"));
        assert!(
            every
                .details
                .contains(&"Agents with instructions: b".to_owned())
        );
        assert!(
            every
                .details
                .contains(&"agent-dispatch update b --instructions none".to_owned())
        );

        let some = append_system_prompt(false, &state(false, &["a", "b"]));
        assert!(some.message.ends_with("dispatches to a, b will fail"));
        assert_eq!(some.remediation.as_deref(), Some(UPGRADE));
    }
}
