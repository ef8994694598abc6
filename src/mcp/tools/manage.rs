//! `add_agent`, `update_agent`, `remove_agent`: an orchestrator changing
//! `agents.yaml`. Each tool decodes its arguments and checks them in full
//! (names, directory, bounds, values that will become `claude` flags)
//! before anything is read; the change itself is one `store::mutate` —
//! lock, reload, change, save — and afterwards that agent's cached
//! dispatch results are dropped, because they answered the old config.
//! The rules shared with the CLI live in `config::rules`.
//!
//! Unlike the CLI, these tools are driven by a model, which must not be able
//! to grant itself power: a change that raises an agent's permissions (see
//! `config::grants`) is refused, checked on the fresh config inside the
//! lock, unless the user set `settings.mcp_may_grant`. The refusal names
//! the `agent-dispatch` command a person runs instead. Lowering is allowed.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::args::{ArgError, Args};
use super::discovery::AGENT_NAME;
use super::params::{Integer, Number, Param, Params, Text};
use super::{Call, Kind, Tool, ToolResult, config_unloadable};
use crate::config::directory::{self, DirectoryError, ProjectDirError};
use crate::config::grants::{self, Permissions, Raise};
use crate::config::project;
use crate::config::rules::{self, FlagValueProblem, InvalidName, NameKind, StoredTextProblem};
use crate::config::schema::{DEFAULT_AGENT_TIMEOUT, MAX_BUDGET_USD, MAX_TIMEOUT_SECS};
use crate::config::store::{self, MutateError, SaveError};
use crate::config::{Agent, Config};
use crate::pyfmt::{repr_float, repr_str};
use crate::runner::backends;
use crate::state::flock::LockError;

const NEW_NAME: Text = Text::required(
    "name",
    "New name: letters, digits, '-', '_'; starts with a letter or digit.",
);
const DIRECTORY: Text = Text::required("directory", "The project's directory ('~' expanded).");
const NEW_DESCRIPTION: Text = Text::optional(
    "description",
    "What it is for; guessed from the project if empty.",
);
const DESCRIPTION: Text = Text::optional("description", "What it is for.");
/// Checked by the tool, not clamped: a bad timeout is refused by name.
const TIMEOUT: Integer = Integer::as_given("timeout", 0, "Seconds per dispatch, at most 604800.");
const BUDGET: Number =
    Number::new("max_budget_usd", 0.0).described("Spend cap per dispatch in USD.");
const MODEL: Text = Text::optional("model", "e.g. sonnet or opus.");
const PERMISSION_MODE: Text =
    Text::optional("permission_mode", "default, plan or bypassPermissions.");
const ALLOWED_TOOLS: Text = Text::optional(
    "allowed_tools",
    "Tools it may use, e.g. 'Read,Bash(git *)'.",
);
const DISALLOWED_TOOLS: Text = Text::optional("disallowed_tools", "Tools it may not use.");
const CAPABILITIES: Text = Text::optional("capabilities", "Labels for what it can do.");
const RISKY_CAPABILITIES: Text = Text::optional(
    "risky_capabilities",
    "Labels for what it can do that is risky.",
);
const INSTRUCTIONS: Text = Text::optional("instructions", "Standing orders for every dispatch.");

/// The limits both `add_agent` and `update_agent` take.
const LIMITS: &[Param] = &[Param::Integer(TIMEOUT), Param::Number(BUDGET)];
/// The permission and label fields both take, in the original's order.
const PERMISSIONS_AND_LABELS: &[Param] = &[
    Param::Text(PERMISSION_MODE),
    Param::Text(ALLOWED_TOOLS),
    Param::Text(DISALLOWED_TOOLS),
    Param::Text(CAPABILITIES),
    Param::Text(RISKY_CAPABILITIES),
    Param::Text(INSTRUCTIONS),
];
/// `add_agent` alone takes `directory`; `update_agent` alone `model`.
const ADD_AGENT: Params = &[
    &[
        Param::Text(NEW_NAME),
        Param::Text(DIRECTORY),
        Param::Text(NEW_DESCRIPTION),
    ],
    LIMITS,
    PERMISSIONS_AND_LABELS,
];
const UPDATE_AGENT: Params = &[
    &[Param::Text(AGENT_NAME), Param::Text(DESCRIPTION)],
    LIMITS,
    &[Param::Text(MODEL)],
    PERMISSIONS_AND_LABELS,
];
const REMOVE_AGENT: Params = &[&[Param::Text(AGENT_NAME)]];

