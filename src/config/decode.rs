//! Decodes the raw YAML tree into the typed schema, the way the original
//! (pydantic, lax mode) does: integers from numeric strings and integral
//! floats, booleans from `yes`/`no`/`on`/`off`, unknown keys kept aside.
//! Then our own stricter rules: finite, bounded numbers, and no value that
//! could become a `claude` option. Every error names the key path.

use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::backend_name::BackendName;
use super::directory::{self, DirectoryError};
use super::json_schema;
use super::remote::{self, RemoteProblem, SshTarget};
use super::rules::{self, FlagValueProblem, NameKind};
use super::schema::*;
use super::yaml::{Yaml, YamlMap};

/// A value in the file that does not fit the schema.
#[derive(Debug)]
pub struct SchemaError {
    /// Dotted path of the offending key, e.g. `agents.web.timeout`.
    pub key: String,
    pub problem: Problem,
}

#[derive(Debug)]
pub enum Problem {
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    NotWhole(f64),
    NonFinite,
    OutOfRange {
        min: String,
        max: String,
        found: String,
    },
    Missing,
    NotAFlagValue {
        value: String,
        problem: FlagValueProblem,
    },
    InvalidName(String),
    Directory(DirectoryError),
    UnknownBackend(String),
    Remote(RemoteProblem),
    /// A key that only means something for an agent with a `host`.
    NeedsHost,
    NotOneOf {
        value: String,
        choices: &'static [&'static str],
    },
    NotASchema,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.key)?;
        match &self.problem {
            Problem::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            Problem::NotWhole(value) => write!(f, "expected a whole number, found {value}"),
            Problem::NonFinite => f.write_str("must be a finite number (not .nan or .inf)"),
            Problem::OutOfRange { min, max, found } => {
                write!(f, "must be between {min} and {max}, found {found}")
            }
            Problem::Missing => f.write_str("is required"),
            Problem::NotAFlagValue { value, problem } => write!(f, "{value:?} {problem}"),
            Problem::InvalidName(name) => write!(
                f,
                "{name:?} is not a valid name: use letters, digits, '-' and '_', starting with a letter or digit"
            ),
            Problem::Directory(err) => write!(f, "{err}"),
            Problem::Remote(problem) => write!(f, "{problem}"),
            Problem::NeedsHost => {
                f.write_str("only means something with a host: set host, or remove this key")
            }
            Problem::NotOneOf { value, choices } => {
                write!(f, "{value:?} is not one of {}", choices.join(", "))
            }
            Problem::UnknownBackend(name) => write!(
                f,
                "{name:?} is not an agent CLI this version knows: use one of {}",
                BackendName::choices()
            ),
            Problem::NotASchema => f.write_str(
                "expected a JSON Schema: a mapping (type: object, properties: …) or a string holding a JSON object",
            ),
        }
    }
}

impl std::error::Error for SchemaError {}

type Decoded<T> = Result<T, SchemaError>;

/// Decodes a whole document. `Null` (an empty file) is the default config.
pub fn decode_config(doc: Yaml) -> Decoded<Config> {
    let mut fields = match doc {
        Yaml::Null => return Ok(Config::default()),
        Yaml::Map(map) => Fields::new(map, ""),
        other => return Err(wrong_type("(top level)", "a mapping", &other)),
    };
    let agents = match fields.take("agents") {
        None | Some(Yaml::Null) => IndexMap::new(),
        Some(value) => decode_named(value, "agents", decode_agent)?,
    };
    let groups = match fields.take("groups") {
        None | Some(Yaml::Null) => IndexMap::new(),
        Some(value) => {
            let groups = decode_named(value, "groups", decode_group)?;
            if let Some(bad) = groups.keys().find(|name| !rules::is_valid_name(name)) {
                return Err(SchemaError {
                    key: format!("groups.{bad}"),
                    problem: Problem::InvalidName(bad.clone()),
                });
            }
            groups
        }
    };
    let settings = match fields.take("settings") {
        None | Some(Yaml::Null) => Settings::default(),
        Some(value) => decode_settings(value)?,
    };
    Ok(Config {
        agents,
        groups,
        settings,
        extra: fields.rest(),
    })
}

