//! `list` and `describe`: read-only views of the configured agents, as
//! text for people or as JSON (`--json`, the same shapes the MCP tools
//! return) for scripts. Every stored text in the text views goes through
//! `escape`, so a hand-edited or caller-written value cannot drive the
//! terminal.

use lexopt::Parser;
use serde_json::Value;

use super::error::{CliError, UsageError};
use super::escape;
use super::output::{self, Color};
use super::{Context, Token, next_token, wants_help};
use crate::config::project::{self, Health};
use crate::config::{Agent, BackendName, Settings, store};
use crate::pyfmt::repr_float;
use crate::runner::backends;
use crate::views;

pub const LIST_HELP: &str = "\
List the configured agents with their directory health.

Usage: agent-dispatch list [--json]

Options:
      --json    print a JSON array for scripts: the list_agents shape plus
                timeout, model and max_budget_usd (the last two when set)
";

pub const DESCRIBE_HELP: &str = "\
Show one agent's full configuration and which project files it has.

Usage: agent-dispatch describe NAME [--json]

Options:
      --json    print a JSON object (the inspect_agent shape) for scripts
";

pub(crate) const NO_AGENTS: &str =
    "No agents configured. Run: agent-dispatch add <name> <directory>";

/// Parses a command whose only option is `--json`; `None` for help.
pub fn parse_json_flag(parser: &mut Parser) -> Result<Option<bool>, UsageError> {
    let mut json = false;
    while let Some(arg) = next_token(parser)? {
        if wants_help(&arg) {
            return Ok(None);
        }
        match arg {
            Token::Long(name) if name == "json" => json = true,
            other => return Err(other.unexpected()),
        }
    }
    Ok(Some(json))
}

/// Parses a command that takes no arguments; `false` when help was asked.
pub fn parse_no_options(parser: &mut lexopt::Parser) -> Result<bool, UsageError> {
    match next_token(parser)? {
        None => Ok(true),
        Some(token) if wants_help(&token) => Ok(false),
        Some(other) => Err(other.unexpected()),
    }
}

/// Run profiles from the usage journal, for the `--json` views; none when
/// the journal is off.
fn journal_profiles(
    ctx: &Context,
    usage_log: bool,
) -> std::sync::Arc<std::collections::HashMap<String, crate::usage::Profile>> {
    if usage_log {
        crate::usage::Profiles::new().get(&ctx.paths.usage_log)
    } else {
        std::sync::Arc::default()
    }
}

/// Adds what the text `list` shows beyond the `list_agents` shape: the
/// agent's timeout (always), model and budget cap (when set). The MCP
/// answer stays as it is: its callers read `inspect_agent` for these.
fn with_settings(mut summary: Value, agent: &Agent) -> Value {
    if let Value::Object(m) = &mut summary {
        m.insert("timeout".into(), agent.timeout.into());
        if let Some(model) = &agent.model {
            m.insert("model".into(), model.as_str().into());
        }
        if let Some(budget) = agent.max_budget_usd.filter(|b| *b != 0.0) {
            m.insert("max_budget_usd".into(), budget.into());
        }
    }
    summary
}

pub fn run_list(ctx: &Context, json: bool) -> Result<(), CliError> {
    let config = store::load(&ctx.paths.config)?;
    views::remote_project::start_all(&config);
    if json {
        let profiles = journal_profiles(ctx, config.settings.usage_log);
        let items: Vec<Value> = config
            .agents
            .iter()
            .map(|(name, agent)| {
                let summary =
                    with_settings(views::agents::summary(name, agent, &config.settings), agent);
                views::agents::with_typical(summary, profiles.get(name))
            })
            .collect();
        return output::json(&ctx.ui, &Value::Array(items));
    }
    if config.agents.is_empty() {
        return ctx.ui.line(NO_AGENTS);
    }
    let mut text = String::new();
    for (name, agent) in &config.agents {
        let health = views::agents::health_of(agent, &config.settings);
        text.push_str(&format!(
            "  {} [{}]\n",
            ctx.ui.paint(Color::Bold, &escape::line(name)),
            paint_health(ctx, &health)
        ));
        text.push_str(&format!("    dir:  {}\n", escape::path(&agent.directory)));
        text.push_str(&format!("    desc: {}\n", escape::line(&agent.description)));
        let mut config_items = Vec::new();
        if agent.timeout != crate::config::schema::DEFAULT_AGENT_TIMEOUT {
            config_items.push(format!("timeout={}s", agent.timeout));
        }
        if let Some(model) = &agent.model {
            config_items.push(format!("model={}", escape::line(model)));
        }
        if let Some(budget) = agent.max_budget_usd.filter(|b| *b != 0.0) {
            config_items.push(format!("budget=${}", repr_float(budget)));
        }
        if !config_items.is_empty() {
            text.push_str(&format!("    config: {}\n", config_items.join(", ")));
        }
        if let Some(mode) = &agent.permission_mode {
            text.push_str(&format!("    permission_mode: {}\n", escape::line(mode)));
        }
        for (label, tools) in [
            ("allowed_tools", &agent.allowed_tools),
            ("disallowed_tools", &agent.disallowed_tools),
        ] {
            if let Some(tools) = tools {
                text.push_str(&format!("    {label}: {}\n", list_or(tools, "(none)")));
            }
        }
        for (label, items) in [
            ("capabilities", &agent.capabilities),
            ("risky_capabilities", &agent.risky_capabilities),
        ] {
            if !items.is_empty() {
                text.push_str(&format!("    {label}: {}\n", list_or(items, "")));
            }
        }
        text.push('\n');
    }
    ctx.ui.line(text.strip_suffix('\n').unwrap_or(&text))
}

