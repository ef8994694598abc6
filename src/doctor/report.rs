//! The outcome of `doctor`: an ordered list of checks, each ok, warn or
//! fail, with detail lines and the fix when there is one; the counts and
//! verdict derived from them; and the stable JSON form scripts read
//! (`schema_version` 1: the original's keys plus `passed` and a
//! per-check `remediation`). Rendering for a terminal belongs to the CLI.

use serde_json::{Value, json};

/// Bumped only when a key is removed or changes meaning; new keys are
/// added without a bump.
pub const SCHEMA_VERSION: u64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    /// The word in the JSON report.
    pub fn key(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }

    /// The tag in the text report.
    pub fn tag(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// The sections, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Environment,
    RunningServers,
    Config,
    McpRegistration,
    Agents,
    Groups,
}

impl Section {
    pub const ALL: [Section; 6] = [
        Section::Environment,
        Section::RunningServers,
        Section::Config,
        Section::McpRegistration,
        Section::Agents,
        Section::Groups,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Section::Environment => "Environment",
            Section::RunningServers => "Running servers",
            Section::Config => "Config",
            Section::McpRegistration => "MCP registration",
            Section::Agents => "Agents",
            Section::Groups => "Groups",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub section: Section,
    pub status: Status,
    pub message: String,
    /// Explanations, one line each.
    pub details: Vec<String>,
    /// What to do about a warning or failure, when there is one thing to do.
    pub remediation: Option<String>,
}

impl Check {
    pub fn new(section: Section, status: Status, message: impl Into<String>) -> Check {
        Check {
            section,
            status,
            message: message.into(),
            details: Vec::new(),
            remediation: None,
        }
    }

    pub fn detail(mut self, line: impl Into<String>) -> Check {
        self.details.push(line.into());
        self
    }

    /// Adds every line of a possibly multi-line text as its own detail.
    pub fn detail_lines(mut self, text: &str) -> Check {
        self.details.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
        );
        self
    }

    pub fn fix(mut self, remediation: impl Into<String>) -> Check {
        self.remediation = Some(remediation.into());
        self
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    pub fn issues(&self) -> usize {
        self.count(Status::Fail)
    }

    pub fn warnings(&self) -> usize {
        self.count(Status::Warn)
    }

    pub fn passed(&self) -> usize {
        self.count(Status::Ok)
    }

    /// The worst status of any check.
    pub fn status(&self) -> Status {
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Ok)
    }

    /// Failed: any failure, or with `strict` any warning.
    pub fn failed(&self, strict: bool) -> bool {
        self.issues() > 0 || (strict && self.warnings() > 0)
    }

    /// `All checks passed.` or `1 issue, 2 warnings` (only non-zero parts).
    pub fn summary(&self) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut parts = Vec::new();
        if self.issues() > 0 {
            parts.push(plural(self.issues(), "issue", "issues"));
        }
        if self.warnings() > 0 {
            parts.push(plural(self.warnings(), "warning", "warnings"));
        }
        if parts.is_empty() {
            "All checks passed.".to_owned()
        } else {
            parts.join(", ")
        }
    }

    pub fn to_json(&self) -> Value {
        let checks: Vec<Value> = self
            .checks
            .iter()
            .map(|c| {
                json!({
                    "section": c.section.title(),
                    "status": c.status.key(),
                    "message": c.message,
                    "details": c.details.iter().map(|d| d.trim()).collect::<Vec<_>>(),
                    "remediation": c.remediation,
                })
            })
            .collect();
        json!({
            "schema_version": SCHEMA_VERSION,
            "status": self.status().key(),
            "issues": self.issues(),
            "warnings": self.warnings(),
            "passed": self.passed(),
            "checks": checks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(statuses: &[Status]) -> Report {
        Report {
            checks: statuses
                .iter()
                .map(|s| Check::new(Section::Config, *s, "m"))
                .collect(),
        }
    }

    #[test]
    fn summary_names_only_non_zero_counts_with_plurals() {
        assert_eq!(report(&[Status::Ok]).summary(), "All checks passed.");
        assert_eq!(report(&[Status::Fail]).summary(), "1 issue");
        assert_eq!(
            report(&[Status::Warn, Status::Fail, Status::Warn, Status::Fail]).summary(),
            "2 issues, 2 warnings"
        );
        assert_eq!(report(&[Status::Warn]).summary(), "1 warning");
    }

    #[test]
    fn warnings_fail_only_when_strict() {
        let warned = report(&[Status::Ok, Status::Warn]);
        assert!(!warned.failed(false));
        assert!(warned.failed(true));
        assert_eq!(warned.status(), Status::Warn);
        assert!(report(&[Status::Fail]).failed(false));
    }

    #[test]
    fn json_has_the_schema_version_counts_and_remediation() {
        let mut r = report(&[Status::Ok]);
        r.checks.push(
            Check::new(Section::Agents, Status::Warn, "w")
                .detail("  spaced  ")
                .fix("do it"),
        );
        let v = r.to_json();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["status"], "warn");
        assert_eq!(
            (v["issues"].clone(), v["warnings"].clone()),
            (json!(0), json!(1))
        );
        assert_eq!(v["checks"][1]["details"], json!(["spaced"]));
        assert_eq!(v["checks"][1]["remediation"], "do it");
        assert_eq!(v["checks"][0]["remediation"], Value::Null);
    }
}
