//! `add_agent`, `update_agent`, `remove_agent`: an orchestrator changing
//! `agents.yaml`. Each tool decodes its arguments and checks them in full
//! (names, directory, bounds, values that will become `claude` flags)
//! before anything is read; the change itself is one `store::mutate` —
//! lock, reload, change, save — and afterwards that agent's cached
//! dispatch results are dropped, because they answered the old config.
//! The arguments naming agent fields are read into the `AgentPatch` the
//! CLI uses too (`config::patch`), which checks and words every value.
//!
//! Unlike the CLI, these tools are driven by a model, which must not be able
//! to grant itself power: a change that raises an agent's permissions (see
//! `config::grants`) is refused, checked on the fresh config inside the
//! lock, unless the user set `settings.mcp_may_grant`. The refusal names
//! the `agent-dispatch` command a person runs instead. Lowering is allowed.

use std::fmt;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::args::{ArgError, Args};
use super::discovery::AGENT_NAME;
use super::params::{self, Integer, Number, Param, Params, Text};
use super::{Body, Call, Kind, Tool, ToolResult, config_unloadable};
use crate::config::grants::{self, Permissions, Raise};
use crate::config::patch::{self, AgentPatch, Edit, Field, FieldError, Given};
use crate::config::rules::{self, InvalidName, NameKind};
use crate::config::store::{self, MutateError, SaveError};
use crate::config::{Agent, Config, Settings};
use crate::pyfmt::repr_str;
use crate::runner::backends::{
    self,
    unsupported::{self, Unsupported},
};
use crate::state::flock::LockError;

const NEW_NAME: Text = Text::required("name", "Letters, digits, - and _.");
const DIRECTORY: Text = Text::required("directory", "Project directory ('~' expanded).");
const DESCRIPTION: Text = Text::optional("description", "What it is for.");
/// Checked by the tool, not clamped: a bad timeout is refused by name.
const TIMEOUT: Integer = Integer::as_given("timeout", 0, "Seconds, max 604800.");
const BUDGET: Number = Number::new("max_budget_usd", 0.0).described("USD cap per dispatch.");
const MODEL: Text = Text::optional("model", "e.g. sonnet or opus.");
const BACKEND: Text = Text::optional("backend", "claude, codex, gemini or opencode.");
const PERMISSION_MODE: Text = Text::optional("permission_mode", "e.g. plan (README: per backend).");
const ALLOWED_TOOLS: Text = Text::optional(
    "allowed_tools",
    "Tools it may use, e.g. 'Read,Bash(git *)'.",
);
const DISALLOWED_TOOLS: Text = Text::optional("disallowed_tools", "Tools it may not use.");
const CAPABILITIES: Text = Text::optional("capabilities", "What it can do.");
const RISKY_CAPABILITIES: Text = Text::optional("risky_capabilities", "Risky things it can do.");
const INSTRUCTIONS: Text = Text::optional("instructions", "Standing orders.");

/// The CLI and limits both `add_agent` and `update_agent` take.
const LIMITS: &[Param] = &[
    Param::Text(BACKEND),
    Param::Integer(TIMEOUT),
    Param::Number(BUDGET),
];
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
        Param::Text(DESCRIPTION),
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
            description: "Register a project directory as an agent (empty description: guessed from its files; timeout, max_budget_usd 0: defaults). Lists are comma-separated.",
            params: ADD_AGENT,
            kind: Kind::Changes,
            body: Body::Run(add_agent),
        },
        Tool {
            name: "update_agent",
            description: "Change an agent: empty or 0 = no change, a negative budget = no cap, \"none\" clears a field (tool lists then inherit). Returns the changed fields.",
            params: UPDATE_AGENT,
            kind: Kind::Changes,
            body: Body::Run(update_agent),
        },
        Tool {
            name: "remove_agent",
            description: "Remove an agent from the config (its directory is not touched); groups still listing it are named in `warnings`.",
            params: REMOVE_AGENT,
            kind: Kind::Destructive,
            body: Body::Run(remove_agent),
        },
    ]
}

/// An argument that decoded fine but breaks a config rule. Found before the
/// config is touched, so nothing has been written.
#[derive(Debug)]
enum Invalid {
    Name(InvalidName),
    Field(FieldError),
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Name(err) => err.fmt(f),
            Invalid::Field(err) => err.fmt(f),
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
    /// The agent's CLI cannot honour one of its settings.
    Unsupported {
        tool: &'static str,
        name: String,
        problem: Unsupported,
    },
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
            Refused::Unsupported {
                tool,
                name,
                problem,
            } => write!(f, "{tool} did not save agent {}: {problem}", repr_str(name)),
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

/// What a negative `max_budget_usd` means to a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NegativeBudget {
    /// `add_agent`: a value like any other, refused by the budget's rule.
    Refused,
    /// `update_agent`: removes the agent's own cap.
    Clears,
}

/// An argument naming an agent field, decoded but not yet checked.
enum Decoded {
    Text(String),
    Integer(i64),
    Number(f64),
}

