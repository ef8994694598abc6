//! The failed results of the checks made before an agent CLI is spawned:
//! dispatch recursion, a missing project directory, a setting the agent's
//! CLI cannot honour, a flag value that is blank, has control characters or would be
//! read as a flag, and a text too long for one command-line argument or
//! holding a NUL. Each has a fixed type and message; none
//! carries a session id, since no session was started. The checks
//! themselves live with the code that builds the run; a missing executable
//! is the backend's to word (`Backend::not_found`).

use std::fmt;
use std::path::Path;

use super::backends::unsupported::Unsupported;
use super::result::{DispatchResult, ErrorType};
use crate::config::remote::RemoteProblem;
use crate::config::rules::FlagValueProblem;
use crate::pyfmt::repr_str;

/// Refuses a dispatch nested `depth` levels deep when the configured limit
/// is `max_depth` — the usual cause is two agents dispatching to each other.
pub fn recursion(agent: &str, depth: i64, max_depth: u64) -> DispatchResult {
    DispatchResult::failure(
        agent,
        ErrorType::Recursion,
        format!(
            "Dispatch depth {depth} >= max {max_depth}. An agent is trying to dispatch to \
             another agent that dispatches back. Increase settings.max_dispatch_depth if this \
             is intentional."
        ),
    )
}

pub fn directory_missing(agent: &str, directory: &Path) -> DispatchResult {
    DispatchResult::failure(
        agent,
        ErrorType::NotFound,
        format!("Directory does not exist: {}", directory.display()),
    )
}

/// A remote agent with no local `ssh` to reach it.
pub fn ssh_not_found(agent: &str) -> DispatchResult {
    DispatchResult::failure(
        agent,
        ErrorType::NotFound,
        "OpenSSH client (ssh) not found in PATH; remote agents run through it. Install openssh-client."
            .to_owned(),
    )
}

/// A remote agent whose host or ssh options do not pass their checks
/// (a hand-edited file read before the checks existed, say).
pub fn bad_remote(agent: &str, problem: &RemoteProblem) -> DispatchResult {
    DispatchResult::failure(
        agent,
        ErrorType::InvalidArgument,
        format!("Agent '{agent}' was not started: {problem}"),
    )
}

/// Our directory for ssh's connection sockets could not be made safe.
pub fn no_control_dir(agent: &str, err: &std::io::Error) -> DispatchResult {
    DispatchResult::failure(
        agent,
        ErrorType::CliError,
        format!("Agent '{agent}' was not started: no directory for ssh connections: {err}"),
    )
}

/// Refuses a dispatch whose agent asks its CLI for something it cannot do
/// (an agents.yaml edited by hand, or a settings default it inherits).
pub fn unsupported(agent: &str, problem: &Unsupported) -> DispatchResult {
    DispatchResult::failure(
        agent,
        ErrorType::InvalidArgument,
        format!("Agent '{agent}' was not started: {problem}"),
    )
}

/// Which value placed right after a CLI flag was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagArgument {
    SessionId,
    Model,
    PermissionMode,
    Effort,
    AllowedTool,
    DisallowedTool,
}

/// The labels the original's message uses.
impl fmt::Display for FlagArgument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FlagArgument::SessionId => "session_id",
            FlagArgument::Model => "model",
            FlagArgument::PermissionMode => "permission_mode",
            FlagArgument::Effort => "effort",
            FlagArgument::AllowedTool => "allowed tool",
            FlagArgument::DisallowedTool => "disallowed tool",
        })
    }
}

/// Refuses a value that starts with `-`: placed after its flag, the CLI
/// (`program`) would parse it as another option (argument injection).
/// Nothing is spawned. The original reported this as `cli_error`; it is the
/// caller's input that is wrong, hence `invalid_argument`.
pub fn bad_flag_value(
    agent: &str,
    program: &str,
    argument: FlagArgument,
    value: &str,
    problem: &FlagValueProblem,
) -> DispatchResult {
    let why = match problem {
        FlagValueProblem::StartsWithDash => format!(
            "starts with '-' and would be interpreted as a command-line flag by the {program} CLI"
        ),
        FlagValueProblem::Blank => "is blank; give a value or leave the setting out".to_owned(),
        FlagValueProblem::ControlCharacter => format!(
            "contains a control character (such as a newline), which no {program} option value may hold"
        ),
    };
    DispatchResult::failure(
        agent,
        ErrorType::InvalidArgument,
        format!(
            "Refusing to dispatch: {argument} {} {why}.",
            repr_str(value)
        ),
    )
}