fn decode_named<T>(
    value: Yaml,
    key: &str,
    decode_one: fn(Yaml, &str) -> Decoded<T>,
) -> Decoded<IndexMap<String, T>> {
    let Yaml::Map(entries) = value else {
        return Err(wrong_type(key, "a mapping of names", &value));
    };
    entries
        .into_iter()
        .map(|(name, body)| {
            let path = format!("{key}.{name}");
            decode_one(body, &path).map(|item| (name, item))
        })
        .collect()
}

fn decode_agent(value: Yaml, key: &str) -> Decoded<Agent> {
    let mut f = Fields::from_value(value, key)?;
    let host = f.optional_remote("host", |text| {
        SshTarget::parse(text).map(|target| target.to_string())
    })?;
    let directory = match f.take("directory") {
        // A remote agent's directory is the host's to resolve.
        Some(Yaml::Str(raw)) if host.is_some() => remote::remote_directory(&raw)
            .map(PathBuf::from)
            .map_err(|err| SchemaError {
                key: f.path("directory"),
                problem: Problem::Remote(err),
            })?,
        Some(Yaml::Str(raw)) => directory::resolve(Path::new(&raw)).map_err(|err| SchemaError {
            key: f.path("directory"),
            problem: Problem::Directory(err),
        })?,
        None | Some(Yaml::Null) => {
            return Err(SchemaError {
                key: f.path("directory"),
                problem: Problem::Missing,
            });
        }
        Some(other) => return Err(wrong_type(&f.path("directory"), "a string", &other)),
    };
    check_remote_keys(
        Agent {
            directory,
            description: f.string("description", "")?,
            backend: f.optional_backend("backend")?,
            ssh_options: f
                .string_list("ssh_options")?
                .iter()
                .map(|option| remote::ssh_option(option))
                .collect::<Result<_, _>>()
                .map_err(|err| SchemaError {
                    key: f.path("ssh_options"),
                    problem: Problem::Remote(err),
                })?,
            remote_cli: f.optional_remote("remote_cli", remote::remote_cli)?,
            host,
            timeout: f.integer("timeout", DEFAULT_AGENT_TIMEOUT, 0, MAX_TIMEOUT_SECS)?,
            max_budget_usd: f.optional_budget("max_budget_usd")?,
            model: f.optional_flag_value("model")?,
            fallback_model: f.optional_flag_value("fallback_model")?,
            effort: f.optional_effort("effort")?,
            max_turns: f.optional_integer("max_turns", 1, MAX_TURNS)?,
            json_schema: f.optional_json_schema("json_schema")?,
            permission_mode: f.optional_flag_value("permission_mode")?,
            allowed_tools: f.optional_tool_list("allowed_tools")?,
            disallowed_tools: f.optional_tool_list("disallowed_tools")?,
            capabilities: f.string_list("capabilities")?,
            risky_capabilities: f.string_list("risky_capabilities")?,
            instructions: f.string("instructions", "")?,
            extra: f.rest(),
        },
        key,
    )
}

/// A remote-only key on an agent that has no host.
fn check_remote_keys(agent: Agent, key: &str) -> Decoded<Agent> {
    match remote::without_host(&agent) {
        Some(field) => Err(SchemaError {
            key: format!("{key}.{field}"),
            problem: Problem::NeedsHost,
        }),
        None => Ok(agent),
    }
}

