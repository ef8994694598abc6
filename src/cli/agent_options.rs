//! The agent options `add` and `update` share — their names, help lines,
//! parsing and validation live here once. Values are checked as they are
//! parsed, so a bad option fails before anything is read or written.

use lexopt::Parser;

use super::error::UsageError;
use super::{Token, option_text as text, stored_text};
use crate::config::rules::{self, FlagValueProblem};
use crate::config::schema::{MAX_BUDGET_USD, MAX_TIMEOUT_SECS};

/// Help lines for the shared options (≤ 79 columns).
pub const HELP: &str = "\
  -d, --description TEXT      what the agent is for (shown to the caller)
      --timeout SECONDS       default time limit per dispatch (1-604800)
      --model NAME            claude model, e.g. sonnet or opus
      --max-budget USD        spend cap per dispatch (alias --max-budget-usd)
      --permission-mode MODE  default, plan or bypassPermissions
      --allowed-tools CSV     tools the agent may use, e.g. 'Read,Bash(git *)'
      --disallowed-tools CSV  tools the agent may not use
      --capabilities CSV      labels describing what the agent can do
      --risky-capabilities CSV
                              labels for what it can do that is dangerous
      --instructions TEXT     standing orders added to every dispatch";

/// The options as given: `None` = not given. Text stays raw here because
/// `add` and `update` read an empty or `none` value differently.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AgentOptions {
    pub description: Option<String>,
    pub timeout: Option<u64>,
    pub model: Option<String>,
    pub max_budget_usd: Option<f64>,
    pub permission_mode: Option<String>,
    pub allowed_tools: Option<String>,
    pub disallowed_tools: Option<String>,
    pub capabilities: Option<String>,
    pub risky_capabilities: Option<String>,
    pub instructions: Option<String>,
}

impl AgentOptions {
    pub fn is_empty(&self) -> bool {
        *self == AgentOptions::default()
    }

    /// Consumes `arg` if it is one of the shared options; `Ok(false)` when
    /// it is not ours to handle.
    pub(crate) fn accept(
        &mut self,
        token: &Token,
        parser: &mut Parser,
    ) -> Result<bool, UsageError> {
        let option = match token {
            Token::Short('d') => "description",
            Token::Long(name) => name.as_str(),
            _ => return Ok(false),
        };
        match option {
            "description" => self.description = Some(stored_text(parser, "--description")?),
            "timeout" => self.timeout = Some(parse_timeout("--timeout", &text(parser)?)?),
            "model" => self.model = Some(flag_value("--model", text(parser)?)?),
            "max-budget" | "max-budget-usd" => {
                self.max_budget_usd = Some(parse_budget("--max-budget", &text(parser)?)?)
            }
            "permission-mode" => {
                self.permission_mode = Some(flag_value("--permission-mode", text(parser)?)?)
            }
            "allowed-tools" => {
                self.allowed_tools = Some(tool_csv("--allowed-tools", text(parser)?)?)
            }
            "disallowed-tools" => {
                self.disallowed_tools = Some(tool_csv("--disallowed-tools", text(parser)?)?)
            }
            "capabilities" => self.capabilities = Some(stored_text(parser, "--capabilities")?),
            "risky-capabilities" => {
                self.risky_capabilities = Some(stored_text(parser, "--risky-capabilities")?)
            }
            "instructions" => self.instructions = Some(stored_text(parser, "--instructions")?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// A positive whole number of seconds within the config's bound.
pub fn parse_timeout(option: &'static str, value: &str) -> Result<u64, UsageError> {
    let seconds: i128 = value.trim().parse().map_err(|_| UsageError::NotANumber {
        option,
        value: value.to_owned(),
        expected: "a whole number of seconds",
    })?;
    if !(1..=i128::from(MAX_TIMEOUT_SECS)).contains(&seconds) {
        return Err(UsageError::OutOfRange {
            option,
            value: seconds.to_string(),
            allowed: format!("between 1 and {MAX_TIMEOUT_SECS} seconds"),
        });
    }
    Ok(seconds as u64)
}

/// A finite, non-negative number of US dollars within the config's bound.
pub fn parse_budget(option: &'static str, value: &str) -> Result<f64, UsageError> {
    let usd: f64 = value.trim().parse().map_err(|_| UsageError::NotANumber {
        option,
        value: value.to_owned(),
        expected: "a number of US dollars",
    })?;
    if !usd.is_finite() || !(0.0..=MAX_BUDGET_USD).contains(&usd) {
        return Err(UsageError::OutOfRange {
            option,
            value: value.trim().to_owned(),
            allowed: format!("a finite number from 0 to {MAX_BUDGET_USD} (0 clears the cap)"),
        });
    }
    Ok(usd)
}

/// Model and permission mode become `claude` flag values. Empty and `none`
/// pass through (they mean "unset"); anything else must be flag-safe.
fn flag_value(option: &'static str, value: String) -> Result<String, UsageError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("none") {
        return Ok(value);
    }
    check(option, trimmed)?;
    Ok(value)
}

/// Every tool of a comma list must be flag-safe.
fn tool_csv(option: &'static str, value: String) -> Result<String, UsageError> {
    if !value.trim().eq_ignore_ascii_case("none") {
        for tool in rules::split_csv(&value) {
            check(option, &tool)?;
        }
    }
    Ok(value)
}

fn check(option: &'static str, value: &str) -> Result<(), UsageError> {
    rules::check_flag_value(value).map_err(|problem: FlagValueProblem| UsageError::FlagValue {
        option,
        value: value.to_owned(),
        problem,
    })
}

/// `none` (any case) or blank: the user asks to clear the field.
pub fn means_clear(value: &str) -> bool {
    let value = value.trim();
    value.is_empty() || value.eq_ignore_ascii_case("none")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_must_be_whole_positive_and_bounded() {
        assert_eq!(parse_timeout("--timeout", "600").unwrap(), 600);
        for bad in [
            "0",
            "-5",
            "1.5",
            "abc",
            "",
            "604801",
            "99999999999999999999999",
        ] {
            assert!(parse_timeout("--timeout", bad).is_err(), "{bad}");
        }
        let msg = parse_timeout("--timeout", "0").unwrap_err().to_string();
        assert!(
            msg.contains("--timeout") && msg.contains("between 1 and"),
            "{msg}"
        );
    }

    #[test]
    fn budgets_must_be_finite_non_negative_and_bounded() {
        assert_eq!(parse_budget("--max-budget", "1.5").unwrap(), 1.5);
        assert_eq!(parse_budget("--max-budget", "0").unwrap(), 0.0);
        for bad in ["-1", "nan", "inf", "-inf", "1e400", "two", "1000001"] {
            let err = parse_budget("--max-budget", bad).unwrap_err().to_string();
            assert!(err.contains("--max-budget"), "{bad}: {err}");
        }
    }

    #[test]
    fn flag_like_values_are_refused_and_none_passes() {
        assert!(flag_value("--model", "--dangerously-skip-permissions".into()).is_err());
        assert!(flag_value("--model", "none".into()).is_ok());
        assert!(tool_csv("--allowed-tools", "Read,--evil".into()).is_err());
        assert!(tool_csv("--allowed-tools", "Read, Bash(git log:*)".into()).is_ok());
    }
}
