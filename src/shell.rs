//! POSIX shell quoting, for the commands we print for a person to run
//! (`agent-dispatch update …`, `claude mcp add-json …`): a word made only
//! of characters no shell treats specially stays bare; any other word is
//! single-quoted, with each `'` written as `'\''`.

use std::borrow::Cow;

pub fn quote(word: &str) -> Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

/// `words` as one command line for a remote shell, each word quoted by
/// `quote_always`.
pub fn command_line<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|word| quote_always(word.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `word` single-quoted whatever it holds, for a command another shell
/// runs (ssh's remote command): no word is ever read bare. A `'` or `\`
/// leaves the quotes and is double-quoted, which reads the same in every
/// POSIX shell and in fish (which, unlike them, takes `\'` and `\\` as
/// escapes inside single quotes).
pub fn quote_always(word: &str) -> String {
    let mut quoted = String::with_capacity(word.len() + 2);
    quoted.push('\'');
    for c in word.chars() {
        match c {
            '\'' => quoted.push_str(r#"'"'"'"#),
            '\\' => quoted.push_str(r#"'"\\"'"#),
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn always_quoted_words_survive_posix_shells() {
        for word in [
            "plain",
            "it's",
            r"back\slash",
            r"end\",
            "$HOME `x` \"q\"",
            "",
        ] {
            let out = std::process::Command::new("sh")
                .args(["-c", &format!("printf %s {}", quote_always(word))])
                .output()
                .unwrap_or_else(|err| panic!("sh: {err}"));
            assert_eq!(String::from_utf8_lossy(&out.stdout), word, "{word:?}");
        }
        assert_eq!(quote_always(r"a\'b"), r#"'a'"\\"''"'"'b'"#);
    }

    #[test]
    fn plain_words_stay_bare_and_the_rest_is_single_quoted() {
        assert_eq!(quote("Read,Edit"), "Read,Edit");
        assert_eq!(quote("Bash(git *)"), "'Bash(git *)'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
