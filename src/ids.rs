//! Random identifiers drawn from the operating system's generator: 32-hex
//! tokens (job ids, temp-file suffixes) and session UUIDs, plus the check
//! that a caller-supplied token really is one before it is ever used to
//! build a path.

use std::fmt;

/// The OS random source failed; nothing sensible can be generated without it.
#[derive(Debug)]
pub struct RandomUnavailable(getrandom::Error);

impl fmt::Display for RandomUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the operating system's random source failed: {}", self.0)
    }
}

impl std::error::Error for RandomUnavailable {}

/// Returns 16 random bytes as 32 lowercase hex digits.
pub fn hex32() -> Result<String, RandomUnavailable> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(RandomUnavailable)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A random (version 4) UUID in its hyphenated lowercase form, as `claude
/// --session-id` expects.
pub fn uuid_v4() -> Result<String, RandomUnavailable> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(RandomUnavailable)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// True when `text` is exactly 32 lowercase hex digits — nothing before,
/// nothing after (a trailing newline is rejected too).
pub fn is_hex32(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_valid_and_distinct() {
        let a = hex32().unwrap();
        let b = hex32().unwrap();
        assert!(is_hex32(&a), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn uuids_have_version_4_and_the_rfc_variant() {
        let id = uuid_v4().unwrap();
        assert_eq!(id.len(), 36);
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'), "{id}");
        assert!(
            matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
            "{id}"
        );
        assert_ne!(id, uuid_v4().unwrap());
    }

    #[test]
    fn rejects_everything_that_is_not_exactly_32_lowercase_hex() {
        let good = "0123456789abcdef0123456789abcdef";
        assert!(is_hex32(good));
        for bad in [
            "",
            "../../x",
            "/etc/passwd",
            &good[..31],
            &format!("{good}0"),
            &good.to_uppercase(),
            &format!("{good}\n"),
            "0123456789abcdef0123456789abcdeg",
        ] {
            assert!(!is_hex32(bad), "{bad:?} accepted");
        }
    }
}
