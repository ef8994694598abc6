//! The one model of a change to an agent, shared by the CLI (`add`,
//! `update`) and the MCP tools (`add_agent`, `update_agent`). Each editable
//! field is kept, cleared (back to what a new agent has) or set; its rule
//! (bounds, values that become `claude` flags, texts that may be stored)
//! is checked here as the value is given, once, and `apply` writes the
//! patch into an `Agent`. The surfaces only read their own syntax (options,
//! JSON arguments, what "not given" looks like) into a patch, and name the
//! field as they spell it; the wording of every problem and its fix lives
//! in `FieldError`. Knows nothing about either surface. Adding a key to
//! `Agent` means a `Field`, a member here, its arm in `set` and in `apply`,
//! and one line in each surface's option or parameter table.

use std::fmt;
use std::path::{Path, PathBuf};

use super::backend_name::BackendName;
use super::directory::{self, DirectoryError, ProjectDirError};
use super::remote::{self, RemoteProblem, SshTarget};
use super::rules::{self, FlagValueProblem, StoredTextProblem};
use super::schema::{Agent, DEFAULT_AGENT_TIMEOUT, MAX_BUDGET_USD, MAX_TIMEOUT_SECS, MAX_TURNS};
use crate::pyfmt::{repr_float, repr_str};

/// What a patch does to one field.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Edit<T> {
    #[default]
    Keep,
    /// Back to what `Agent::new` gives: unset, empty, or inheriting the
    /// settings default.
    Clear,
    Set(T),
}

impl<T> Edit<T> {
    /// `None` when kept, `Some(None)` when cleared, `Some(Some(value))`.
    pub fn change(&self) -> Option<Option<&T>> {
        match self {
            Edit::Keep => None,
            Edit::Clear => Some(None),
            Edit::Set(value) => Some(Some(value)),
        }
    }

    fn is_keep(&self) -> bool {
        matches!(self, Edit::Keep)
    }
}

/// The editable fields of an agent, in the original's order: the order
/// they are applied in and reported as changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Set only by the CLI's `update --directory`, from a path already
    /// checked by `project_directory` (see `AgentPatch::set_directory`).
    Directory,
    Description,
    Backend,
    Host,
    SshOptions,
    RemoteCli,
    Timeout,
    MaxBudgetUsd,
    Model,
    FallbackModel,
    Effort,
    MaxTurns,
    JsonSchema,
    PermissionMode,
    AllowedTools,
    DisallowedTools,
    Capabilities,
    RiskyCapabilities,
    Instructions,
}

impl Field {
    const ALL: [Field; 19] = [
        Field::Directory,
        Field::Description,
        Field::Backend,
        Field::Host,
        Field::SshOptions,
        Field::RemoteCli,
        Field::Timeout,
        Field::MaxBudgetUsd,
        Field::Model,
        Field::FallbackModel,
        Field::Effort,
        Field::MaxTurns,
        Field::JsonSchema,
        Field::PermissionMode,
        Field::AllowedTools,
        Field::DisallowedTools,
        Field::Capabilities,
        Field::RiskyCapabilities,
        Field::Instructions,
    ];

    /// The field a text or number under `key` sets; `None` for any other
    /// key, and for `directory`: a directory is resolved against the file
    /// system (`project_directory`), never set from a value as given. The
    /// MCP tools match their parameters by this key, so `add_agent`'s
    /// `directory` keeps its own decoding and `update_agent` (which has no
    /// such parameter) gains nothing.
    pub fn from_key(key: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .filter(|field| *field != Field::Directory)
            .find(|field| field.key() == key)
    }

