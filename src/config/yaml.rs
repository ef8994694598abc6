//! A dynamic YAML value that keeps mapping order, and the two conversions
//! between it and text. Decoding into the typed schema happens in
//! `decode.rs`; keeping the raw tree lets us preserve keys we do not know.
//!
//! Booleans are read strictly (`true`/`false` only) so that `yes`, `on` or a
//! one-letter `y` arrive as text; `decode.rs` then accepts the YAML 1.1
//! spellings where a boolean is expected, as PyYAML does, without turning a
//! description of `y` into `true`.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

pub type YamlMap = IndexMap<String, Yaml>;

#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Yaml>),
    Map(YamlMap),
}

impl Yaml {
    /// A short name of the value's kind, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Yaml::Null => "null",
            Yaml::Bool(_) => "a boolean",
            Yaml::Int(_) => "an integer",
            Yaml::Float(_) => "a number",
            Yaml::Str(_) => "a string",
            Yaml::Seq(_) => "a list",
            Yaml::Map(_) => "a mapping",
        }
    }
}

/// A YAML text that could not be parsed, with its position when known.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// Parses one YAML document. An empty document is `Yaml::Null`. Duplicate
/// keys are an error naming the key and its line.
pub fn parse(text: &str) -> Result<Yaml, SyntaxError> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::PassThrough,
    };
    serde_saphyr::from_str_with_options::<Yaml>(text, options).map_err(|err| {
        let err = err.without_snippet();
        let message = match err {
            serde_saphyr::Error::DuplicateMappingKey { key, location } => {
                let key = key.as_deref().unwrap_or("?");
                format!(
                    "duplicate key '{key}' at line {}, column {}: each key may appear only once in a mapping; delete or rename one of them",
                    location.line(), location.column()
                )
            }
            other => other.to_string(),
        };
        SyntaxError { message }
    })
}

/// Renders a value as block-style YAML. Strings that could be misread are
/// double-quoted with escapes (never folded), which both our parser and
/// PyYAML read back exactly.
pub fn render(value: &Yaml) -> Result<String, serde_saphyr::SerializeError> {
    let options = serde_saphyr::ser_options! { prefer_block_scalars: false };
    serde_saphyr::to_string_with_options(value, options)
}

struct YamlVisitor;

impl<'de> Visitor<'de> for YamlVisitor {
    type Value = Yaml;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_none<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Yaml, D::Error> {
        inner.deserialize_any(YamlVisitor)
    }
    fn visit_bool<E>(self, value: bool) -> Result<Yaml, E> {
        Ok(Yaml::Bool(value))
    }
    fn visit_i64<E>(self, value: i64) -> Result<Yaml, E> {
        Ok(Yaml::Int(value))
    }
    fn visit_u64<E>(self, value: u64) -> Result<Yaml, E> {
        Ok(i64::try_from(value).map_or(Yaml::Float(value as f64), Yaml::Int))
    }
    fn visit_i128<E>(self, value: i128) -> Result<Yaml, E> {
        Ok(i64::try_from(value).map_or(Yaml::Float(value as f64), Yaml::Int))
    }
    fn visit_u128<E>(self, value: u128) -> Result<Yaml, E> {
        Ok(i64::try_from(value).map_or(Yaml::Float(value as f64), Yaml::Int))
    }
    fn visit_f64<E>(self, value: f64) -> Result<Yaml, E> {
        Ok(Yaml::Float(value))
    }
    fn visit_str<E>(self, value: &str) -> Result<Yaml, E> {
        Ok(Yaml::Str(value.to_owned()))
    }
    fn visit_string<E>(self, value: String) -> Result<Yaml, E> {
        Ok(Yaml::Str(value))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Yaml, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = items.next_element_seed(YamlSeed)? {
            out.push(item);
        }
        Ok(Yaml::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Yaml, A::Error> {
        let mut out = YamlMap::new();
        while let Some(key) = entries.next_key_seed(YamlSeed)? {
            let key = match key {
                Yaml::Str(text) => text,
                Yaml::Int(n) => n.to_string(),
                Yaml::Bool(b) => b.to_string(),
                Yaml::Null => "null".to_owned(),
                other => {
                    return Err(de::Error::custom(format!(
                        "a mapping key must be a plain scalar, found {}",
                        other.kind()
                    )));
                }
            };
            let value = entries.next_value_seed(YamlSeed)?;
            out.insert(key, value);
        }
        Ok(Yaml::Map(out))
    }
}

struct YamlSeed;

impl<'de> DeserializeSeed<'de> for YamlSeed {
    type Value = Yaml;
    fn deserialize<D: Deserializer<'de>>(self, input: D) -> Result<Yaml, D::Error> {
        input.deserialize_any(YamlVisitor)
    }
}

impl<'de> serde::Deserialize<'de> for Yaml {
    fn deserialize<D: Deserializer<'de>>(input: D) -> Result<Yaml, D::Error> {
        input.deserialize_any(YamlVisitor)
    }
}