pub fn tools() -> Vec<Tool> {
    vec![
        Tool {
            name: "add_agent",
            description: "Register a project directory as an agent. Without a description one is guessed from its files. timeout 0 = 300 s; max_budget_usd 0 = settings default. Lists are comma-separated.",
            params: ADD_AGENT,
            kind: Kind::Changes,
            run: add_agent,
        },
        Tool {
            name: "update_agent",
            description: "Change an agent; only non-empty arguments count (timeout/max_budget_usd 0 = no change; a negative budget removes the cap). \"none\" clears a field (tool lists then inherit the defaults). Returns the changed fields.",
            params: UPDATE_AGENT,
            kind: Kind::Changes,
            run: update_agent,
        },
        Tool {
            name: "remove_agent",
            description: "Remove an agent from the config. Its project directory is not touched; groups that still list it are named in `warnings`.",
            params: REMOVE_AGENT,
            kind: Kind::Destructive,
            run: remove_agent,
        },
    ]
}

/// An argument that decoded fine but breaks a config rule. Found before the
/// config is touched, so nothing has been written.
#[derive(Debug)]
enum Invalid {
    Name(InvalidName),
    BlankDirectory,
    UnresolvableDirectory {
        given: String,
        reason: DirectoryError,
    },
    NoSuchDirectory(PathBuf),
    DirectoryNotUtf8(PathBuf),
    /// Below 1 (0 is "not given" and never gets here).
    TimeoutNotPositive {
        got: i64,
        zero_means: &'static str,
    },
    TimeoutTooLong(i64),
    NegativeBudget(f64),
    BudgetTooLarge(f64),
    FlagValue {
        field: &'static str,
        value: String,
        problem: FlagValueProblem,
    },
    StoredText {
        field: &'static str,
        problem: StoredTextProblem,
    },
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Name(err) => err.fmt(f),
            Invalid::BlankDirectory => f.write_str(
                "directory must not be empty; pass the project's path (absolute, or starting with '~').",
            ),
            Invalid::UnresolvableDirectory { given, reason } => {
                write!(f, "Invalid directory {}: {reason}", repr_str(given))
            }
            Invalid::NoSuchDirectory(path) => {
                write!(f, "Directory does not exist: {}", path.display())
            }
            Invalid::DirectoryNotUtf8(path) => write!(
                f,
                "Directory {} is not valid UTF-8, which agents.yaml cannot store; rename it or pass a path through a symlink with a UTF-8 name.",
                repr_str(&path.to_string_lossy())
            ),
            Invalid::TimeoutNotPositive { got, zero_means } => write!(
                f,
                "timeout must be a positive number of seconds (got {got}); pass 0 {zero_means}."
            ),
            Invalid::TimeoutTooLong(got) => write!(
                f,
                "timeout must be at most {MAX_TIMEOUT_SECS} seconds, one week (got {got})."
            ),
            Invalid::NegativeBudget(got) => write!(
                f,
                "max_budget_usd must be >= 0 (got {}); 0 inherits defaults.",
                repr_float(*got)
            ),
            Invalid::BudgetTooLarge(got) => write!(
                f,
                "max_budget_usd must be at most {MAX_BUDGET_USD} (got {}).",
                repr_float(*got)
            ),
            Invalid::FlagValue {
                field,
                value,
                problem,
            } => write!(f, "{field} {} {problem}.", repr_str(value)),
            Invalid::StoredText { field, problem } => write!(f, "{field} {problem}."),
        }
    }
}

