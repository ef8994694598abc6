//! What a change to an agent grants: the permissions a dispatch of it runs
//! with before and after, compared, and every way the change lets it do
//! more without asking. The MCP management tools refuse such a change
//! unless `settings.mcp_may_grant` is on; the CLI, run by a person, never
//! asks. Knows nothing about either surface.
//!
//! What "more" means follows what `claude` does with the values:
//! - `permission_mode` ranks as in `rules::permission_reach` (unset is
//!   `default`; an unknown mode ranks highest).
//! - `allowed_tools` become `--allowedTools`, which pre-approves those tools:
//!   in `claude -p` nobody can approve a tool, so an entry is a grant. A tool
//!   is newly granted when the list after holds it and the list before
//!   neither holds it nor its bare name (`Bash` covers `Bash(git *)`).
//!   Setting a list where none was set grants whatever it holds beyond the
//!   settings default the agent inherited; an explicit empty list grants
//!   nothing; clearing the list grants the settings default back.
//! - `disallowed_tools` become `--disallowedTools`: an entry lost (and not
//!   still covered by a bare name after) is a restriction lifted.
//!
//! The comparison is on the effective values — the agent's own, else the
//! settings defaults it inherits — so an agent whose unset mode inherits a
//! `default_permission_mode` of `plan` is raised by being set to `default`.

use std::fmt;

use super::rules;
use super::schema::{Agent, Settings};
use crate::pyfmt::repr_str;

/// The permissions a dispatch of an agent runs with.
#[derive(Debug, Clone, Copy)]
pub struct Permissions<'a> {
    /// `None`: `claude`'s own default mode.
    pub mode: Option<&'a str>,
    pub allowed: &'a [String],
    pub disallowed: &'a [String],
}

impl<'a> Permissions<'a> {
    /// What `agent` runs with under `settings`; the runner builds the
    /// command line from this, so the check and the run cannot disagree.
    pub fn effective(agent: &'a Agent, settings: &'a Settings) -> Permissions<'a> {
        Permissions {
            mode: agent
                .permission_mode
                .as_deref()
                .or(settings.default_permission_mode.as_deref()),
            allowed: agent
                .allowed_tools
                .as_deref()
                .unwrap_or(&settings.default_allowed_tools),
            disallowed: agent
                .disallowed_tools
                .as_deref()
                .unwrap_or(&settings.default_disallowed_tools),
        }
    }
}

/// Every way `after` lets an agent do more than `before`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raise {
    /// (before, after), shown as `claude` would run them.
    pub mode: Option<(String, String)>,
    pub allowed_gained: Vec<String>,
    pub disallowed_lost: Vec<String>,
    /// (before, after): another agent CLI runs the same settings its own
    /// way (a mode's sandbox, which defaults reach it), so a switch is
    /// judged a grant whatever it maps to.
    pub backend: Option<(String, String)>,
}

/// `None` when `after` grants nothing `before` did not.
pub fn raised(before: &Permissions, after: &Permissions) -> Option<Raise> {
    let shown = |mode: Option<&str>| mode.unwrap_or("default").to_owned();
    // A switch to a different unknown mode is a raise even from the top
    // rank: what it allows is unknown, not merely "everything".
    let mode = (shown(after.mode) != shown(before.mode)
        && (rules::permission_reach(after.mode) > rules::permission_reach(before.mode)
            || !is_known(after.mode)))
    .then(|| (shown(before.mode), shown(after.mode)));
    let allowed_gained = not_covered(after.allowed, before.allowed);
    let disallowed_lost = not_covered(before.disallowed, after.disallowed);
    let raise = Raise {
        mode,
        allowed_gained,
        disallowed_lost,
        backend: None,
    };
    (raise.mode.is_some() || !raise.allowed_gained.is_empty() || !raise.disallowed_lost.is_empty())
        .then_some(raise)
}

fn is_known(mode: Option<&str>) -> bool {
    rules::is_known_permission_mode(mode.unwrap_or("default"))
}

/// The tools of `tools` that `by` does not cover.
fn not_covered(tools: &[String], by: &[String]) -> Vec<String> {
    tools
        .iter()
        .filter(|tool| !covers(by, tool))
        .cloned()
        .collect()
}

/// `list` holds `tool`, or the bare tool name `tool` narrows with a
/// pattern (`Bash` covers `Bash(git *)`).
fn covers(list: &[String], tool: &str) -> bool {
    let bare = tool.split_once('(').map_or(tool, |(name, _)| name);
    list.iter().any(|entry| entry == tool || entry == bare)
}