pub fn run_describe(ctx: &Context, name: String, json: bool) -> Result<(), CliError> {
    let config = store::load(&ctx.paths.config)?;
    let Some(agent) = config.agents.get(&name) else {
        return Err(CliError::AgentNotFound {
            name,
            available: config.agents.keys().cloned().collect(),
        });
    };
    if json {
        let profiles = journal_profiles(ctx, config.settings.usage_log);
        return output::json(
            &ctx.ui,
            &views::agents::detail(&name, agent, &config.settings, profiles.get(&name), 0),
        );
    }
    ctx.ui
        .line(&describe_text(ctx, &name, agent, &config.settings))
}

fn describe_text(ctx: &Context, name: &str, agent: &Agent, settings: &Settings) -> String {
    let health = views::agents::health_of(agent, settings);
    let mut lines = vec![format!(
        "{} [{}]",
        ctx.ui.paint(Color::Bold, &escape::line(name)),
        paint_health(ctx, &health)
    )];
    // Values arrive escaped; only a block's own line breaks remain, and
    // its later lines are indented under the first.
    let mut row = |label: &str, value: &str| {
        let value = value.replace('\n', &format!("\n{}", " ".repeat(20)));
        lines.push(format!("  {:<18}{value}", format!("{label}:")));
    };
    row("directory", &escape::path(&agent.directory));
    // Claude agents read exactly as in the original, which has no backends.
    let backend = agent.backend_name(settings);
    if backend != BackendName::Claude {
        row("backend", backend.as_str());
    }
    row("description", &escape::line(&agent.description));
    row("timeout", &format!("{}s", agent.timeout));
    if let Some(model) = &agent.model {
        row("model", &escape::line(model));
    }
    if let Some(budget) = agent.max_budget_usd {
        row("max_budget_usd", &format!("${}", repr_float(budget)));
    }
    if let Some(mode) = &agent.permission_mode {
        row("permission_mode", &escape::line(mode));
    }
    if !agent.capabilities.is_empty() {
        row("capabilities", &list_or(&agent.capabilities, ""));
    }
    if !agent.risky_capabilities.is_empty() {
        row("risky_caps", &list_or(&agent.risky_capabilities, ""));
    }
    if !agent.instructions.is_empty() {
        row("instructions", &escape::block(&agent.instructions));
    }
    row("allowed_tools", &tri_state(&agent.allowed_tools));
    row("disallowed_tools", &tri_state(&agent.disallowed_tools));
    let present: Vec<&str> = match health {
        // A remote agent's files are on its host; `inspect_agent` shows them.
        Health::Ok if agent.is_remote() => Vec::new(),
        Health::Ok => project::listed_files(&backends::of(agent, settings).project_files())
            .into_iter()
            .filter(|file| agent.directory.join(file).exists())
            .collect(),
        _ => Vec::new(),
    };
    row("project files", &list_or(&present, "(none)"));
    lines.join("\n")
}

fn tri_state(tools: &Option<Vec<String>>) -> String {
    match tools {
        None => "(inherit defaults)".into(),
        Some(list) if list.is_empty() => "(none — explicit override)".into(),
        Some(list) => list_or(list, ""),
    }
}

/// The items joined by `, ` on one line (each escaped), or `empty`.
fn list_or(items: &[impl AsRef<str>], empty: &str) -> String {
    if items.is_empty() {
        empty.to_owned()
    } else {
        items
            .iter()
            .map(|item| escape::line(item.as_ref()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub(super) fn paint_health(ctx: &Context, health: &Health) -> String {
    let color = match health {
        Health::Ok => Color::Green,
        Health::Missing | Health::Unreachable(_) => Color::Red,
        Health::Unreadable(_) => Color::Yellow,
    };
    ctx.ui.paint(color, health.label())
}
