//! Cutting text to a length counted in characters (Unicode scalar values),
//! never bytes: every limit the original applies — task previews, progress
//! lines, journal fields, summaries — counts characters, and a byte cut
//! could split one.

/// The first `max` characters of `text` (all of it when shorter).
pub fn prefix(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_never_splits_a_character() {
        assert_eq!(prefix("héllo", 2), "hé");
        assert_eq!(prefix("данные", 3), "дан");
        assert_eq!(prefix("hé", 5), "hé");
        assert_eq!(prefix("ab", 0), "");
        assert_eq!(prefix("", 0), "");
    }
}