/// Refuses a text longer than the OS passes as one command-line argument,
/// which would otherwise fail at spawn as an opaque "Argument list too
/// long". Nothing is spawned.
pub fn argument_too_long(agent: &str, what: &str, bytes: usize) -> DispatchResult {
    DispatchResult::failure(
        agent,
        ErrorType::InvalidArgument,
        format!(
            "Refusing to dispatch: the {what} is {bytes} bytes, over the {} bytes the operating \
             system allows in one command-line argument. Shorten it, or put the material in a file \
             in the agent's project and point the task at it.",
            super::command::MAX_ARGUMENT_BYTES - 1
        ),
    )
}

/// Refuses a text holding a NUL byte: no command-line argument can carry
/// one, and spawning would fail with an opaque error. Nothing is spawned.
pub fn nul_byte(agent: &str, what: &str) -> DispatchResult {
    DispatchResult::failure(
        agent,
        ErrorType::InvalidArgument,
        format!(
            "Refusing to dispatch: the {what} contains a NUL character (\\u0000), which cannot \
             be passed on a command line. Remove it and retry."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recursion_names_depth_and_limit() {
        let result = recursion("web", 3, 3);
        assert_eq!(result.error_type, Some(ErrorType::Recursion));
        assert_eq!(
            result.error.as_deref(),
            Some(
                "Dispatch depth 3 >= max 3. An agent is trying to dispatch to another agent \
                 that dispatches back. Increase settings.max_dispatch_depth if this is \
                 intentional."
            )
        );
        assert!(!result.success);
        assert_eq!(result.session_id, None);
    }

    #[test]
    fn a_missing_directory_is_not_found() {
        let result = directory_missing("web", Path::new("/srv/проект"));
        assert_eq!(result.error_type, Some(ErrorType::NotFound));
        assert_eq!(
            result.error.as_deref(),
            Some("Directory does not exist: /srv/проект")
        );
    }

    #[test]
    fn flag_like_value_is_an_invalid_argument_with_repr_quoting() {
        let dash = FlagValueProblem::StartsWithDash;
        let result = bad_flag_value(
            "web",
            "claude",
            FlagArgument::AllowedTool,
            "--dangerously-skip",
            &dash,
        );
        assert_eq!(result.error_type, Some(ErrorType::InvalidArgument));
        assert_eq!(
            result.error.as_deref(),
            Some(
                "Refusing to dispatch: allowed tool '--dangerously-skip' starts with '-' and \
                 would be interpreted as a command-line flag by the claude CLI."
            )
        );
        let result = bad_flag_value("web", "claude", FlagArgument::SessionId, "-x'y", &dash);
        assert!(
            result
                .error
                .unwrap()
                .starts_with("Refusing to dispatch: session_id \"-x'y\" starts")
        );
    }

    #[test]
    fn a_blank_or_control_character_value_is_named_for_what_it_is() {
        let blank = bad_flag_value(
            "web",
            "claude",
            FlagArgument::SessionId,
            "  ",
            &FlagValueProblem::Blank,
        );
        assert_eq!(blank.error_type, Some(ErrorType::InvalidArgument));
        assert_eq!(
            blank.error.as_deref(),
            Some(
                "Refusing to dispatch: session_id '  ' is blank; give a value or leave the setting out."
            )
        );
        let newline = bad_flag_value(
            "web",
            "claude",
            FlagArgument::Model,
            "opus\n",
            &FlagValueProblem::ControlCharacter,
        );
        let error = newline.error.unwrap();
        assert!(error.contains("contains a control character"), "{error}");
        assert!(!error.contains("starts with '-'"), "{error}");
    }

    #[test]
    fn a_nul_byte_is_an_invalid_argument_naming_the_text() {
        let result = nul_byte("web", "task prompt (task, context, caller and goal)");
        assert_eq!(result.error_type, Some(ErrorType::InvalidArgument));
        assert!(result.error.unwrap().starts_with(
            "Refusing to dispatch: the task prompt (task, context, caller and goal) contains a NUL"
        ));
    }

    #[test]
    fn flag_argument_labels_match_the_original() {
        let labels: Vec<String> = [
            FlagArgument::SessionId,
            FlagArgument::Model,
            FlagArgument::PermissionMode,
            FlagArgument::AllowedTool,
            FlagArgument::DisallowedTool,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            labels,
            [
                "session_id",
                "model",
                "permission_mode",
                "allowed tool",
                "disallowed tool"
            ]
        );
    }
}
