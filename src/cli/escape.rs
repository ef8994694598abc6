//! Text from the config, the jobs directory, the usage journal or a child
//! process, made safe to print on a terminal: every control character —
//! which could retitle the window, clear the screen, move the cursor over
//! what was printed or ring the bell — is shown as an escape (`\x1b`, `\n`,
//! `\u{9b}`) instead of being sent. Every human-readable CLI view prints
//! such text through here; `--json` output is escaped by JSON itself and
//! never comes here.

use std::borrow::Cow;

/// For a value shown on one line (a name, a description, a task in a
/// listing, a progress step): every control character is escaped, a
/// newline as `\n`, so the value cannot break the layout around it.
pub fn line(text: &str) -> Cow<'_, str> {
    escape(text, Layout::Line)
}

/// A path on one line: a path may hold any byte but `/` and NUL.
pub fn path(path: &std::path::Path) -> String {
    line(&path.to_string_lossy()).into_owned()
}

/// For a text meant to span lines (instructions, shared context, a result,
/// an error): line breaks (`\n`, `\r\n`) and tabs stay as they are, every
/// other control character is escaped — a lone `\r` too, since it would let
/// a line overwrite itself.
pub fn block(text: &str) -> Cow<'_, str> {
    escape(text, Layout::Block)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    Line,
    Block,
}

fn escape(text: &str, layout: Layout) -> Cow<'_, str> {
    let plain = |c: char| !c.is_control() || (layout == Layout::Block && matches!(c, '\n' | '\t'));
    if text.chars().all(plain) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let kept = match c {
            '\n' | '\t' => layout == Layout::Block,
            '\r' => layout == Layout::Block && chars.peek() == Some(&'\n'),
            other => !other.is_control(),
        };
        if kept {
            shown.push(c);
            continue;
        }
        match c {
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            '\t' => shown.push_str("\\t"),
            // C0 and DEL as the two hex digits people know from `printf`;
            // C1 (U+0080–U+009F, which some terminals obey as 8-bit
            // controls) as a Unicode escape.
            c if c.is_ascii() => shown.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => shown.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
    }
    Cow::Owned(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_controls_is_borrowed_as_is() {
        assert!(matches!(line("plain — ünïcode"), Cow::Borrowed(_)));
        assert!(matches!(block("two\nlines"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_line_escapes_every_control_character() {
        assert_eq!(line("\x1b]0;pwned\x07\x1b[2J"), r"\x1b]0;pwned\x07\x1b[2J");
        assert_eq!(line("a\nb\r\nc\td\x7f"), r"a\nb\r\nc\td\x7f");
        assert_eq!(line("csi\u{9b}2J nel\u{85}"), r"csi\u{9b}2J nel\u{85}");
    }

    #[test]
    fn a_block_keeps_line_breaks_and_tabs_only() {
        assert_eq!(block("one\r\ntwo\n\tthree"), "one\r\ntwo\n\tthree");
        assert_eq!(block("over\rwrite\x1b[2J"), r"over\rwrite\x1b[2J");
        assert_eq!(block("end\r"), r"end\r");
    }
}