fn decode_group(value: Yaml, key: &str) -> Decoded<Group> {
    let mut f = Fields::from_value(value, key)?;
    let description = f.string("description", "")?;
    let shared_context = f.string("shared_context", "")?;
    let members = match f.take("members") {
        None => Vec::new(),
        Some(Yaml::Seq(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| decode_member(item, &format!("{}[{i}]", f.path("members"))))
            .collect::<Decoded<_>>()?,
        Some(other) => return Err(wrong_type(&f.path("members"), "a list", &other)),
    };
    Ok(Group {
        description,
        shared_context,
        members,
        extra: f.rest(),
    })
}

fn decode_member(value: Yaml, key: &str) -> Decoded<GroupMember> {
    let mut f = Fields::from_value(value, key)?;
    let agent = match f.take("agent") {
        Some(Yaml::Str(name)) => name,
        None | Some(Yaml::Null) => {
            return Err(SchemaError {
                key: f.path("agent"),
                problem: Problem::Missing,
            });
        }
        Some(other) => return Err(wrong_type(&f.path("agent"), "a string", &other)),
    };
    if rules::check_name(NameKind::Agent, &agent).is_err() {
        return Err(SchemaError {
            key: f.path("agent"),
            problem: Problem::InvalidName(agent),
        });
    }
    Ok(GroupMember {
        agent,
        use_for: f.string("use_for", "")?,
        extra: f.rest(),
    })
}

fn decode_settings(value: Yaml) -> Decoded<Settings> {
    let mut f = Fields::from_value(value, "settings")?;
    let defaults = Settings::default();
    Ok(Settings {
        default_backend: f.optional_backend("default_backend")?,
        default_timeout: f.integer(
            "default_timeout",
            defaults.default_timeout,
            1,
            MAX_TIMEOUT_SECS,
        )?,
        default_max_budget_usd: f.optional_budget("default_max_budget_usd")?,
        default_permission_mode: f.optional_flag_value("default_permission_mode")?,
        default_allowed_tools: f.tool_list("default_allowed_tools")?,
        default_disallowed_tools: f.tool_list("default_disallowed_tools")?,
        max_dispatch_depth: f.integer(
            "max_dispatch_depth",
            defaults.max_dispatch_depth,
            1,
            MAX_DISPATCH_DEPTH,
        )?,
        max_concurrency: f.integer(
            "max_concurrency",
            defaults.max_concurrency,
            1,
            MAX_CONCURRENCY,
        )?,
        cache: match f.take("cache") {
            None => CacheSettings::default(),
            Some(value) => decode_cache(value, &f.path("cache"))?,
        },
        job_retention_days: f.integer(
            "job_retention_days",
            defaults.job_retention_days,
            0,
            MAX_RETENTION_DAYS,
        )?,
        dispatch_protocol: f.boolean("dispatch_protocol", defaults.dispatch_protocol)?,
        usage_log: f.boolean("usage_log", defaults.usage_log)?,
        mcp_may_grant: f.boolean("mcp_may_grant", defaults.mcp_may_grant)?,
        extra: f.rest(),
    })
}

fn decode_cache(value: Yaml, key: &str) -> Decoded<CacheSettings> {
    let mut f = Fields::from_value(value, key)?;
    let defaults = CacheSettings::default();
    Ok(CacheSettings {
        enabled: f.boolean("enabled", defaults.enabled)?,
        ttl: f.integer("ttl", defaults.ttl, 0, MAX_CACHE_TTL_SECS)?,
        max_size: f.integer("max_size", defaults.max_size, 1, MAX_CACHE_SIZE)?,
        extra: f.rest(),
    })
}

fn wrong_type(key: &str, expected: &'static str, found: &Yaml) -> SchemaError {
    SchemaError {
        key: key.to_owned(),
        problem: Problem::WrongType {
            expected,
            found: found.kind(),
        },
    }
}

/// The keys of one mapping, consumed one known field at a time; whatever is
/// left over is kept verbatim.
struct Fields {
    map: YamlMap,
    prefix: String,
}

impl Fields {
    fn new(map: YamlMap, prefix: &str) -> Fields {
        Fields {
            map,
            prefix: prefix.to_owned(),
        }
    }

    fn from_value(value: Yaml, key: &str) -> Decoded<Fields> {
        match value {
            Yaml::Map(map) => Ok(Fields::new(map, key)),
            other => Err(wrong_type(key, "a mapping", &other)),
        }
    }

    fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn take(&mut self, key: &str) -> Option<Yaml> {
        self.map.shift_remove(key)
    }

    /// An integer within bounds when present (and not null).
    fn optional_integer(&mut self, key: &str, min: u64, max: u64) -> Decoded<Option<u64>> {
        match self.map.get(key) {
            None | Some(Yaml::Null) => {
                self.take(key);
                Ok(None)
            }
            Some(_) => self.integer(key, min, min, max).map(Some),
        }
    }

    fn rest(self) -> YamlMap {
        self.map
    }

    fn string(&mut self, key: &str, default: &str) -> Decoded<String> {
        match self.take(key) {
            None => Ok(default.to_owned()),
            Some(Yaml::Str(text)) => Ok(text),
            Some(other) => Err(wrong_type(&self.path(key), "a string", &other)),
        }
    }

    /// An optional string checked by `check` (one of `remote`'s rules).
    fn optional_remote(
        &mut self,
        key: &str,
        check: impl Fn(&str) -> Result<String, RemoteProblem>,
    ) -> Decoded<Option<String>> {
        match self.take(key) {
            None | Some(Yaml::Null) => Ok(None),
            Some(Yaml::Str(text)) => check(&text).map(Some).map_err(|err| SchemaError {
                key: self.path(key),
                problem: Problem::Remote(err),
            }),
            Some(other) => Err(wrong_type(&self.path(key), "a string", &other)),
        }
    }

    fn optional_backend(&mut self, key: &str) -> Decoded<Option<BackendName>> {
        match self.take(key) {
            None | Some(Yaml::Null) => Ok(None),
            Some(Yaml::Str(text)) => match BackendName::parse(text.trim()) {
                Some(name) => Ok(Some(name)),
                None => Err(SchemaError {
                    key: self.path(key),
                    problem: Problem::UnknownBackend(text),
                }),
            },
            Some(other) => Err(wrong_type(&self.path(key), "a string", &other)),
        }
    }

    /// A JSON Schema: a mapping, or a string holding a JSON object.
    fn optional_json_schema(&mut self, key: &str) -> Decoded<Option<String>> {
        match self.take(key) {
            None | Some(Yaml::Null) => Ok(None),
            Some(given) => json_schema::from_yaml(&given)
                .map(Some)
                .ok_or_else(|| SchemaError {
                    key: self.path(key),
                    problem: Problem::NotASchema,
                }),
        }
    }

    /// One of Claude Code's effort levels.
    fn optional_effort(&mut self, key: &str) -> Decoded<Option<String>> {
        let effort = self.optional_flag_value(key)?;
        match effort {
            Some(level) if !rules::EFFORT_LEVELS.contains(&level.as_str()) => Err(SchemaError {
                key: self.path(key),
                problem: Problem::NotOneOf {
                    value: level,
                    choices: &rules::EFFORT_LEVELS,
                },
            }),
            other => Ok(other),
        }
    }

    fn optional_flag_value(&mut self, key: &str) -> Decoded<Option<String>> {
        match self.take(key) {
            None | Some(Yaml::Null) => Ok(None),
            Some(Yaml::Str(text)) => self.flag_value(key, text).map(Some),
            Some(other) => Err(wrong_type(&self.path(key), "a string", &other)),
        }
    }

    fn flag_value(&self, key: &str, text: String) -> Decoded<String> {
        match rules::check_flag_value(&text) {
            Ok(()) => Ok(text),
            Err(problem) => Err(SchemaError {
                key: self.path(key),
                problem: Problem::NotAFlagValue {
                    value: text,
                    problem,
                },
            }),
        }
    }

    fn string_list(&mut self, key: &str) -> Decoded<Vec<String>> {
        match self.take(key) {
            None => Ok(Vec::new()),
            Some(value) => self.strings(key, value),
        }
    }

    fn strings(&self, key: &str, value: Yaml) -> Decoded<Vec<String>> {
        let Yaml::Seq(items) = value else {
            return Err(wrong_type(&self.path(key), "a list of strings", &value));
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Yaml::Str(text) => Ok(text),
                other => Err(wrong_type(
                    &format!("{}[{i}]", self.path(key)),
                    "a string",
                    &other,
                )),
            })
            .collect()
    }

    fn tool_list(&mut self, key: &str) -> Decoded<Vec<String>> {
        let tools = self.string_list(key)?;
        self.check_tools(key, tools)
    }

    fn optional_tool_list(&mut self, key: &str) -> Decoded<Option<Vec<String>>> {
        match self.take(key) {
            None | Some(Yaml::Null) => Ok(None),
            Some(value) => {
                let tools = self.strings(key, value)?;
                self.check_tools(key, tools).map(Some)
            }
        }
    }

    fn check_tools(&self, key: &str, tools: Vec<String>) -> Decoded<Vec<String>> {
        tools
            .into_iter()
            .enumerate()
            .map(|(i, tool)| self.flag_value(&format!("{key}[{i}]"), tool))
            .collect()
    }

    fn integer(&mut self, key: &str, default: u64, min: u64, max: u64) -> Decoded<u64> {
        let Some(value) = self.take(key) else {
            return Ok(default);
        };
        let key = self.path(key);
        let number = match value {
            Yaml::Int(n) => n as f64,
            Yaml::Float(x) => x,
            Yaml::Bool(b) => f64::from(u8::from(b)),
            Yaml::Str(ref text) => match text.trim().parse::<f64>() {
                Ok(x) => x,
                Err(_) => return Err(wrong_type(&key, "a whole number", &value)),
            },
            other => return Err(wrong_type(&key, "a whole number", &other)),
        };
        if !number.is_finite() {
            return Err(SchemaError {
                key,
                problem: Problem::NonFinite,
            });
        }
        if number.fract() != 0.0 {
            return Err(SchemaError {
                key,
                problem: Problem::NotWhole(number),
            });
        }
        if number < min as f64 || number > max as f64 {
            return Err(SchemaError {
                key,
                problem: Problem::OutOfRange {
                    min: min.to_string(),
                    max: max.to_string(),
                    found: number.to_string(),
                },
            });
        }
        Ok(number as u64)
    }

    fn optional_budget(&mut self, key: &str) -> Decoded<Option<f64>> {
        let value = match self.take(key) {
            None | Some(Yaml::Null) => return Ok(None),
            Some(value) => value,
        };
        let key = self.path(key);
        let number = match value {
            Yaml::Int(n) => n as f64,
            Yaml::Float(x) => x,
            Yaml::Str(ref text) => match text.trim().parse::<f64>() {
                Ok(x) => x,
                Err(_) => return Err(wrong_type(&key, "a number of US dollars", &value)),
            },
            other => return Err(wrong_type(&key, "a number of US dollars", &other)),
        };
        if !number.is_finite() {
            return Err(SchemaError {
                key,
                problem: Problem::NonFinite,
            });
        }
        if !(0.0..=MAX_BUDGET_USD).contains(&number) {
            return Err(SchemaError {
                key,
                problem: Problem::OutOfRange {
                    min: "0".into(),
                    max: MAX_BUDGET_USD.to_string(),
                    found: number.to_string(),
                },
            });
        }
        Ok(Some(number))
    }

    fn boolean(&mut self, key: &str, default: bool) -> Decoded<bool> {
        let Some(value) = self.take(key) else {
            return Ok(default);
        };
        let parsed = match &value {
            Yaml::Bool(b) => Some(*b),
            Yaml::Int(0) => Some(false),
            Yaml::Int(1) => Some(true),
            Yaml::Str(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "y" | "t" | "1" => Some(true),
                "false" | "no" | "off" | "n" | "f" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        parsed.ok_or_else(|| wrong_type(&self.path(key), "true or false", &value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::encode::encode_config;
    use crate::config::yaml;

    fn decode(text: &str) -> Decoded<Config> {
        decode_config(yaml::parse(text).unwrap())
    }

    fn error(text: &str) -> String {
        decode(text).unwrap_err().to_string()
    }

    #[test]
    fn empty_documents_and_null_sections_are_defaults() {
        assert_eq!(decode("").unwrap(), Config::default());
        assert_eq!(
            decode("agents:\ngroups:\nsettings:\n").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn values_are_coerced_like_the_original() {
        let config = decode(
            "agents:\n  a:\n    directory: /tmp/x\n    timeout: '600'\n    max_budget_usd: '1.5'\n\
             settings:\n  default_timeout: 120.0\n  max_concurrency: true\n  usage_log: 'no'\n  dispatch_protocol: off\n  cache: {enabled: 0, ttl: ' 60 '}\n",
        )
        .unwrap();
        let agent = &config.agents["a"];
        assert_eq!(agent.timeout, 600);
        assert_eq!(agent.max_budget_usd, Some(1.5));
        let s = &config.settings;
        assert_eq!(s.default_timeout, 120);
        assert_eq!(s.max_concurrency, 1);
        assert!(!s.usage_log && !s.dispatch_protocol && !s.cache.enabled);
        assert_eq!(s.cache.ttl, 60);
        assert_eq!(s.cache.max_size, 1000);
    }

    #[test]
    fn tri_state_tool_lists_are_kept_apart() {
        let config = decode(
            "agents:\n  a: {directory: /x, allowed_tools: null, disallowed_tools: []}\n  b: {directory: /x, allowed_tools: [Read]}\n",
        )
        .unwrap();
        assert_eq!(config.agents["a"].allowed_tools, None);
        assert_eq!(config.agents["a"].disallowed_tools, Some(vec![]));
        assert_eq!(
            config.agents["b"].allowed_tools,
            Some(vec!["Read".to_string()])
        );
    }

    #[test]
    fn every_bad_value_is_rejected_naming_its_key() {
        let cases = [
            (
                "agents:\n  a: {timeout: 5}\n",
                "agents.a.directory: is required",
            ),
            (
                "agents:\n  a: {directory: 5}\n",
                "agents.a.directory: expected a string",
            ),
            (
                "agents:\n  a: {directory: /x, timeout: -5}\n",
                "agents.a.timeout: must be between 0 and",
            ),
            (
                "agents:\n  a: {directory: /x, timeout: 300.5}\n",
                "agents.a.timeout: expected a whole number",
            ),
            (
                "agents:\n  a: {directory: /x, timeout: .inf}\n",
                "agents.a.timeout: must be a finite number",
            ),
            (
                "agents:\n  a: {directory: /x, timeout: 9999999}\n",
                "agents.a.timeout: must be between",
            ),
            (
                "agents:\n  a: {directory: /x, timeout: abc}\n",
                "agents.a.timeout: expected a whole number",
            ),
            (
                "agents:\n  a: {directory: /x, max_budget_usd: .nan}\n",
                "agents.a.max_budget_usd: must be a finite number",
            ),
            (
                "agents:\n  a: {directory: /x, max_budget_usd: -1}\n",
                "agents.a.max_budget_usd: must be between 0",
            ),
            (
                "agents:\n  a: {directory: /x, model: --dangerously-skip-permissions}\n",
                "agents.a.model: \"--dangerously-skip-permissions\" must not start with '-'",
            ),
            (
                "agents:\n  a: {directory: /x, permission_mode: -x}\n",
                "agents.a.permission_mode",
            ),
            (
                "agents:\n  a: {directory: /x, effort: extreme}\n",
                "agents.a.effort: \"extreme\" is not one of low, medium, high, xhigh, max",
            ),
            (
                "agents:\n  a: {directory: /x, max_turns: 0}\n",
                "agents.a.max_turns",
            ),
            (
                "agents:\n  a: {directory: /x, json_schema: json}\n",
                "agents.a.json_schema: expected a JSON Schema",
            ),
            (
                "agents:\n  a: {directory: /x, json_schema: [1]}\n",
                "agents.a.json_schema: expected a JSON Schema",
            ),
            (
                "agents:\n  a: {directory: /x, host: -oProxyCommand=x}\n",
                "agents.a.host",
            ),
            (
                "agents:\n  a: {directory: relative, host: h}\n",
                "agents.a.directory",
            ),
            (
                "agents:\n  a: {directory: /x, backend: gpt}\n",
                "agents.a.backend",
            ),
            (
                "agents:\n  a: {directory: /x, remote_cli: /bin/claude}\n",
                "agents.a.remote_cli: only means something with a host",
            ),
            (
                "agents:\n  a: {directory: /x, allowed_tools: [Read, --evil]}\n",
                "agents.a.allowed_tools[1]",
            ),
            (
                "agents:\n  a: {directory: /x, allowed_tools: Read}\n",
                "agents.a.allowed_tools: expected a list of strings",
            ),
            (
                "agents:\n  a: {directory: /x, capabilities: [1]}\n",
                "agents.a.capabilities[0]: expected a string, found an integer",
            ),
            (
                "agents:\n  a: {directory: /x, description: 5}\n",
                "agents.a.description: expected a string, found an integer",
            ),
            (
                "agents:\n  a: {directory: /x, description: null}\n",
                "agents.a.description: expected a string, found null",
            ),
            (
                "agents:\n  a: {directory: '~no-such-user-zz/x'}\n",
                "agents.a.directory: '~no-such-user-zz' names no user",
            ),
            ("agents: [a, b]\n", "agents: expected a mapping of names"),
            (
                "groups:\n  'bad name': {}\n",
                "groups.bad name: \"bad name\" is not a valid name",
            ),
            (
                "groups:\n  g: {members: [{use_for: x}]}\n",
                "groups.g.members[0].agent: is required",
            ),
            (
                "groups:\n  g: {members: [{agent: '-x'}]}\n",
                "groups.g.members[0].agent: \"-x\" is not a valid name",
            ),
            (
                "groups:\n  g: {members: web}\n",
                "groups.g.members: expected a list",
            ),
            (
                "settings:\n  default_timeout: 0\n",
                "settings.default_timeout: must be between 1 and",
            ),
            (
                "settings:\n  max_concurrency: 0\n",
                "settings.max_concurrency: must be between 1 and",
            ),
            (
                "settings:\n  max_dispatch_depth: 0\n",
                "settings.max_dispatch_depth",
            ),
            (
                "settings:\n  cache: {max_size: 0}\n",
                "settings.cache.max_size: must be between 1",
            ),
            ("settings:\n  cache: {ttl: -1}\n", "settings.cache.ttl"),
            (
                "settings:\n  cache: null\n",
                "settings.cache: expected a mapping, found null",
            ),
            (
                "settings:\n  job_retention_days: -3\n",
                "settings.job_retention_days",
            ),
            (
                "settings:\n  usage_log: maybe\n",
                "settings.usage_log: expected true or false",
            ),
            (
                "settings:\n  default_allowed_tools: [-x]\n",
                "settings.default_allowed_tools[0]",
            ),
            (
                "settings:\n  default_max_budget_usd: .inf\n",
                "settings.default_max_budget_usd: must be a finite",
            ),
            (
                "- just\n- a list\n",
                "(top level): expected a mapping, found a list",
            ),
        ];
        for (text, expected) in cases {
            let message = error(text);
            assert!(
                message.contains(expected),
                "{text:?}\n  got: {message}\n  want: {expected}"
            );
        }
    }

    #[test]
    fn unknown_keys_and_order_survive_a_round_trip() {
        let text = "\
future_top: {x: 1}
agents:
  zeta:
    directory: /z
    new_agent_field: [1, 2]
  alpha:
    directory: /a
groups:
  g:
    members:
    - agent: zeta
      weight: 3
    color: blue
settings:
  cache: {enabled: true, shards: 4}
  new_setting: yes
";
        let config = decode(text).unwrap();
        assert_eq!(config.agents.keys().collect::<Vec<_>>(), ["zeta", "alpha"]);
        let again =
            decode_config(yaml::parse(&yaml::render(&encode_config(&config)).unwrap()).unwrap())
                .unwrap();
        assert_eq!(again, config);
        assert_eq!(
            again.agents["zeta"].extra["new_agent_field"],
            Yaml::Seq(vec![Yaml::Int(1), Yaml::Int(2)])
        );
        assert_eq!(again.groups["g"].members[0].extra["weight"], Yaml::Int(3));
        assert_eq!(again.groups["g"].extra["color"], Yaml::Str("blue".into()));
        assert_eq!(again.settings.cache.extra["shards"], Yaml::Int(4));
        assert_eq!(again.settings.extra["new_setting"], Yaml::Str("yes".into()));
        assert!(again.extra.contains_key("future_top"));
    }

    #[test]
    fn a_json_schema_is_read_from_a_mapping_or_a_string_and_written_as_a_mapping() {
        let compact = r#"{"type":"object","properties":{"rows":{"type":"integer"}}}"#;
        for text in [
            "agents:\n  a:\n    directory: /x\n    json_schema:\n      type: object\n      properties:\n        rows: {type: integer}\n",
            "agents:\n  a:\n    directory: /x\n    json_schema: '{\"type\": \"object\", \"properties\": {\"rows\": {\"type\": \"integer\"}}}'\n",
        ] {
            let config = decode(text).unwrap();
            assert_eq!(
                config.agents["a"].json_schema.as_deref(),
                Some(compact),
                "{text}"
            );
            let written = yaml::render(&encode_config(&config)).unwrap();
            assert!(
                written.contains("json_schema:\n      type: object"),
                "{written}"
            );
            let again = decode_config(yaml::parse(&written).unwrap()).unwrap();
            assert_eq!(again, config);
        }
    }
}