    /// The field's key in `agents.yaml` (and in the MCP answers).
    pub fn key(self) -> &'static str {
        match self {
            Field::Directory => "directory",
            Field::Description => "description",
            Field::Backend => "backend",
            Field::Host => "host",
            Field::SshOptions => "ssh_options",
            Field::RemoteCli => "remote_cli",
            Field::Timeout => "timeout",
            Field::MaxBudgetUsd => "max_budget_usd",
            Field::Model => "model",
            Field::FallbackModel => "fallback_model",
            Field::Effort => "effort",
            Field::MaxTurns => "max_turns",
            Field::JsonSchema => "json_schema",
            Field::PermissionMode => "permission_mode",
            Field::AllowedTools => "allowed_tools",
            Field::DisallowedTools => "disallowed_tools",
            Field::Capabilities => "capabilities",
            Field::RiskyCapabilities => "risky_capabilities",
            Field::Instructions => "instructions",
        }
    }
}

/// A value as a surface received it. Text is what the CLI has for every
/// option; the MCP tools decode numbers as numbers.
#[derive(Debug, Clone, Copy)]
pub enum Given<'a> {
    Text(&'a str),
    Integer(i64),
    Number(f64),
}

/// A change to an agent, every field `Keep` until given.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentPatch {
    directory: Edit<PathBuf>,
    description: Edit<String>,
    backend: Edit<BackendName>,
    host: Edit<String>,
    ssh_options: Edit<Vec<String>>,
    remote_cli: Edit<String>,
    timeout: Edit<u64>,
    max_budget_usd: Edit<f64>,
    model: Edit<String>,
    fallback_model: Edit<String>,
    effort: Edit<String>,
    max_turns: Edit<u64>,
    json_schema: Edit<String>,
    permission_mode: Edit<String>,
    allowed_tools: Edit<Vec<String>>,
    disallowed_tools: Edit<Vec<String>>,
    capabilities: Edit<Vec<String>>,
    risky_capabilities: Edit<Vec<String>>,
    instructions: Edit<String>,
}

/// The word that clears a field, in any case and with any surrounding
/// whitespace.
fn is_none_word(text: &str) -> bool {
    text.trim().eq_ignore_ascii_case("none")
}

impl AgentPatch {
    pub fn is_empty(&self) -> bool {
        *self == AgentPatch::default()
    }

    /// Checks `given` against `field`'s rule and records it. `name` is the
    /// field as the caller's surface spells it (`--max-budget`,
    /// `max_budget_usd`); errors name it. For the fields that can be
    /// cleared, `none` clears; so does a blank model, permission mode or
    /// tool list, which could never be a `claude` flag value. A budget of
    /// 0 clears the agent's own cap.
    pub fn set(
        &mut self,
        field: Field,
        name: &'static str,
        given: Given,
    ) -> Result<(), FieldError> {
        let clears = match given {
            Given::Text(text) => is_none_word(text) || text.trim().is_empty(),
            Given::Integer(_) | Given::Number(_) => false,
        };
        let text = text_of(given);
        match field {
            Field::Directory => {
                return Err(FieldError {
                    name,
                    problem: Problem::DirectoryNotAValue,
                });
            }
            Field::Description => self.description = Edit::Set(stored_text(name, &text)?),
            Field::Backend => self.backend = clear_or(clears, || backend(name, &text))?,
            Field::Host => {
                self.host = clear_or(clears, || {
                    remote_value(name, SshTarget::parse(text.trim()).map(|t| t.to_string()))
                })?;
            }
            Field::SshOptions => {
                self.ssh_options = clear_or(clears, || {
                    remote::split_options(&text)
                        .iter()
                        .map(|option| remote_value(name, remote::ssh_option(option)))
                        .collect()
                })?;
            }
            Field::RemoteCli => {
                self.remote_cli =
                    clear_or(clears, || remote_value(name, remote::remote_cli(&text)))?;
            }
            Field::Timeout => self.timeout = Edit::Set(seconds(name, given)?),
            Field::MaxBudgetUsd => {
                let usd = dollars(name, given)?;
                self.max_budget_usd = if usd == 0.0 {
                    Edit::Clear
                } else {
                    Edit::Set(usd)
                };
            }
            Field::Model => self.model = clear_or(clears, || flag_value(name, &text))?,
            Field::FallbackModel => {
                self.fallback_model = clear_or(clears, || flag_value(name, &text))?;
            }
            Field::Effort => self.effort = clear_or(clears, || effort(name, &text))?,
            Field::MaxTurns => self.max_turns = clear_or(clears, || turns(name, given))?,
            Field::JsonSchema => {
                self.json_schema = clear_or(clears, || {
                    super::json_schema::from_text(&text).ok_or(FieldError {
                        name,
                        problem: Problem::NotASchema,
                    })
                })?;
            }
            Field::PermissionMode => {
                self.permission_mode = clear_or(clears, || flag_value(name, &text))?;
            }
            Field::AllowedTools => {
                self.allowed_tools = clear_or(clears, || tool_list(name, &text))?;
            }
            Field::DisallowedTools => {
                self.disallowed_tools = clear_or(clears, || tool_list(name, &text))?;
            }
            Field::Capabilities => self.capabilities = labels(name, &text)?,
            Field::RiskyCapabilities => self.risky_capabilities = labels(name, &text)?,
            Field::Instructions => {
                let text = stored_text(name, &text)?;
                self.instructions = if is_none_word(&text) {
                    Edit::Clear
                } else {
                    Edit::Set(text.trim().to_owned())
                };
            }
        }
        Ok(())
    }