/// Why the change was refused once the fresh config was in hand.
#[derive(Debug)]
enum Refused {
    Exists(String),
    NotFound {
        name: String,
        available: Vec<String>,
    },
    NothingToUpdate,
    /// The change would raise the agent's permissions and the settings do
    /// not let MCP callers do that.
    Grants {
        tool: &'static str,
        name: String,
        raise: Box<Raise>,
        /// The `agent-dispatch` command a person runs to make the change.
        command: String,
    },
}

impl Refused {
    fn hint(&self) -> Option<String> {
        match self {
            Refused::Grants { command, .. } => Some(format!(
                "Ask the user to run: {command} (or to set `mcp_may_grant: true` under `settings:` in agents.yaml, which lets MCP callers grant permissions)."
            )),
            _ => None,
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Exists(name) => {
                write!(
                    f,
                    "Agent {} already exists. Remove it first.",
                    repr_str(name)
                )
            }
            Refused::NotFound { name, available } => {
                let available = if available.is_empty() {
                    "(none)".to_owned()
                } else {
                    available.join(", ")
                };
                write!(
                    f,
                    "Agent {} not found. Available: {available}",
                    repr_str(name)
                )
            }
            Refused::NothingToUpdate => {
                f.write_str("Nothing to update. Pass at least one non-empty field.")
            }
            Refused::Grants {
                tool, name, raise, ..
            } => write!(
                f,
                "{tool} may not raise the permissions of agent {} ({raise}); nothing was changed.",
                repr_str(name)
            ),
        }
    }
}

fn names(config: &Config) -> Vec<String> {
    config.agents.keys().cloned().collect()
}

/// `update_agent`'s word for "back to unset"; whitespace around it and its
/// case do not matter.
fn is_none(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("none")
}

/// A model or permission mode: trimmed, and refused if it could be read as
/// a `claude` option (or is blank once trimmed).
fn flag_value(field: &'static str, value: &str) -> Result<String, Invalid> {
    let trimmed = value.trim();
    rules::check_flag_value(trimmed).map_err(|problem| Invalid::FlagValue {
        field,
        value: value.to_owned(),
        problem,
    })?;
    Ok(trimmed.to_owned())
}

/// A comma list of tool names, each of which becomes a `claude` flag value.
fn tool_list(field: &'static str, csv: &str) -> Result<Vec<String>, Invalid> {
    let tools = rules::split_csv(csv);
    for tool in &tools {
        rules::check_flag_value(tool).map_err(|problem| Invalid::FlagValue {
            field,
            value: tool.clone(),
            problem,
        })?;
    }
    Ok(tools)
}

/// `0` is "not given"; anything else must be 1..=MAX_TIMEOUT_SECS.
fn timeout(seconds: i64, zero_means: &'static str) -> Result<Option<u64>, Invalid> {
    match u64::try_from(seconds) {
        Ok(0) => Ok(None),
        Ok(secs) if secs <= MAX_TIMEOUT_SECS => Ok(Some(secs)),
        Ok(_) => Err(Invalid::TimeoutTooLong(seconds)),
        Err(_) => Err(Invalid::TimeoutNotPositive {
            got: seconds,
            zero_means,
        }),
    }
}

fn check_budget_ceiling(usd: f64) -> Result<(), Invalid> {
    if usd > MAX_BUDGET_USD {
        return Err(Invalid::BudgetTooLarge(usd));
    }
    Ok(())
}

