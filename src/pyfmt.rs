//! Python-style rendering of values, for the texts users and scripts already
//! know from the original: `repr()` of a string (quoted user input in error
//! messages) and `repr()` of a float (`budget=$1.5`, `1e-05`).

/// Python's `repr(str)`: single quotes unless the text holds a `'` and no
/// `"`; backslash escapes for the quote, backslash, and unprintable chars.
pub fn repr_str(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_unprintable(c) => {
                let code = c as u32;
                if code < 0x100 {
                    out.push_str(&format!("\\x{code:02x}"));
                } else if code < 0x10000 {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// The characters Python's `str.isprintable()` rejects that can plausibly
/// appear in names and paths: controls, separators other than the plain
/// space, and the invisible format characters.
fn is_unprintable(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{a0}'
        | '\u{ad}'
        | '\u{1680}'
        | '\u{2000}'..='\u{200f}'
        | '\u{2028}'..='\u{202f}'
        | '\u{205f}'..='\u{2064}'
        | '\u{3000}'
        | '\u{feff}'
        | '\u{e000}'..='\u{f8ff}'
        | '\u{fff9}'..='\u{fffb}')
}

/// Python's `repr(float)`: the shortest round-trip digits, fixed notation
/// for 1e-4 ≤ |x| < 1e16 (always with a fractional part, `1.0`), otherwise
/// scientific with a signed two-digit-minimum exponent (`1e-05`, `1.5e+16`).
pub fn repr_float(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .into();
    }
    // `{:e}` yields the shortest round-trip digits as `d.ddde<exp>`.
    let sci = format!("{:e}", value.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if value < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let body = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (whole, fraction) = digits.split_at(point as usize);
            format!("{whole}.{fraction}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_quote_like_python() {
        assert_eq!(repr_str("foo"), "'foo'");
        assert_eq!(repr_str("bad name"), "'bad name'");
        assert_eq!(repr_str("it's"), "\"it's\"");
        assert_eq!(repr_str("it's \"x\""), "'it\\'s \"x\"'");
        assert_eq!(repr_str("a\\b"), "'a\\\\b'");
        assert_eq!(repr_str("x\n"), "'x\\n'");
        assert_eq!(repr_str("\u{7f}\u{1b}"), "'\\x7f\\x1b'");
        assert_eq!(repr_str("a\u{2028}b"), "'a\\u2028b'");
        assert_eq!(repr_str("ünï — ok"), "'ünï — ok'");
    }

    #[test]
    fn floats_render_like_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (0.0, "0.0"),
            (2.25, "2.25"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789.0, "123456789.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (-3.5, "-3.5"),
            (1e300, "1e+300"),
            (f64::INFINITY, "inf"),
        ];
        for (value, expected) in cases {
            assert_eq!(repr_float(value), expected, "{value}");
        }
    }
}

/// Python's `'%g' % value`: six significant digits, trailing zeros dropped,
/// scientific notation (`1e-05`, `1.23457e+06`) when the exponent is below
/// -4 or at least 6. Used where the original shows a spend cap (`$1.5`,
/// `$2`), unlike `repr_float` which keeps `2.0`.
pub fn format_g(value: f64) -> String {
    const PRECISION: i32 = 6;
    /// `1.500` → `1.5`, `2.000` → `2`; text without a `.` is left alone.
    fn strip_fraction_zeros(number: &str) -> &str {
        if number.contains('.') {
            number.trim_end_matches('0').trim_end_matches('.')
        } else {
            number
        }
    }
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // The exponent must be taken after rounding to six digits: 999999.5
    // rounds up to 1e+06 and therefore switches to scientific notation.
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, value);
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..PRECISION).contains(&exponent) {
        let decimals = (PRECISION - 1 - exponent) as usize;
        strip_fraction_zeros(&format!("{value:.decimals$}")).to_string()
    } else {
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{}e{exp_sign}{:02}",
            strip_fraction_zeros(mantissa),
            exponent.unsigned_abs()
        )
    }
}

#[cfg(test)]
mod format_g_tests {
    use super::format_g;

    #[test]
    fn g_format_matches_python_percent_g() {
        let cases = [
            (1.5, "1.5"),
            (2.0, "2"),
            (0.1, "0.1"),
            (100.0, "100"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (0.00012345678, "0.000123457"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (999999.5, "1e+06"),
            (1e16, "1e+16"),
            (0.30000000000000004, "0.3"),
            (-2.5, "-2.5"),
            (0.0, "0"),
            (-0.0, "-0"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_g(value), expected, "{value}");
        }
    }
}