    /// Moves the agent to `directory`, a path `project_directory` checked
    /// and resolved (the surface does that in its acting layer: it reads
    /// the file system).
    pub fn set_directory(&mut self, directory: PathBuf) {
        self.directory = Edit::Set(directory);
    }

    /// Clears the agent's own cap (the MCP `update_agent` spelling of a
    /// negative budget).
    pub fn clear_budget(&mut self) {
        self.max_budget_usd = Edit::Clear;
    }

    /// Whether a description was given: a new agent without one gets one
    /// guessed from its project.
    pub fn gives_description(&self) -> bool {
        !self.description.is_keep()
    }

    pub fn backend(&self) -> &Edit<BackendName> {
        &self.backend
    }

    pub fn host_edit(&self) -> &Edit<String> {
        &self.host
    }

    /// The host a patch gives, if any: a new agent's directory is then a
    /// path on that host.
    pub fn host(&self) -> Option<&str> {
        match &self.host {
            Edit::Set(host) => Some(host),
            Edit::Keep | Edit::Clear => None,
        }
    }

    pub fn permission_mode(&self) -> &Edit<String> {
        &self.permission_mode
    }

    pub fn allowed_tools(&self) -> &Edit<Vec<String>> {
        &self.allowed_tools
    }

    pub fn disallowed_tools(&self) -> &Edit<Vec<String>> {
        &self.disallowed_tools
    }

    /// The warning for a permission mode this tool does not know (never an
    /// error: newer `claude` versions add modes).
    pub fn warning(&self) -> Option<String> {
        match &self.permission_mode {
            Edit::Set(mode) => rules::permission_mode_warning(mode),
            Edit::Keep | Edit::Clear => None,
        }
    }