/// The envelope for a mutation that did not happen: refused on the fresh
/// config (exists, not found, nothing to update, a grant), or stopped by the
/// config file or its lock.
fn not_changed(call: &Call, tool: &str, err: MutateError<Refused>) -> ToolResult {
    match err {
        MutateError::Rejected(reason) => match reason.hint() {
            Some(hint) => ToolResult::error_with_hint(reason.to_string(), &hint),
            None => ToolResult::error(reason.to_string()),
        },
        // Word for word what every config-reading tool says (`Call::config`).
        MutateError::Load(err) => config_unloadable(call.state, &err),
        MutateError::Lock(ref lock) => {
            let hint = match lock {
                LockError::TimedOut { .. } => {
                    "Another agent-dispatch (CLI, server or the Python original) is changing agents.yaml; retry in a few seconds."
                }
                LockError::Open { .. } => {
                    "Check that the config directory exists and is writable by this user (~/.config/agent-dispatch, or AGENT_DISPATCH_CONFIG)."
                }
            };
            ToolResult::error_with_hint(format!("{tool}: {err}"), hint)
        }
        MutateError::Save(ref save) => {
            let hint = match save {
                SaveError::Write { .. } => {
                    "Check free space and permissions on the config directory (~/.config/agent-dispatch, or AGENT_DISPATCH_CONFIG)."
                }
                SaveError::Render { .. } => {
                    "This is a bug: please report which agent field could not be written."
                }
            };
            ToolResult::error_with_hint(format!("{tool}: {err}"), hint)
        }
    }
}

/// The agent fields `add_agent` and `update_agent` both take, as given.
struct AgentFields {
    description: String,
    timeout: i64,
    max_budget_usd: f64,
    permission_mode: String,
    allowed_tools: String,
    disallowed_tools: String,
    capabilities: String,
    risky_capabilities: String,
    instructions: String,
}

impl AgentFields {
    /// `description` is the tool's own declaration of that field: the two
    /// tools describe it differently.
    fn decode(args: &mut Args, description: &Text) -> Result<AgentFields, ArgError> {
        Ok(AgentFields {
            description: args.text(description)?,
            timeout: args.integer(&TIMEOUT)?,
            max_budget_usd: args.number(&BUDGET)?,
            permission_mode: args.text(&PERMISSION_MODE)?,
            allowed_tools: args.text(&ALLOWED_TOOLS)?,
            disallowed_tools: args.text(&DISALLOWED_TOOLS)?,
            capabilities: args.text(&CAPABILITIES)?,
            risky_capabilities: args.text(&RISKY_CAPABILITIES)?,
            instructions: args.text(&INSTRUCTIONS)?,
        })
    }

    /// The free texts that would be stored as given must be storable.
    fn check_texts(&self) -> Result<(), Invalid> {
        for (field, text) in [
            ("description", &self.description),
            ("capabilities", &self.capabilities),
            ("risky_capabilities", &self.risky_capabilities),
            ("instructions", &self.instructions),
        ] {
            rules::check_stored_text(text)
                .map_err(|problem| Invalid::StoredText { field, problem })?;
        }
        Ok(())
    }
}

/// `add_agent`'s arguments as given.
struct AddArgs {
    name: String,
    directory: String,
    fields: AgentFields,
}

impl AddArgs {
    fn decode(args: &mut Args) -> Result<AddArgs, ArgError> {
        Ok(AddArgs {
            name: args.text(&NEW_NAME)?,
            directory: args.text(&DIRECTORY)?,
            fields: AgentFields::decode(args, &NEW_DESCRIPTION)?,
        })
    }

