//! The validation rules shared by every way of changing the config (file,
//! CLI, MCP): what a name may look like, which values may reach the `claude`
//! command line, how comma lists are split, which free texts may be stored,
//! which permission modes exist.

use std::fmt;

use crate::pyfmt::repr_str;

/// The permission modes Claude Code knows (2.1.332), from those that let
/// an agent do least without asking to the one that lets it do everything;
/// the modes of one group reach as far as each other. In `claude -p` nobody
/// answers a prompt, so `default`, `manual` and `dontAsk` all stop at what
/// is pre-approved. The one place this order is written down;
/// `permission_reach` ranks by it.
const PERMISSION_MODES_BY_REACH: [&[&str]; 5] = [
    &["plan"],
    &["default", "manual", "dontAsk"],
    &["acceptEdits"],
    &["auto"],
    &["bypassPermissions"],
];

/// How much `mode` lets a dispatched agent do unasked, as a rank in
/// `PERMISSION_MODES_BY_REACH`. No mode is `claude`'s own `default`. Any
/// other value ranks with `bypassPermissions`: a mode we do not know (a
/// newer `claude`'s, or a typo) may allow anything, so it is never taken
/// for a lowering.
pub fn permission_reach(mode: Option<&str>) -> usize {
    let mode = mode.unwrap_or("default");
    PERMISSION_MODES_BY_REACH
        .iter()
        .position(|group| group.contains(&mode))
        .unwrap_or(PERMISSION_MODES_BY_REACH.len() - 1)
}

/// Whether `mode` is one Claude Code knows.
pub fn is_known_permission_mode(mode: &str) -> bool {
    PERMISSION_MODES_BY_REACH
        .iter()
        .any(|group| group.contains(&mode))
}

/// The known modes, alphabetically, as the warning lists them.
fn known_permission_modes() -> Vec<&'static str> {
    let mut modes: Vec<&str> = PERMISSION_MODES_BY_REACH.concat();
    modes.sort_unstable();
    modes
}

/// Claude Code's `--effort` levels (2.1.332).
pub const EFFORT_LEVELS: [&str; 5] = ["low", "medium", "high", "xhigh", "max"];

/// Longest agent or group name accepted for new entries.
pub const MAX_NAME_CHARS: usize = 100;

/// Agent and group names: an ASCII letter or digit, then letters, digits,
/// `-` or `_`.
pub fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && name.len() <= MAX_NAME_CHARS
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Agent,
    Group,
}

/// A name that breaks the naming rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidName {
    pub kind: NameKind,
    pub name: String,
}

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            NameKind::Agent => "agent",
            NameKind::Group => "group",
        };
        write!(
            f,
            "Invalid {kind} name: {}. Use only letters, digits, hyphens, and underscores. Must start with a letter or digit",
            repr_str(&self.name)
        )?;
        if self.name.chars().count() > MAX_NAME_CHARS {
            write!(f, ", and use at most {MAX_NAME_CHARS} characters")?;
        }
        f.write_str(".")
    }
}

impl std::error::Error for InvalidName {}

pub fn check_name(kind: NameKind, name: &str) -> Result<(), InvalidName> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(InvalidName {
            kind,
            name: name.to_owned(),
        })
    }
}

/// Why a value may not be placed on the `claude` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagValueProblem {
    /// It would be read as an option, not as this option's value.
    StartsWithDash,
    Blank,
    /// Newlines and other control characters have no place in a model,
    /// mode or tool name, and would garble logs and argv displays.
    ControlCharacter,
}

impl fmt::Display for FlagValueProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FlagValueProblem::StartsWithDash => {
                "must not start with '-' (it would be read as a claude option)"
            }
            FlagValueProblem::Blank => "must not be empty",
            FlagValueProblem::ControlCharacter => {
                "must not contain control characters such as newlines"
            }
        })
    }
}

/// Checks a model name, permission mode or tool name that will become the
/// value of a `claude` flag.
pub fn check_flag_value(value: &str) -> Result<(), FlagValueProblem> {
    if value.trim().is_empty() {
        Err(FlagValueProblem::Blank)
    } else if value.starts_with('-') {
        Err(FlagValueProblem::StartsWithDash)
    } else if value.chars().any(char::is_control) {
        Err(FlagValueProblem::ControlCharacter)
    } else {
        Ok(())
    }
}

/// Why a free text (a description, instructions, a group's shared
/// context, capability labels) may not be stored in `agents.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredTextProblem {
    /// A NUL cannot be passed in a `claude` argument, so instructions or
    /// shared context holding one would fail every later dispatch, and
    /// other tools reading the file treat it as the end of the text.
    Nul,
}