    /// Writes the patch into `agent` and returns the fields it touched, in
    /// `Field` order.
    pub fn apply(&self, agent: &mut Agent) -> Vec<Field> {
        let fresh = Agent::new(agent.directory.clone());
        let mut touched = Vec::new();
        let mut put = |field: Field, touches: bool| {
            if touches {
                touched.push(field);
            }
        };
        put(
            Field::Directory,
            write(
                &self.directory,
                &mut agent.directory,
                PathBuf::clone,
                &fresh.directory,
            ),
        );
        put(
            Field::Description,
            write(
                &self.description,
                &mut agent.description,
                |text| text.clone(),
                &fresh.description,
            ),
        );
        put(
            Field::Backend,
            write(&self.backend, &mut agent.backend, |b| Some(*b), &None),
        );
        put(
            Field::Host,
            write(&self.host, &mut agent.host, |h| Some(h.clone()), &None),
        );
        put(
            Field::SshOptions,
            write(
                &self.ssh_options,
                &mut agent.ssh_options,
                Vec::clone,
                &fresh.ssh_options,
            ),
        );
        put(
            Field::RemoteCli,
            write(
                &self.remote_cli,
                &mut agent.remote_cli,
                |c| Some(c.clone()),
                &None,
            ),
        );
        put(
            Field::Timeout,
            write(
                &self.timeout,
                &mut agent.timeout,
                |secs| *secs,
                &DEFAULT_AGENT_TIMEOUT,
            ),
        );
        put(
            Field::MaxBudgetUsd,
            write(
                &self.max_budget_usd,
                &mut agent.max_budget_usd,
                |usd| Some(*usd),
                &None,
            ),
        );
        put(
            Field::Model,
            write(&self.model, &mut agent.model, |m| Some(m.clone()), &None),
        );
        put(
            Field::FallbackModel,
            write(
                &self.fallback_model,
                &mut agent.fallback_model,
                |m| Some(m.clone()),
                &None,
            ),
        );
        put(
            Field::Effort,
            write(&self.effort, &mut agent.effort, |e| Some(e.clone()), &None),
        );
        put(
            Field::MaxTurns,
            write(&self.max_turns, &mut agent.max_turns, |n| Some(*n), &None),
        );
        put(
            Field::JsonSchema,
            write(
                &self.json_schema,
                &mut agent.json_schema,
                |s| Some(s.clone()),
                &None,
            ),
        );
        put(
            Field::PermissionMode,
            write(
                &self.permission_mode,
                &mut agent.permission_mode,
                |m| Some(m.clone()),
                &None,
            ),
        );
        put(
            Field::AllowedTools,
            write(
                &self.allowed_tools,
                &mut agent.allowed_tools,
                |t| Some(t.clone()),
                &None,
            ),
        );
        put(
            Field::DisallowedTools,
            write(
                &self.disallowed_tools,
                &mut agent.disallowed_tools,
                |t| Some(t.clone()),
                &None,
            ),
        );
        put(
            Field::Capabilities,
            write(
                &self.capabilities,
                &mut agent.capabilities,
                Vec::clone,
                &fresh.capabilities,
            ),
        );
        put(
            Field::RiskyCapabilities,
            write(
                &self.risky_capabilities,
                &mut agent.risky_capabilities,
                Vec::clone,
                &fresh.risky_capabilities,
            ),
        );
        put(
            Field::Instructions,
            write(
                &self.instructions,
                &mut agent.instructions,
                String::clone,
                &fresh.instructions,
            ),
        );
        touched
    }
}

/// `Clear` when the value asks for it, else the checked value.
fn clear_or<T>(
    clears: bool,
    checked: impl FnOnce() -> Result<T, FieldError>,
) -> Result<Edit<T>, FieldError> {
    if clears {
        Ok(Edit::Clear)
    } else {
        checked().map(Edit::Set)
    }
}

/// A comma list of labels: a storable text; `none` empties the list.
fn labels(name: &'static str, csv: &str) -> Result<Edit<Vec<String>>, FieldError> {
    let csv = stored_text(name, csv)?;
    Ok(if is_none_word(&csv) {
        Edit::Clear
    } else {
        Edit::Set(rules::split_csv(&csv))
    })
}

/// Writes one edit into its agent member; `false` when kept.
fn write<T, S: Clone>(edit: &Edit<T>, slot: &mut S, set: impl Fn(&T) -> S, cleared: &S) -> bool {
    match edit {
        Edit::Keep => return false,
        Edit::Clear => *slot = cleared.clone(),
        Edit::Set(value) => *slot = set(value),
    }
    true
}