    /// The agent to store, in the original's order of checks. Its
    /// description is left empty when none was given: guessing one reads
    /// the project's files, which waits until every argument passed.
    fn check(self) -> Result<Agent, Invalid> {
        rules::check_name(NameKind::Agent, &self.name).map_err(Invalid::Name)?;
        self.fields.check_texts()?;
        let directory =
            directory::project(Path::new(&self.directory)).map_err(|problem| match problem {
                ProjectDirError::Blank => Invalid::BlankDirectory,
                ProjectDirError::Unresolvable(reason) => Invalid::UnresolvableDirectory {
                    given: self.directory.clone(),
                    reason,
                },
                ProjectDirError::Missing(path) => Invalid::NoSuchDirectory(path),
                ProjectDirError::NotUtf8(path) => Invalid::DirectoryNotUtf8(path),
            })?;
        let mut agent = Agent::new(directory);
        agent.timeout = timeout(self.fields.timeout, "for the default of 300 seconds")?
            .unwrap_or(DEFAULT_AGENT_TIMEOUT);
        let budget = self.fields.max_budget_usd;
        if budget < 0.0 {
            return Err(Invalid::NegativeBudget(budget));
        }
        check_budget_ceiling(budget)?;
        agent.max_budget_usd = (budget > 0.0).then_some(budget);
        if !self.fields.permission_mode.is_empty() {
            agent.permission_mode =
                Some(flag_value("permission_mode", &self.fields.permission_mode)?);
        }
        // Tool lists are tri-state: "" inherits the settings default (None),
        // while "," is an explicit empty list.
        if !self.fields.allowed_tools.is_empty() {
            agent.allowed_tools = Some(tool_list("allowed_tools", &self.fields.allowed_tools)?);
        }
        if !self.fields.disallowed_tools.is_empty() {
            agent.disallowed_tools = Some(tool_list(
                "disallowed_tools",
                &self.fields.disallowed_tools,
            )?);
        }
        agent.capabilities = rules::split_csv(&self.fields.capabilities);
        agent.risky_capabilities = rules::split_csv(&self.fields.risky_capabilities);
        agent.instructions = self.fields.instructions.trim().to_owned();
        agent.description = self.fields.description;
        Ok(agent)
    }
}

fn add_agent(mut call: Call) -> Result<ToolResult, ArgError> {
    let args = AddArgs::decode(&mut call.args)?;
    call.args.finish()?;
    let name = args.name.clone();
    let mut agent = match args.check() {
        Ok(agent) => agent,
        Err(invalid) => return Ok(ToolResult::error(invalid.to_string())),
    };
    if agent.description.is_empty() {
        let files = backends::of(&agent).project_files();
        agent.description = project::auto_description(&agent.directory, &files);
    }
    let warnings: Vec<String> = agent
        .permission_mode
        .as_deref()
        .and_then(rules::permission_mode_warning)
        .into_iter()
        .collect();
    let answer = added(&name, &agent, &warnings);

    let outcome = store::mutate(&call.state.paths, |config: &mut Config| {
        if config.agents.contains_key(&name) {
            return Err(Refused::Exists(name.clone()));
        }
        // The yardstick is what an agent added without permission fields
        // gets: the settings defaults, which the user chose.
        let baseline = Agent::new(agent.directory.clone());
        if let Some(raise) = refused_raise(config, &baseline, &agent) {
            return Err(Refused::Grants {
                tool: "add_agent",
                name: name.clone(),
                raise: Box::new(raise),
                command: add_command(&name, &agent),
            });
        }
        config.agents.insert(name.clone(), agent);
        Ok(())
    });
    if let Err(err) = outcome {
        return Ok(not_changed(&call, "add_agent", err));
    }
    // A removed agent of the same name may have left answers behind.
    call.state.cache.invalidate_agent(&name);
    Ok(ToolResult::ok(answer))
}