impl fmt::Display for Raise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = |tools: &[String]| {
            tools
                .iter()
                .map(|tool| repr_str(tool))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        if let Some((before, after)) = &self.mode {
            parts.push(format!(
                "permission_mode {} -> {}",
                repr_str(before),
                repr_str(after)
            ));
        }
        if !self.allowed_gained.is_empty() {
            parts.push(format!(
                "allowed_tools gains {}",
                quoted(&self.allowed_gained)
            ));
        }
        if !self.disallowed_lost.is_empty() {
            parts.push(format!(
                "disallowed_tools loses {}",
                quoted(&self.disallowed_lost)
            ));
        }
        if let Some((before, after)) = &self.backend {
            parts.push(format!("backend {before} -> {after}"));
        }
        f.write_str(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    fn perms<'a>(
        mode: Option<&'a str>,
        allowed: &'a [String],
        disallowed: &'a [String],
    ) -> Permissions<'a> {
        Permissions {
            mode,
            allowed,
            disallowed,
        }
    }

    #[test]
    fn a_more_permissive_or_unknown_mode_is_a_raise_and_a_lower_one_is_not() {
        let none: Vec<String> = Vec::new();
        let at = |mode| perms(mode, &none, &none);
        let raise = raised(&at(Some("plan")), &at(Some("bypassPermissions"))).unwrap();
        assert_eq!(
            raise.mode,
            Some(("plan".into(), "bypassPermissions".into()))
        );
        assert!(
            raised(&at(Some("plan")), &at(None)).is_some(),
            "unset is default"
        );
        assert!(raised(&at(Some("bypassPermissions")), &at(Some("yolo"))).is_some());
        assert!(raised(&at(Some("yolo")), &at(Some("turbo"))).is_some());
        assert_eq!(raised(&at(Some("yolo")), &at(Some("auto"))), None);
        assert!(raised(&at(Some("acceptEdits")), &at(Some("auto"))).is_some());
        assert_eq!(raised(&at(Some("default")), &at(Some("dontAsk"))), None);
        assert_eq!(raised(&at(Some("yolo")), &at(Some("yolo"))), None);
        assert_eq!(
            raised(&at(Some("yolo")), &at(Some("bypassPermissions"))),
            None
        );
        assert_eq!(raised(&at(None), &at(Some("default"))), None);
        assert_eq!(raised(&at(Some("acceptEdits")), &at(Some("plan"))), None);
    }

    #[test]
    fn tools_gained_or_restrictions_lost_are_raises() {
        let none: Vec<String> = Vec::new();
        let bash = tools(&["Bash"]);
        let git = tools(&["Bash(git *)", "Read"]);
        let gained = raised(
            &perms(None, &git, &none),
            &perms(None, &tools(&["Read", "Write"]), &none),
        );
        assert_eq!(gained.unwrap().allowed_gained, ["Write"]);
        // A pattern under a bare name already granted narrows.
        assert_eq!(
            raised(&perms(None, &bash, &none), &perms(None, &git[..1], &none)),
            None
        );
        assert!(raised(&perms(None, &git, &none), &perms(None, &bash, &none)).is_some());
        assert_eq!(
            raised(&perms(None, &git, &none), &perms(None, &none, &none)),
            None
        );
        let lost = raised(&perms(None, &none, &git), &perms(None, &none, &bash)).unwrap();
        assert_eq!(lost.disallowed_lost, ["Read"]);
        assert_eq!(lost.to_string(), "disallowed_tools loses 'Read'");
    }

    #[test]
    fn the_effective_values_inherit_the_settings_defaults() {
        let settings = Settings {
            default_permission_mode: Some("plan".into()),
            default_allowed_tools: tools(&["Read"]),
            ..Settings::default()
        };
        let inherits = Agent::new("/p".into());
        let set = Agent {
            permission_mode: Some("default".into()),
            allowed_tools: Some(tools(&["Read", "Grep"])),
            ..Agent::new("/p".into())
        };
        let raise = raised(
            &Permissions::effective(&inherits, &settings),
            &Permissions::effective(&set, &settings),
        )
        .unwrap();
        assert_eq!(
            raise.to_string(),
            "permission_mode 'plan' -> 'default'; allowed_tools gains 'Grep'"
        );
    }
}
