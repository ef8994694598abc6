//! Every hint the CLI can print, gathered from the functions and constants
//! that word them, and a test that each `agent-dispatch …` command a hint
//! names is one the real parser (`cli::parse`) accepts. A new hint source
//! belongs in `every_hint`.

use super::error::{CliError, UsageError};
use super::wording::cli_words;
use super::{groups, init_command, listing, parse, test_command};
use crate::runner::backends::claude::classify;
use crate::runner::messages;
use crate::runner::{ErrorType, Outcome};

/// The texts, with sample values where a hint takes some.
fn every_hint() -> Vec<String> {
    let errors = [
        CliError::usage("", UsageError::MissingArgument("NAME")),
        CliError::usage("group add", UsageError::MissingArgument("NAME")),
        CliError::usage("update", UsageError::NothingToUpdate("an option")),
        CliError::usage(
            "",
            UsageError::UnknownCommand {
                name: "lsit".into(),
                suggestion: Some("list".into()),
            },
        ),
        CliError::usage("job", UsageError::InvalidJobId("x".into())),
        CliError::usage("gc", UsageError::DaysNotPositive("0".into())),
        CliError::AgentExists("web".into()),
        CliError::AgentNotFound {
            name: "web".into(),
            available: Vec::new(),
        },
        CliError::GroupExists("team".into()),
        CliError::GroupNotFound {
            name: "team".into(),
            available: Vec::new(),
        },
        CliError::UnknownMember("web".into()),
        CliError::JobNotFound("x".into()),
        CliError::JobRunning("x".into()),
    ];
    let mut hints: Vec<String> = errors.iter().filter_map(CliError::hint).collect();
    for error_type in [ErrorType::Timeout, ErrorType::NotFound] {
        hints.extend(test_command::diagnosis("web", Some(&error_type)));
    }
    for error_type in [
        ErrorType::Permission,
        ErrorType::UsageLimit,
        ErrorType::Auth,
    ] {
        hints.push(classify::with_hint(String::new(), &error_type, "web"));
    }
    let runner_texts = [
        classify::budget_hint("web", Some(1.0), Some("s1")),
        messages::timeout_message("web", 300, Some(900), Some("s1")),
        messages::denial_hint("web", &["Bash".into()]),
        messages::outcome_hint("web", Outcome::Blocked, None).unwrap_or_default(),
    ];
    // `test` shows these in CLI words.
    hints.extend(runner_texts.iter().map(|text| cli_words(text, "web")));
    hints.extend([listing::NO_AGENTS, groups::NO_GROUPS, init_command::HELP].map(str::to_owned));
    hints
}

/// The argument lists of the `agent-dispatch …` commands in `text`, with
/// placeholders filled in: a name becomes `web`, a directory `/tmp`, an
/// amount `2`, and
/// an elided rest (`…`) becomes `--help`, which every command takes.
/// Mentions of the program in prose (`PROSE`) are not commands.
fn commands_in(text: &str) -> Vec<Vec<String>> {
    text.match_indices("agent-dispatch ")
        .map(|(at, prefix)| {
            let rest = &text[at + prefix.len()..];
            let end = rest
                .find(['\'', ')', '\n', '"', '#', '`', ','])
                .unwrap_or(rest.len());
            let end = rest[..end].find(" && ").unwrap_or(end);
            let end = rest[..end].find(". ").unwrap_or(end);
            let end = rest[..end].find(" (").unwrap_or(end);
            rest[..end]
                .trim_end_matches('.')
                .split_whitespace()
                .map(|word| match word {
                    "…" | "..." => "--help".to_owned(),
                    "NAME" | "<name>" | "<agent>" => "web".to_owned(),
                    "SECONDS" => "600".to_owned(),
                    "DIRECTORY" | "DIR" | "<directory>" => "/tmp".to_owned(),
                    "<amount>" => "2".to_owned(),
                    other => other.to_owned(),
                })
                .collect::<Vec<_>>()
        })
        .filter(|words| {
            words
                .first()
                .is_some_and(|first| !PROSE.contains(&first.as_str()))
        })
        .collect()
}

/// Words after "agent-dispatch" in a sentence about the program, not a
/// command line ("the claude CLI that agent-dispatch starts").
const PROSE: [&str; 2] = ["starts", "MCP"];

#[test]
fn every_command_a_hint_names_parses() {
    let mut checked = 0;
    for hint in every_hint() {
        for words in commands_in(&hint) {
            let args = words.iter().map(Into::into).collect();
            if let Err(err) = parse(args) {
                panic!(
                    "hint names 'agent-dispatch {}' ({err}):\n{hint}",
                    words.join(" ")
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} commands found in the hints");
}

#[test]
fn commands_are_cut_out_of_their_sentence() {
    assert_eq!(
        commands_in("fix it with 'agent-dispatch update web --directory DIR' now"),
        [["update", "web", "--directory", "/tmp"]]
    );
    assert_eq!(
        commands_in("(agent-dispatch update web --timeout 600). More."),
        [["update", "web", "--timeout", "600"]]
    );
}