/// The `add_agent` answer: what was stored, optional keys only when set.
fn added(name: &str, agent: &Agent, warnings: &[String]) -> Value {
    let mut out = Map::new();
    out.insert("added".into(), json!(name));
    // The directory was checked to be UTF-8.
    out.insert("directory".into(), json!(agent.directory.to_string_lossy()));
    out.insert("description".into(), json!(agent.description));
    if let Some(mode) = &agent.permission_mode {
        out.insert("permission_mode".into(), json!(mode));
    }
    for (key, list) in [
        (
            "allowed_tools",
            agent.allowed_tools.as_deref().unwrap_or(&[]),
        ),
        (
            "disallowed_tools",
            agent.disallowed_tools.as_deref().unwrap_or(&[]),
        ),
        ("capabilities", agent.capabilities.as_slice()),
        ("risky_capabilities", agent.risky_capabilities.as_slice()),
    ] {
        if !list.is_empty() {
            out.insert(key.into(), json!(list));
        }
    }
    if !agent.instructions.is_empty() {
        out.insert("instructions".into(), json!(agent.instructions));
    }
    if !warnings.is_empty() {
        out.insert("warnings".into(), json!(warnings));
    }
    Value::Object(out)
}

/// What `update_agent` will set, each field `None` when not given. Values
/// are final: "none" and CSV text are already turned into what is stored.
#[derive(Debug)]
struct Changes {
    description: Option<String>,
    timeout: Option<u64>,
    /// `Some(None)` clears the agent's own cap.
    max_budget_usd: Option<Option<f64>>,
    model: Option<Option<String>>,
    permission_mode: Option<Option<String>>,
    allowed_tools: Option<Option<Vec<String>>>,
    disallowed_tools: Option<Option<Vec<String>>>,
    capabilities: Option<Vec<String>>,
    risky_capabilities: Option<Vec<String>>,
    instructions: Option<String>,
}

impl Changes {
    /// `agent-dispatch update NAME` with the permission options of this
    /// change.
    fn update_command(&self, name: &str) -> String {
        let mut words = vec![
            "agent-dispatch".to_owned(),
            "update".to_owned(),
            shell_word(name).into_owned(),
        ];
        push_permission_options(
            &mut words,
            self.permission_mode.clone(),
            self.allowed_tools.clone(),
            self.disallowed_tools.clone(),
        );
        words.join(" ")
    }

    /// Applies the given fields in the original's order and returns their
    /// names in that order.
    fn apply(&self, agent: &mut Agent) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if let Some(text) = &self.description {
            agent.description = text.clone();
            fields.push("description");
        }
        if let Some(secs) = self.timeout {
            agent.timeout = secs;
            fields.push("timeout");
        }
        if let Some(usd) = self.max_budget_usd {
            agent.max_budget_usd = usd;
            fields.push("max_budget_usd");
        }
        if let Some(model) = &self.model {
            agent.model = model.clone();
            fields.push("model");
        }
        if let Some(mode) = &self.permission_mode {
            agent.permission_mode = mode.clone();
            fields.push("permission_mode");
        }
        if let Some(tools) = &self.allowed_tools {
            agent.allowed_tools = tools.clone();
            fields.push("allowed_tools");
        }
        if let Some(tools) = &self.disallowed_tools {
            agent.disallowed_tools = tools.clone();
            fields.push("disallowed_tools");
        }
        if let Some(labels) = &self.capabilities {
            agent.capabilities = labels.clone();
            fields.push("capabilities");
        }
        if let Some(labels) = &self.risky_capabilities {
            agent.risky_capabilities = labels.clone();
            fields.push("risky_capabilities");
        }
        if let Some(text) = &self.instructions {
            agent.instructions = text.clone();
            fields.push("instructions");
        }
        fields
    }
}

/// `""` is "not given"; `"none"` clears (`None`); anything else is checked
/// as a `claude` flag value.
fn optional_flag(field: &'static str, value: &str) -> Result<Option<Option<String>>, Invalid> {
    if value.is_empty() {
        Ok(None)
    } else if is_none(value) {
        Ok(Some(None))
    } else {
        flag_value(field, value).map(|v| Some(Some(v)))
    }
}