/// A number given for a text field, read as its text.
fn text_of(given: Given) -> String {
    match given {
        Given::Text(text) => text.to_owned(),
        Given::Integer(n) => n.to_string(),
        Given::Number(x) => repr_float(x),
    }
}

/// A positive whole number of seconds within the config's bound.
pub fn seconds(name: &'static str, given: Given) -> Result<u64, FieldError> {
    let error = |problem| FieldError { name, problem };
    let seconds: i128 = match given {
        Given::Integer(n) => i128::from(n),
        Given::Text(text) => text.trim().parse().map_err(|_| {
            error(Problem::NotANumber {
                value: text.to_owned(),
                expected: "a whole number of seconds",
            })
        })?,
        Given::Number(x) if x.fract() == 0.0 && x.abs() < 1e30 => x as i128,
        Given::Number(x) => {
            return Err(error(Problem::NotANumber {
                value: repr_float(x),
                expected: "a whole number of seconds",
            }));
        }
    };
    u64::try_from(seconds)
        .ok()
        .filter(|secs| (1..=MAX_TIMEOUT_SECS).contains(secs))
        .ok_or(error(Problem::Seconds(seconds)))
}

/// A finite, non-negative number of US dollars within the config's bound.
fn dollars(name: &'static str, given: Given) -> Result<f64, FieldError> {
    let error = |problem| FieldError { name, problem };
    let usd = match given {
        Given::Number(x) => x,
        Given::Integer(n) => n as f64,
        Given::Text(text) => text.trim().parse().map_err(|_| {
            error(Problem::NotANumber {
                value: text.to_owned(),
                expected: "a number of US dollars",
            })
        })?,
    };
    if !usd.is_finite() || !(0.0..=MAX_BUDGET_USD).contains(&usd) {
        return Err(error(Problem::Dollars(usd)));
    }
    Ok(usd)
}

/// A model or permission mode: trimmed, and refused if it could be read as
/// a `claude` option.
fn flag_value(name: &'static str, value: &str) -> Result<String, FieldError> {
    let trimmed = value.trim();
    check_flag(name, trimmed)?;
    Ok(trimmed.to_owned())
}

/// One of Claude Code's effort levels.
fn effort(name: &'static str, text: &str) -> Result<String, FieldError> {
    let level = text.trim();
    if rules::EFFORT_LEVELS.contains(&level) {
        Ok(level.to_owned())
    } else {
        Err(FieldError {
            name,
            problem: Problem::NotOneOf {
                value: text.to_owned(),
                choices: &rules::EFFORT_LEVELS,
            },
        })
    }
}

/// A positive number of turns within the config's bound.
fn turns(name: &'static str, given: Given) -> Result<u64, FieldError> {
    let error = |value: String| FieldError {
        name,
        problem: Problem::NotANumber {
            value,
            expected: "a whole number of turns from 1 to 10000",
        },
    };
    let turns = match given {
        Given::Integer(n) => u64::try_from(n).ok(),
        Given::Text(text) => text.trim().parse().ok(),
        Given::Number(x) if x.fract() == 0.0 && x >= 1.0 => Some(x as u64),
        Given::Number(_) => None,
    };
    turns
        .filter(|n| (1..=MAX_TURNS).contains(n))
        .ok_or_else(|| error(text_of(given)))
}

/// A remote setting checked by one of `remote`'s rules.
fn remote_value(
    name: &'static str,
    checked: Result<String, RemoteProblem>,
) -> Result<String, FieldError> {
    checked.map_err(|problem| FieldError {
        name,
        problem: Problem::Remote(problem),
    })
}

/// One of the agent CLIs this version knows, spelled exactly.
fn backend(name: &'static str, text: &str) -> Result<BackendName, FieldError> {
    BackendName::parse(text.trim()).ok_or_else(|| FieldError {
        name,
        problem: Problem::UnknownBackend(text.to_owned()),
    })
}