/// Every argument of the tool's `params` that names an agent field (the
/// argument is the field's key), decoded in table order. Decoding them all
/// before checking any keeps a malformed argument an `invalid params`
/// error whatever else is wrong.
fn decode_fields(
    args: &mut Args,
    params: Params,
) -> Result<Vec<(Field, &'static str, Decoded)>, ArgError> {
    let mut fields = Vec::new();
    for param in params::each(params) {
        let Some(field) = Field::from_key(param.name()) else {
            continue;
        };
        let decoded = match param {
            Param::Text(text) => Decoded::Text(args.text(text)?),
            Param::Integer(integer) => Decoded::Integer(args.integer(integer)?),
            Param::Number(number) => Decoded::Number(args.number(number)?),
            Param::Boolean(_) => continue,
        };
        fields.push((field, param.name(), decoded));
    }
    Ok(fields)
}

/// The patch the decoded fields ask for. Only given arguments count: a
/// blank text and a 0 are "not given"; everything else is checked by the
/// field's rule in `config::patch`.
fn patch_of(
    fields: &[(Field, &'static str, Decoded)],
    negative_budget: NegativeBudget,
) -> Result<AgentPatch, Invalid> {
    let mut patch = AgentPatch::default();
    for (field, name, decoded) in fields {
        let given = match decoded {
            Decoded::Text(text) if text.trim().is_empty() => continue,
            Decoded::Integer(0) => continue,
            Decoded::Number(usd) if *usd == 0.0 => continue,
            Decoded::Number(usd) if *usd < 0.0 && negative_budget == NegativeBudget::Clears => {
                patch.clear_budget();
                continue;
            }
            Decoded::Text(text) => Given::Text(text),
            Decoded::Integer(n) => Given::Integer(*n),
            Decoded::Number(x) => Given::Number(*x),
        };
        patch.set(*field, name, given).map_err(Invalid::Field)?;
    }
    Ok(patch)
}

/// `add_agent`'s arguments as given.
struct AddArgs {
    name: String,
    directory: String,
    fields: Vec<(Field, &'static str, Decoded)>,
}

impl AddArgs {
    fn decode(args: &mut Args) -> Result<AddArgs, ArgError> {
        Ok(AddArgs {
            name: args.text(&NEW_NAME)?,
            directory: args.text(&DIRECTORY)?,
            fields: decode_fields(args, ADD_AGENT)?,
        })
    }

    /// The agent to store and the patch that made it. Its description is
    /// left empty when none was given: guessing one reads the project's
    /// files, which waits until every argument passed.
    fn check(self) -> Result<(Agent, AgentPatch), Invalid> {
        rules::check_name(NameKind::Agent, &self.name).map_err(Invalid::Name)?;
        let patch = patch_of(&self.fields, NegativeBudget::Refused)?;
        let directory = patch::project_directory(DIRECTORY.name, Path::new(&self.directory))
            .map_err(Invalid::Field)?;
        let mut agent = Agent::new(directory);
        patch.apply(&mut agent);
        Ok((agent, patch))
    }
}

fn add_agent(mut call: Call) -> Result<ToolResult, ArgError> {
    let args = AddArgs::decode(&mut call.args)?;
    call.args.finish()?;
    let name = args.name.clone();
    let (mut agent, patch) = match args.check() {
        Ok(checked) => checked,
        Err(invalid) => return Ok(ToolResult::error(invalid.to_string())),
    };
    if !patch.gives_description() {
        let backend = match call.config() {
            Ok(config) => agent.backend_name(&config.settings),
            Err(_) => agent.backend.unwrap_or_default(),
        };
        agent.description = crate::views::agents::guessed_description(&agent, backend);
    }
    let warnings: Vec<String> = patch.warning().into_iter().collect();
    let answer = added(&name, &agent, &warnings);

    let outcome = store::mutate(&call.state.paths, |config: &mut Config| {
        if config.agents.contains_key(&name) {
            return Err(Refused::Exists(name.clone()));
        }
        // The yardstick is what an agent added without permission fields
        // gets: the settings defaults, which the user chose.
        let baseline = Agent::new(agent.directory.clone());
        if let Some(raise) = refused_raise(&config.settings, &baseline, &agent) {
            return Err(Refused::Grants {
                tool: "add_agent",
                name: name.clone(),
                raise: Box::new(raise),
                command: add_command(&name, &agent),
            });
        }
        supported("add_agent", &name, &agent, &config.settings)?;
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

/// `agent-dispatch update NAME` with the permission options of `patch`.
fn update_command(name: &str, patch: &AgentPatch) -> String {
    let mut words = vec![
        "agent-dispatch".to_owned(),
        "update".to_owned(),
        crate::shell::quote(name).into_owned(),
    ];
    if let Some(Some(backend)) = patch.backend().change() {
        words.extend(["--backend".to_owned(), backend.to_string()]);
    }
    push_permission_options(
        &mut words,
        patch.permission_mode(),
        patch.allowed_tools(),
        patch.disallowed_tools(),
    );
    words.join(" ")
}

/// `update_agent`'s arguments as given. The name is not checked against
/// the naming rule: an agent with an unusual hand-written name must stay
/// reachable.
struct UpdateArgs {
    name: String,
    fields: Vec<(Field, &'static str, Decoded)>,
}

impl UpdateArgs {
    fn decode(args: &mut Args) -> Result<UpdateArgs, ArgError> {
        Ok(UpdateArgs {
            name: args.text(&AGENT_NAME)?,
            fields: decode_fields(args, UPDATE_AGENT)?,
        })
    }
}

fn update_agent(mut call: Call) -> Result<ToolResult, ArgError> {
    let args = UpdateArgs::decode(&mut call.args)?;
    call.args.finish()?;
    let name = args.name;
    let patch = match patch_of(&args.fields, NegativeBudget::Clears) {
        Ok(patch) => patch,
        Err(invalid) => return Ok(ToolResult::error(invalid.to_string())),
    };
    let warnings: Vec<String> = patch.warning().into_iter().collect();

    let outcome = store::mutate(&call.state.paths, |config: &mut Config| {
        let Some(agent) = config.agents.get_mut(&name) else {
            return Err(Refused::NotFound {
                name: name.clone(),
                available: names(config),
            });
        };
        let before = agent.clone();
        let fields: Vec<&str> = patch.apply(agent).into_iter().map(Field::key).collect();
        if fields.is_empty() {
            return Err(Refused::NothingToUpdate);
        }
        supported("update_agent", &name, agent, &config.settings)?;
        // Nothing is saved on an error, so the change applied above to the
        // loaded copy is dropped with it.
        if let Some(raise) = refused_raise(&config.settings, &before, agent) {
            return Err(Refused::Grants {
                tool: "update_agent",
                name: name.clone(),
                raise: Box::new(raise),
                command: update_command(&name, &patch),
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

/// Refuses an agent whose CLI cannot honour one of its settings.
fn supported(
    tool: &'static str,
    name: &str,
    agent: &Agent,
    settings: &Settings,
) -> Result<(), Refused> {
    unsupported::check(backends::of(agent, settings), agent, settings).map_err(|problem| {
        Refused::Unsupported {
            tool,
            name: name.to_owned(),
            problem,
        }
    })
}

/// What a change from `before` to `after` would grant that an MCP caller
/// may not: nothing when the fresh config's settings let MCP callers grant
/// permissions.
fn refused_raise(settings: &Settings, before: &Agent, after: &Agent) -> Option<Raise> {
    if settings.mcp_may_grant {
        return None;
    }
    let raise = grants::raised(
        &Permissions::effective(before, settings),
        &Permissions::effective(after, settings),
    );
    let (was, now) = (before.backend_name(settings), after.backend_name(settings));
    if was == now {
        return raise;
    }
    let backend = Some((was.to_string(), now.to_string()));
    Some(match raise {
        Some(raise) => Raise { backend, ..raise },
        None => Raise {
            mode: None,
            allowed_gained: Vec::new(),
            disallowed_lost: Vec::new(),
            backend,
        },
    })
}

/// `agent-dispatch add NAME DIRECTORY` with the permission options that
/// give `agent` its permission fields.
fn add_command(name: &str, agent: &Agent) -> String {
    let mut words = vec![
        "agent-dispatch".to_owned(),
        "add".to_owned(),
        crate::shell::quote(name).into_owned(),
        crate::shell::quote(&agent.directory.to_string_lossy()).into_owned(),
    ];
    if let Some(backend) = agent.backend {
        words.extend(["--backend".to_owned(), backend.to_string()]);
    }
    push_permission_options(
        &mut words,
        &given(&agent.permission_mode),
        &given(&agent.allowed_tools),
        &given(&agent.disallowed_tools),
    );
    words.join(" ")
}

/// A field the new agent leaves unset needs no option.
fn given<T: Clone>(field: &Option<T>) -> Edit<T> {
    field.clone().map_or(Edit::Keep, Edit::Set)
}

/// Appends `--permission-mode`, `--allowed-tools` and `--disallowed-tools`
/// for the fields not kept; a field cleared is `none`, an explicit empty
/// tool list `,` — the CLI's own spellings.
fn push_permission_options(
    words: &mut Vec<String>,
    mode: &Edit<String>,
    allowed: &Edit<Vec<String>>,
    disallowed: &Edit<Vec<String>>,
) {
    let csv = |list: Option<&Vec<String>>| match list {
        None => "none".to_owned(),
        Some(list) if list.is_empty() => ",".to_owned(),
        Some(list) => list.join(","),
    };
    let options = [
        (
            "--permission-mode",
            mode.change()
                .map(|m| m.map_or("none", String::as_str).to_owned()),
        ),
        ("--allowed-tools", allowed.change().map(csv)),
        ("--disallowed-tools", disallowed.change().map(csv)),
    ];
    for (option, value) in options {
        if let Some(value) = value {
            words.push(option.to_owned());
            words.push(crate::shell::quote(&value).into_owned());
        }
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