/// `""` is "not given"; `"none"` inherits the settings default again.
fn optional_tools(field: &'static str, csv: &str) -> Result<Option<Option<Vec<String>>>, Invalid> {
    if csv.is_empty() {
        Ok(None)
    } else if is_none(csv) {
        Ok(Some(None))
    } else {
        tool_list(field, csv).map(|tools| Some(Some(tools)))
    }
}

/// `""` is "not given"; `"none"` empties the list.
fn optional_labels(csv: &str) -> Option<Vec<String>> {
    if csv.is_empty() {
        None
    } else if is_none(csv) {
        Some(Vec::new())
    } else {
        Some(rules::split_csv(csv))
    }
}

/// `update_agent`'s arguments as given.
struct UpdateArgs {
    name: String,
    model: String,
    fields: AgentFields,
}

impl UpdateArgs {
    fn decode(args: &mut Args) -> Result<UpdateArgs, ArgError> {
        Ok(UpdateArgs {
            name: args.text(&AGENT_NAME)?,
            model: args.text(&MODEL)?,
            fields: AgentFields::decode(args, &DESCRIPTION)?,
        })
    }

    /// What to change. The name is not checked against the naming rule: an
    /// agent with an unusual hand-written name must stay reachable.
    fn check(self) -> Result<Changes, Invalid> {
        self.fields.check_texts()?;
        let timeout = timeout(self.fields.timeout, "to keep the agent's current value")?;
        let budget = self.fields.max_budget_usd;
        check_budget_ceiling(budget)?;
        let instructions = self.fields.instructions.trim();
        Ok(Changes {
            description: (!self.fields.description.is_empty()).then_some(self.fields.description),
            timeout,
            // A negative budget is this tool's way to clear the cap.
            max_budget_usd: (budget != 0.0).then(|| (budget > 0.0).then_some(budget)),
            model: optional_flag("model", &self.model)?,
            permission_mode: optional_flag("permission_mode", &self.fields.permission_mode)?,
            allowed_tools: optional_tools("allowed_tools", &self.fields.allowed_tools)?,
            disallowed_tools: optional_tools("disallowed_tools", &self.fields.disallowed_tools)?,
            capabilities: optional_labels(&self.fields.capabilities),
            risky_capabilities: optional_labels(&self.fields.risky_capabilities),
            instructions: (!instructions.is_empty()).then(|| {
                if is_none(instructions) {
                    String::new()
                } else {
                    instructions.to_owned()
                }
            }),
        })
    }
}

fn update_agent(mut call: Call) -> Result<ToolResult, ArgError> {
    let args = UpdateArgs::decode(&mut call.args)?;
    call.args.finish()?;
    let name = args.name.clone();
    let changes = match args.check() {
        Ok(changes) => changes,
        Err(invalid) => return Ok(ToolResult::error(invalid.to_string())),
    };
    let warnings: Vec<String> = changes
        .permission_mode
        .as_ref()
        .and_then(Option::as_deref)
        .and_then(rules::permission_mode_warning)
        .into_iter()
        .collect();

    let outcome = store::mutate(&call.state.paths, |config: &mut Config| {
        let Some(agent) = config.agents.get_mut(&name) else {
            return Err(Refused::NotFound {
                name: name.clone(),
                available: names(config),
            });
        };
        let before = agent.clone();
        let fields = changes.apply(agent);
        if fields.is_empty() {
            return Err(Refused::NothingToUpdate);
        }
        let after = agent.clone();
        // Nothing is saved on an error, so the change applied above to the
        // loaded copy is dropped with it.
        if let Some(raise) = refused_raise(config, &before, &after) {
            return Err(Refused::Grants {
                tool: "update_agent",
                name: name.clone(),
                raise: Box::new(raise),
                command: changes.update_command(&name),
            });
        }
        Ok(fields)
    });
    let fields = match outcome {
        Ok(fields) => fields,
        Err(err) => return Ok(not_changed(&call, "update_agent", err)),
    };
    call.state.cache.invalidate_agent(&name);
    let mut answer = json!({"updated": name, "fields": fields});
    if !warnings.is_empty() {
        answer["warnings"] = json!(warnings);
    }
    Ok(ToolResult::ok(answer))
}

