//! "did you mean …?": the known name nearest to a mistyped one, by edit
//! distance. Used for command names; knows nothing about what they do.

/// The most edits a suggestion may be away from what was typed; more is a
/// different word, not a typo.
const MAX_EDITS: usize = 2;

/// The name in `known` nearest to `typed` (the first of equally near ones),
/// if it is at most `MAX_EDITS` edits away and closer than retyping it.
pub(crate) fn nearest(typed: &str, known: &[&'static str]) -> Option<&'static str> {
    known
        .iter()
        .map(|name| (distance(typed, name), *name))
        .filter(|(edits, name)| *edits <= MAX_EDITS && *edits < name.chars().count())
        .min_by_key(|(edits, _)| *edits)
        .map(|(_, name)| name)
}

/// Levenshtein distance: insertions, deletions and substitutions, by char.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_single_char_edits() {
        assert_eq!(distance("list", "list"), 0);
        assert_eq!(distance("lsit", "list"), 2);
        assert_eq!(distance("lst", "list"), 1);
        assert_eq!(distance("", "gc"), 2);
    }

    #[test]
    fn nearest_suggests_close_names_and_nothing_for_strangers() {
        let known = ["list", "jobs", "job", "stats"];
        assert_eq!(nearest("lis", &known), Some("list"));
        assert_eq!(nearest("stat", &known), Some("stats"));
        assert_eq!(nearest("jb", &known), Some("job"));
        assert_eq!(nearest("deploy", &known), None);
        assert_eq!(nearest("x", &["gc"]), None);
    }
}
