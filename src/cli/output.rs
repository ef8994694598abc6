//! Writing to the terminal: results on stdout, warnings and errors on
//! stderr, colour only when the stream is a terminal and `NO_COLOR` is
//! unset. Warnings, errors and progress lines are escaped here (they quote
//! config values and `claude`'s own output); what goes to stdout is built
//! by each view, which escapes its fields with `escape` before colouring.

use std::io::{self, IsTerminal, Write};

use super::error::CliError;
use super::escape;

#[derive(Debug, Clone, Copy)]
pub enum Color {
    Bold,
    Red,
    Green,
    Yellow,
    Cyan,
}

impl Color {
    fn code(self) -> &'static str {
        match self {
            Color::Bold => "1",
            Color::Red => "31",
            Color::Green => "32",
            Color::Yellow => "33",
            Color::Cyan => "36",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Ui {
    color_out: bool,
    color_err: bool,
}

impl Ui {
    pub fn from_env() -> Ui {
        let allowed = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Ui {
            color_out: allowed && io::stdout().is_terminal(),
            color_err: allowed && io::stderr().is_terminal(),
        }
    }

    /// Wraps `text` in a colour when stdout shows colours.
    pub fn paint(&self, color: Color, text: &str) -> String {
        paint(self.color_out, color, text)
    }

    /// Writes one line (or several, joined by `\n`) to stdout.
    pub fn line(&self, text: &str) -> Result<(), CliError> {
        let mut out = io::stdout().lock();
        writeln!(out, "{text}")
            .and_then(|()| out.flush())
            .map_err(CliError::Output)
    }

    /// A live progress line on stderr (`  -> Using tool: Bash`).
    pub fn progress(&self, message: &str) {
        let line = paint(
            self.color_err,
            Color::Cyan,
            &format!("  -> {}", escape::line(message)),
        );
        let _ = writeln!(io::stderr().lock(), "{line}");
    }

    pub fn warn(&self, message: &str) {
        let label = paint(self.color_err, Color::Yellow, "warning:");
        let _ = writeln!(io::stderr().lock(), "{label} {}", escape::block(message));
    }

    pub fn error(&self, err: &CliError) {
        let mut stderr = io::stderr().lock();
        let label = paint(self.color_err, Color::Red, "error:");
        let _ = writeln!(stderr, "{label} {}", escape::block(&err.to_string()));
        if let Some(hint) = err.hint() {
            let _ = writeln!(stderr, "hint: {}", escape::block(&hint));
        }
    }
}

fn paint(enabled: bool, color: Color, text: &str) -> String {
    if enabled {
        format!("\x1b[{}m{text}\x1b[0m", color.code())
    } else {
        text.to_owned()
    }
}

/// Prints a JSON value, pretty, for `--json` output.
pub fn json(ui: &Ui, value: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|err| CliError::Output(io::Error::other(err)))?;
    ui.line(&text)
}