/// What a change from `before` to `after` would grant that an MCP caller
/// may not: nothing when the fresh config's settings let MCP callers grant
/// permissions.
fn refused_raise(config: &Config, before: &Agent, after: &Agent) -> Option<Raise> {
    if config.settings.mcp_may_grant {
        return None;
    }
    let settings = &config.settings;
    grants::raised(
        &Permissions::effective(before, settings),
        &Permissions::effective(after, settings),
    )
}

/// `agent-dispatch add NAME DIRECTORY` with the permission options that
/// give `agent` its permission fields.
fn add_command(name: &str, agent: &Agent) -> String {
    let mut words = vec![
        "agent-dispatch".to_owned(),
        "add".to_owned(),
        shell_word(name).into_owned(),
        shell_word(&agent.directory.to_string_lossy()).into_owned(),
    ];
    push_permission_options(
        &mut words,
        agent
            .permission_mode
            .as_ref()
            .map(|mode| Some(mode.clone())),
        agent.allowed_tools.as_ref().map(|list| Some(list.clone())),
        agent
            .disallowed_tools
            .as_ref()
            .map(|list| Some(list.clone())),
    );
    words.join(" ")
}

/// Appends `--permission-mode`, `--allowed-tools` and `--disallowed-tools`
/// for the fields given (`Some`); a field cleared (`Some(None)`) is `none`,
/// an explicit empty tool list `,` — the CLI's own spellings.
fn push_permission_options(
    words: &mut Vec<String>,
    mode: Option<Option<String>>,
    allowed: Option<Option<Vec<String>>>,
    disallowed: Option<Option<Vec<String>>>,
) {
    let csv = |list: Option<Vec<String>>| match list {
        None => "none".to_owned(),
        Some(list) if list.is_empty() => ",".to_owned(),
        Some(list) => list.join(","),
    };
    let options = [
        (
            "--permission-mode",
            mode.map(|m| m.unwrap_or_else(|| "none".into())),
        ),
        ("--allowed-tools", allowed.map(csv)),
        ("--disallowed-tools", disallowed.map(csv)),
    ];
    for (option, value) in options {
        if let Some(value) = value {
            words.push(option.to_owned());
            words.push(shell_word(&value).into_owned());
        }
    }
}

/// `word` as one POSIX shell word: as is when it holds only characters no
/// shell treats specially, else in single quotes.
fn shell_word(word: &str) -> Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

fn remove_agent(mut call: Call) -> Result<ToolResult, ArgError> {
    let name = call.args.text(&AGENT_NAME)?;
    call.args.finish()?;
    let outcome = store::mutate(&call.state.paths, |config: &mut Config| {
        if config.agents.shift_remove(&name).is_none() {
            return Err(Refused::NotFound {
                name: name.clone(),
                available: names(config),
            });
        }
        // Memberships are left as they are (a group may outlive a member
        // being re-added); the caller is told so it can tidy up.
        Ok(config
            .groups
            .iter()
            .filter(|(_, group)| group.has_member(&name))
            .map(|(group, _)| group.clone())
            .collect::<Vec<_>>())
    });
    let groups = match outcome {
        Ok(groups) => groups,
        Err(err) => return Ok(not_changed(&call, "remove_agent", err)),
    };
    call.state.cache.invalidate_agent(&name);
    let mut answer = json!({"removed": name});
    if !groups.is_empty() {
        let warnings: Vec<String> = groups
            .iter()
            .map(|group| {
                format!(
                    "group {} still lists {} as a member; update the group or edit agents.yaml",
                    repr_str(group),
                    repr_str(&name)
                )
            })
            .collect();
        answer["warnings"] = json!(warnings);
    }
    Ok(ToolResult::ok(answer))
}