/// A comma list of tool names, each of which becomes a `claude` flag
/// value; `,` alone is an explicit empty list.
fn tool_list(name: &'static str, csv: &str) -> Result<Vec<String>, FieldError> {
    let tools = rules::split_csv(csv);
    for tool in &tools {
        check_flag(name, tool)?;
    }
    Ok(tools)
}

fn check_flag(name: &'static str, value: &str) -> Result<(), FieldError> {
    rules::check_flag_value(value).map_err(|problem| FieldError {
        name,
        problem: Problem::FlagValue {
            value: value.to_owned(),
            problem,
        },
    })
}

/// A free text that will be stored in `agents.yaml`, as given (see
/// `rules::check_stored_text`). Groups' texts are checked here too.
pub fn stored_text(name: &'static str, text: &str) -> Result<String, FieldError> {
    rules::check_stored_text(text).map_err(|problem| FieldError {
        name,
        problem: Problem::StoredText(problem),
    })?;
    Ok(text.to_owned())
}

/// The directory of a new remote agent: a path on its host, checked for
/// shape only (see `remote::remote_directory`); never resolved here.
pub fn remote_project_directory(
    name: &'static str,
    raw: &std::ffi::OsStr,
) -> Result<PathBuf, FieldError> {
    let text = raw.to_str().ok_or_else(|| FieldError {
        name,
        problem: Problem::DirectoryNotUtf8(PathBuf::from(raw)),
    })?;
    remote_value(name, remote::remote_directory(text)).map(PathBuf::from)
}

/// The directory of a new agent, checked and resolved (see
/// `directory::project`).
pub fn project_directory(name: &'static str, raw: &Path) -> Result<PathBuf, FieldError> {
    directory::project(raw).map_err(|problem| FieldError {
        name,
        problem: match problem {
            ProjectDirError::Blank => Problem::BlankDirectory,
            ProjectDirError::Unresolvable(reason) => Problem::UnresolvableDirectory {
                given: raw.to_string_lossy().into_owned(),
                reason,
            },
            ProjectDirError::Missing(path) => Problem::MissingDirectory(path),
            ProjectDirError::NotUtf8(path) => Problem::DirectoryNotUtf8(path),
        },
    })
}

/// A value that breaks its field's rule, found before the config is read.
#[derive(Debug)]
pub struct FieldError {
    /// The field as the surface that received it spells it.
    pub name: &'static str,
    pub problem: Problem,
}

#[derive(Debug)]
pub enum Problem {
    NotANumber {
        value: String,
        expected: &'static str,
    },
    /// Outside 1..=MAX_TIMEOUT_SECS.
    Seconds(i128),
    /// Negative, not finite, or above MAX_BUDGET_USD.
    Dollars(f64),
    FlagValue {
        value: String,
        problem: FlagValueProblem,
    },
    StoredText(StoredTextProblem),
    BlankDirectory,
    UnresolvableDirectory {
        given: String,
        reason: DirectoryError,
    },
    MissingDirectory(PathBuf),
    DirectoryNotUtf8(PathBuf),
    /// `set` of `Field::Directory`: a directory is checked on the file
    /// system first and then given to `set_directory`.
    DirectoryNotAValue,
    UnknownBackend(String),
    Remote(RemoteProblem),
    /// The agent leaves its host: its directory here must be given.
    DirectoryNeeded,
    /// A remote-only field on an agent without a host.
    NeedsHost,
    NotOneOf {
        value: String,
        choices: &'static [&'static str],
    },
    NotASchema,
}

impl FieldError {
    /// `name` is set on an agent without a host.
    pub fn needs_host(name: &'static str) -> FieldError {
        FieldError {
            name,
            problem: Problem::NeedsHost,
        }
    }

