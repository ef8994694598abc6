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

/// `word` single-quoted whatever it holds, for a command another shell
/// runs (ssh's remote command): no word is ever read bare.
pub fn quote_always(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_bare_and_the_rest_is_single_quoted() {
        assert_eq!(quote("Read,Edit"), "Read,Edit");
        assert_eq!(quote("Bash(git *)"), "'Bash(git *)'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