impl serde::Serialize for Yaml {
    fn serialize<S: Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        match self {
            Yaml::Null => out.serialize_unit(),
            Yaml::Bool(b) => out.serialize_bool(*b),
            Yaml::Int(n) => out.serialize_i64(*n),
            Yaml::Float(x) => out.serialize_f64(*x),
            Yaml::Str(text) => out.serialize_str(text),
            Yaml::Seq(items) => {
                let mut seq = out.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Yaml::Map(entries) => {
                let mut map = out.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> YamlMap {
        match parse(text).unwrap() {
            Yaml::Map(m) => m,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn scalars_keep_their_yaml_types_and_yes_stays_text() {
        let m = map("a: yes\nb: '300'\nc: 300\nd: 1.5\ne: ~\nf: true\ng: y\nh: .nan\n");
        assert_eq!(m["a"], Yaml::Str("yes".into()));
        assert_eq!(m["b"], Yaml::Str("300".into()));
        assert_eq!(m["c"], Yaml::Int(300));
        assert_eq!(m["d"], Yaml::Float(1.5));
        assert_eq!(m["e"], Yaml::Null);
        assert_eq!(m["f"], Yaml::Bool(true));
        assert_eq!(m["g"], Yaml::Str("y".into()));
        assert!(matches!(m["h"], Yaml::Float(x) if x.is_nan()));
    }

    #[test]
    fn order_is_kept() {
        let m = map("zeta: 1\nalpha: 2\nmid: 3\n");
        assert_eq!(m.keys().collect::<Vec<_>>(), ["zeta", "alpha", "mid"]);
    }

    #[test]
    fn empty_and_comment_only_documents_are_null() {
        assert_eq!(parse("").unwrap(), Yaml::Null);
        assert_eq!(parse("# nothing\n").unwrap(), Yaml::Null);
    }

    #[test]
    fn duplicate_keys_are_rejected_with_key_and_line() {
        let err = parse("agents:\n  web: {directory: /a}\n  web: {directory: /b}\n").unwrap_err();
        assert!(err.message.contains("duplicate key 'web'"), "{err}");
        assert!(err.message.contains("line 3"), "{err}");
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = parse("a: [1, 2\n").unwrap_err();
        assert!(err.message.contains("line 1"), "{err}");
    }

    #[test]
    fn tricky_strings_survive_a_render_parse_round_trip() {
        let strings = [
            "plain",
            "yes",
            "no",
            "y",
            "on",
            "300",
            "1.5",
            "",
            " lead",
            "trail ",
            "a: b",
            "# c",
            "- d",
            "line1\nline2",
            "line1\n  line2\n",
            "trailing\n\n",
            "x\ty",
            "'q'",
            "\"dq\"",
            "ünï — ok",
            "~",
            "null",
            "@at",
            "`bt",
            "%pc",
            "*star",
            "&amp",
            "!bang",
            "|pipe",
            ">gt",
            "{b}",
            "[s]",
            "a #b",
            "0x1F",
            "1_000",
            ".inf",
            "\u{7f}del",
            "nbsp\u{a0}x",
            "\u{2028}ls",
            "\r\ncrlf",
            " ",
            "\n",
            "a long line that goes on and on well beyond the eighty columns a folding emitter would wrap at: yes",
        ];
        let mut m = YamlMap::new();
        for (i, s) in strings.iter().enumerate() {
            m.insert(format!("k{i}"), Yaml::Str((*s).into()));
        }
        let original = Yaml::Map(m);
        let text = render(&original).unwrap();
        assert_eq!(parse(&text).unwrap(), original, "{text}");
    }
}