    /// `name` must be given: the agent leaves its host.
    pub fn directory_needed(name: &'static str) -> FieldError {
        FieldError {
            name,
            problem: Problem::DirectoryNeeded,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name;
        let path = |path: &Path| repr_str(&path.to_string_lossy());
        match &self.problem {
            Problem::NotANumber { value, expected } => {
                write!(f, "{name} expects {expected}, got {}.", repr_str(value))
            }
            Problem::Seconds(got) => write!(
                f,
                "{name} must be between 1 and {MAX_TIMEOUT_SECS} seconds (got {got})."
            ),
            Problem::Dollars(got) => write!(
                f,
                "{name} must be a finite number from 0 to {MAX_BUDGET_USD} US dollars (got {}).",
                repr_float(*got)
            ),
            Problem::FlagValue { value, problem } => {
                write!(f, "{name} value {} {problem}.", repr_str(value))
            }
            Problem::StoredText(problem) => write!(f, "{name} {problem}."),
            Problem::Remote(problem) => write!(f, "{name}: {problem}."),
            Problem::NeedsHost => write!(
                f,
                "{name} only means something for an agent on a host: give --host, or clear it ({name} none)."
            ),
            Problem::DirectoryNeeded => write!(
                f,
                "{name} is needed when --host is cleared: the agent's directory was a path on its host; give the project's directory here."
            ),
            Problem::NotOneOf { value, choices } => write!(
                f,
                "{name} must be one of {} (got {}).",
                choices.join(", "),
                repr_str(value)
            ),
            Problem::NotASchema => write!(
                f,
                "{name} expects a JSON Schema: a JSON object such as '{{\"type\":\"object\"}}'."
            ),
            Problem::UnknownBackend(given) => write!(
                f,
                "{name} {} is not an agent CLI this version knows; use one of {} (or none for settings.default_backend).",
                repr_str(given),
                BackendName::choices()
            ),
            Problem::BlankDirectory => write!(
                f,
                "{name} must not be empty; pass the project's path (absolute, or starting with '~')."
            ),
            Problem::UnresolvableDirectory { given, reason } => {
                write!(
                    f,
                    "{name} {} cannot be resolved: {reason}.",
                    repr_str(given)
                )
            }
            Problem::DirectoryNotAValue => write!(
                f,
                "{name} is a directory, checked on the file system when the command runs; pass it as add's DIRECTORY or update's --directory."
            ),
            Problem::MissingDirectory(resolved) => write!(
                f,
                "{name} {} is not an existing directory; create it or check the path.",
                path(resolved)
            ),
            Problem::DirectoryNotUtf8(resolved) => write!(
                f,
                "{name} {} is not valid UTF-8, which agents.yaml cannot store; rename it or pass a path through a symlink with a UTF-8 name.",
                path(resolved)
            ),
        }
    }
}

impl std::error::Error for FieldError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(field: Field, given: Given) -> Result<AgentPatch, FieldError> {
        let mut patch = AgentPatch::default();
        patch.set(field, "--x", given)?;
        Ok(patch)
    }

    #[test]
    fn timeouts_must_be_whole_positive_and_bounded() {
        assert_eq!(seconds("--timeout", Given::Text(" 600 ")).unwrap(), 600);
        assert_eq!(
            seconds("timeout", Given::Integer(604_800)).unwrap(),
            604_800
        );
        for bad in [
            "0",
            "-5",
            "1.5",
            "abc",
            "",
            "604801",
            "99999999999999999999999",
        ] {
            assert!(seconds("--timeout", Given::Text(bad)).is_err(), "{bad}");
        }
        assert_eq!(
            seconds("timeout", Given::Integer(-1))
                .unwrap_err()
                .to_string(),
            "timeout must be between 1 and 604800 seconds (got -1)."
        );
        assert_eq!(
            seconds("--timeout", Given::Text("1.5"))
                .unwrap_err()
                .to_string(),
            "--timeout expects a whole number of seconds, got '1.5'."
        );
    }

