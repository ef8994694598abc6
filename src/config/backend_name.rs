//! Which agent CLI an agent runs, as `agents.yaml` spells it (`backend`,
//! `settings.default_backend`). Only the name: what each CLI needs lives
//! behind `runner::backend::Backend`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BackendName {
    #[default]
    Claude,
    Codex,
    Gemini,
    Opencode,
}

impl BackendName {
    pub const ALL: [BackendName; 4] = [
        BackendName::Claude,
        BackendName::Codex,
        BackendName::Gemini,
        BackendName::Opencode,
    ];

    /// The key's value; exact, lower case.
    pub fn parse(text: &str) -> Option<BackendName> {
        BackendName::ALL
            .into_iter()
            .find(|name| name.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BackendName::Claude => "claude",
            BackendName::Codex => "codex",
            BackendName::Gemini => "gemini",
            BackendName::Opencode => "opencode",
        }
    }

    /// `claude, codex, gemini, opencode`, for the errors that list them.
    pub fn choices() -> String {
        BackendName::ALL.map(BackendName::as_str).join(", ")
    }
}

impl fmt::Display for BackendName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_exactly_and_round_trip() {
        for name in BackendName::ALL {
            assert_eq!(BackendName::parse(name.as_str()), Some(name));
        }
        assert_eq!(BackendName::parse("Codex"), None);
        assert_eq!(BackendName::parse(" codex"), None);
        assert_eq!(BackendName::parse("--yolo"), None);
        assert_eq!(BackendName::choices(), "claude, codex, gemini, opencode");
    }
}