impl fmt::Display for StoredTextProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoredTextProblem::Nul => {
                "must not contain a NUL character (\\0), which neither claude's command line nor the tools reading agents.yaml can carry; remove it"
            }
        })
    }
}

/// Checks a free text before it is stored. Checked where texts are given
/// (CLI options, MCP arguments), not at load: a hand-edited file holding a
/// NUL still loads, and its dispatches are refused with `invalid_argument`.
pub fn check_stored_text(text: &str) -> Result<(), StoredTextProblem> {
    if text.contains('\0') {
        Err(StoredTextProblem::Nul)
    } else {
        Ok(())
    }
}

/// Splits `a, b,,c` into `["a", "b", "c"]`.
pub fn split_csv(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A warning (never an error: newer `claude` versions add modes) for a
/// permission mode this tool does not know.
pub fn permission_mode_warning(mode: &str) -> Option<String> {
    let mode = mode.trim();
    if mode.is_empty() || is_known_permission_mode(mode) {
        return None;
    }
    Some(format!(
        "Unknown permission_mode: {}. Known values: {}",
        repr_str(mode),
        known_permission_modes().join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        for good in ["web", "a", "9lives", "my-agent_2", "A-B"] {
            assert!(is_valid_name(good), "{good}");
        }
        let too_long = "a".repeat(MAX_NAME_CHARS + 1);
        for bad in [
            "", "-web", "_x", "bad name", "web\n", "wéb", "a/b", "a.b", &too_long,
        ] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn invalid_name_message_quotes_the_name_and_says_the_rule() {
        let err = check_name(NameKind::Agent, "bad name").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid agent name: 'bad name'. Use only letters, digits, hyphens, and underscores. Must start with a letter or digit."
        );
        let err = check_name(NameKind::Group, &"g".repeat(101)).unwrap_err();
        assert!(err.to_string().starts_with("Invalid group name"));
        assert!(err.to_string().contains("at most 100"));
    }

    #[test]
    fn flag_values_that_could_inject_are_refused() {
        assert_eq!(check_flag_value("sonnet"), Ok(()));
        assert_eq!(check_flag_value("Bash(git log:*)"), Ok(()));
        assert_eq!(
            check_flag_value("--dangerously-skip-permissions"),
            Err(FlagValueProblem::StartsWithDash)
        );
        assert_eq!(
            check_flag_value("-x"),
            Err(FlagValueProblem::StartsWithDash)
        );
        assert_eq!(check_flag_value("  "), Err(FlagValueProblem::Blank));
        assert_eq!(
            check_flag_value("a\nb"),
            Err(FlagValueProblem::ControlCharacter)
        );
    }

    #[test]
    fn stored_texts_refuse_only_nul() {
        assert_eq!(check_stored_text("line one\nline two\t\u{1b}"), Ok(()));
        assert_eq!(check_stored_text("a\0b"), Err(StoredTextProblem::Nul));
    }

    #[test]
    fn csv_is_trimmed_and_empties_dropped() {
        assert_eq!(
            split_csv(" Read, Bash(git log:*) ,,"),
            ["Read", "Bash(git log:*)"]
        );
        assert!(split_csv(",").is_empty());
        assert!(split_csv("").is_empty());
    }

    #[test]
    fn permission_modes_rank_by_reach_and_unknown_ones_rank_highest() {
        let reach = |mode| permission_reach(Some(mode));
        assert!(reach("plan") < reach("default"));
        assert_eq!(reach("default"), reach("manual"));
        assert_eq!(reach("default"), reach("dontAsk"));
        assert!(reach("default") < reach("acceptEdits"));
        assert!(reach("acceptEdits") < reach("auto"));
        assert!(reach("auto") < reach("bypassPermissions"));
        assert_eq!(permission_reach(None), reach("default"));
        for unknown in ["yolo", "Plan", ""] {
            assert_eq!(reach(unknown), reach("bypassPermissions"), "{unknown:?}");
        }
    }

    #[test]
    fn only_unknown_permission_modes_warn() {
        for known in ["plan", "acceptEdits", "auto", "manual", "dontAsk"] {
            assert_eq!(permission_mode_warning(known), None, "{known}");
        }
        assert_eq!(permission_mode_warning("  "), None);
        assert_eq!(
            permission_mode_warning(" yolo "),
            Some(
                "Unknown permission_mode: 'yolo'. Known values: acceptEdits, auto, \
                 bypassPermissions, default, dontAsk, manual, plan"
                    .into()
            )
        );
    }
}