    #[test]
    fn budgets_must_be_finite_non_negative_and_bounded_and_zero_clears() {
        let budget = |text| set(Field::MaxBudgetUsd, Given::Text(text));
        assert_eq!(budget("1.5").unwrap().max_budget_usd, Edit::Set(1.5));
        assert_eq!(budget("0").unwrap().max_budget_usd, Edit::Clear);
        for bad in ["-1", "nan", "inf", "-inf", "1e400", "two", "1000001"] {
            let err = budget(bad).unwrap_err().to_string();
            assert!(err.starts_with("--x "), "{bad}: {err}");
        }
        assert_eq!(
            dollars("max_budget_usd", Given::Number(-1.0))
                .unwrap_err()
                .to_string(),
            "max_budget_usd must be a finite number from 0 to 1000000 US dollars (got -1.0)."
        );
    }

    #[test]
    fn flag_like_values_are_refused_and_none_or_blank_clears() {
        let err = set(Field::Model, Given::Text("--dangerously-skip-permissions")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--x value '--dangerously-skip-permissions' must not start with '-' (it would be read as a claude option)."
        );
        assert!(set(Field::AllowedTools, Given::Text("Read,--evil")).is_err());
        for clears in ["none", " NONE ", "", "  "] {
            let patch = set(Field::PermissionMode, Given::Text(clears)).unwrap();
            assert_eq!(patch.permission_mode, Edit::Clear, "{clears:?}");
        }
        let tools = set(Field::AllowedTools, Given::Text("Read, Bash(git log:*)")).unwrap();
        assert_eq!(
            tools.allowed_tools,
            Edit::Set(vec!["Read".into(), "Bash(git log:*)".into()])
        );
        let none = set(Field::DisallowedTools, Given::Text(",")).unwrap();
        assert_eq!(
            none.disallowed_tools,
            Edit::Set(Vec::new()),
            "',' is an empty list"
        );
    }

    #[test]
    fn stored_texts_refuse_a_nul_and_descriptions_keep_the_word_none() {
        for field in [
            Field::Description,
            Field::Capabilities,
            Field::RiskyCapabilities,
            Field::Instructions,
        ] {
            let err = set(field, Given::Text("a\0b")).unwrap_err().to_string();
            assert!(
                err.starts_with("--x must not contain a NUL character"),
                "{err}"
            );
        }
        let described = set(Field::Description, Given::Text("none")).unwrap();
        assert_eq!(described.description, Edit::Set("none".into()));
        let told = set(Field::Instructions, Given::Text(" None ")).unwrap();
        assert_eq!(told.instructions, Edit::Clear);
    }

    #[test]
    fn apply_sets_clears_to_a_new_agents_values_and_reports_in_field_order() {
        let mut agent = Agent::new("/p".into());
        agent.model = Some("opus".into());
        agent.capabilities = vec!["sql".into()];
        let mut patch = AgentPatch::default();
        patch
            .set(Field::Capabilities, "capabilities", Given::Text("none"))
            .unwrap();
        patch
            .set(Field::Model, "model", Given::Text("none"))
            .unwrap();
        patch
            .set(Field::Timeout, "timeout", Given::Integer(60))
            .unwrap();
        assert_eq!(
            patch.apply(&mut agent),
            [Field::Timeout, Field::Model, Field::Capabilities]
        );
        assert_eq!(agent.timeout, 60);
        assert_eq!(agent.model, None);
        assert!(agent.capabilities.is_empty());
        assert!(AgentPatch::default().apply(&mut agent).is_empty());
    }

    #[test]
    fn every_field_has_its_own_key() {
        for field in Field::ALL.into_iter().filter(|f| *f != Field::Directory) {
            assert_eq!(Field::from_key(field.key()), Some(field));
        }
        assert_eq!(Field::Directory.key(), "directory");
        assert_eq!(Field::from_key("directory"), None);
    }
}
