//! A tool's parameters, declared once. Each parameter's name, JSON type,
//! default, bounds and description live in one declaration (`Text`,
//! `Integer`, `Number`, `Boolean`); a tool lists its declarations in a table
//! (`Params`), `tools/list` generates the tool's `inputSchema` from that
//! table (`schema`), and `args::Args` decodes a call through the very same
//! declarations. What the model is told and what the server accepts
//! therefore cannot drift apart. Decoding itself lives in `args`.

use std::ops::RangeInclusive;

use serde_json::{Map, Value, json};

/// A tool's parameters in schema order, as groups so that a set several
/// tools take (the dispatch tools' `agent`, `task`, …) is declared once and
/// listed by each of them.
pub type Params = &'static [&'static [Param]];

/// A tool without parameters.
pub const NONE: Params = &[];

/// One parameter of a tool.
#[derive(Debug, Clone, Copy)]
pub enum Param {
    Text(Text),
    Integer(Integer),
    Number(Number),
    Boolean(Boolean),
}

/// A string parameter. An optional one decodes absent (or `null`) as `""`
/// and carries no `default` in the schema: empty is implied, and every
/// byte of `tools/list` is resent to the model.
#[derive(Debug, Clone, Copy)]
pub struct Text {
    pub name: &'static str,
    pub required: bool,
    pub description: &'static str,
}

impl Text {
    pub const fn required(name: &'static str, description: &'static str) -> Text {
        Text {
            name,
            required: true,
            description,
        }
    }

    pub const fn optional(name: &'static str, description: &'static str) -> Text {
        Text {
            name,
            required: false,
            description,
        }
    }
}

/// An optional integer parameter.
#[derive(Debug, Clone, Copy)]
pub struct Integer {
    pub name: &'static str,
    pub default: i64,
    pub bounds: Bounds,
    pub description: &'static str,
}

/// What happens to an integer outside the range a tool can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bounds {
    /// Any `i64` decodes as given; the tool gives it meaning (a timeout of
    /// 0 or less means "the agent's own", for instance).
    AsGiven,
    /// Values outside `min..=max` are clamped into it, as the original
    /// did; `in_schema` also states the range as `minimum`/`maximum`.
    Clamped { min: i64, max: i64, in_schema: bool },
}

impl Integer {
    /// An integer decoded as given; the tool gives it its meaning.
    pub const fn as_given(name: &'static str, default: i64, description: &'static str) -> Integer {
        Integer {
            name,
            default,
            bounds: Bounds::AsGiven,
            description,
        }
    }

    /// An integer clamped into `range`.
    pub const fn clamped(
        name: &'static str,
        default: i64,
        range: RangeInclusive<i64>,
        description: &'static str,
    ) -> Integer {
        Integer {
            name,
            default,
            bounds: Bounds::Clamped {
                min: *range.start(),
                max: *range.end(),
                in_schema: false,
            },
            description,
        }
    }

    /// The same parameter with its clamp also stated in the schema.
    pub const fn range_in_schema(self) -> Integer {
        let bounds = match self.bounds {
            Bounds::Clamped { min, max, .. } => Bounds::Clamped {
                min,
                max,
                in_schema: true,
            },
            Bounds::AsGiven => Bounds::AsGiven,
        };
        Integer { bounds, ..self }
    }

    /// `value` brought within this parameter's bounds.
    pub fn bounded(&self, value: i64) -> i64 {
        match self.bounds {
            Bounds::AsGiven => value,
            Bounds::Clamped { min, max, .. } => value.clamp(min, max),
        }
    }
}

/// An optional parameter that is a plain value with a default: nothing
/// beyond its type is checked on the way in.
#[derive(Debug, Clone, Copy)]
pub struct Scalar<T> {
    pub name: &'static str,
    pub default: T,
    /// Some long-standing parameters have none, and adding one would
    /// change what every session loads.
    pub description: Option<&'static str>,
}

/// A finite number (`Args::number` refuses NaN and infinities).
pub type Number = Scalar<f64>;
pub type Boolean = Scalar<bool>;

impl<T: Copy> Scalar<T> {
    pub const fn new(name: &'static str, default: T) -> Scalar<T> {
        Scalar {
            name,
            default,
            description: None,
        }
    }

    pub const fn described(self, description: &'static str) -> Scalar<T> {
        Scalar {
            description: Some(description),
            ..self
        }
    }
}

impl Param {
    pub fn name(&self) -> &'static str {
        match self {
            Param::Text(p) => p.name,
            Param::Integer(p) => p.name,
            Param::Number(p) => p.name,
            Param::Boolean(p) => p.name,
        }
    }

    fn required(&self) -> bool {
        matches!(self, Param::Text(Text { required: true, .. }))
    }

    /// This parameter's entry under the schema's `properties`, keys in the
    /// order clients have always seen: type, default, bounds, description.
    fn property(&self) -> Value {
        let (kind, default, description) = match self {
            Param::Text(p) => ("string", None, Some(p.description)),
            Param::Integer(p) => ("integer", Some(json!(p.default)), Some(p.description)),
            Param::Number(p) => ("number", Some(whole_as_integer(p.default)), p.description),
            Param::Boolean(p) => ("boolean", Some(json!(p.default)), p.description),
        };
        let mut property = Map::new();
        property.insert("type".into(), json!(kind));
        if let Some(default) = default {
            property.insert("default".into(), default);
        }
        if let Param::Integer(Integer {
            bounds:
                Bounds::Clamped {
                    min,
                    max,
                    in_schema: true,
                },
            ..
        }) = self
        {
            property.insert("minimum".into(), json!(min));
            property.insert("maximum".into(), json!(max));
        }
        // An empty description is left out: the name says it all.
        if let Some(description) = description.filter(|text| !text.is_empty()) {
            property.insert("description".into(), json!(description));
        }
        Value::Object(property)
    }
}

/// A whole-number default as a JSON integer (`7`, not `7.0`): what a
/// person writes, and a byte shorter for the model.
fn whole_as_integer(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

/// Every parameter of `params`, in schema order.
pub fn each(params: Params) -> impl Iterator<Item = &'static Param> {
    params.iter().flat_map(|group| group.iter())
}

/// Whether `params` declares a parameter called `name`.
pub fn declares(params: Params, name: &str) -> bool {
    each(params).any(|param| param.name() == name)
}

/// The `inputSchema` of a tool taking `params`: an object of those
/// properties, with `required` only when something is. It does not say
/// `additionalProperties: false` — the server refuses unknown arguments
/// anyway, and every byte of `tools/list` is resent to the model.
pub fn schema(params: Params) -> Value {
    let properties: Map<String, Value> = each(params)
        .map(|param| (param.name().to_owned(), param.property()))
        .collect();
    let mut schema = json!({"type": "object", "properties": properties});
    let required: Vec<&str> = each(params)
        .filter(|param| param.required())
        .map(Param::name)
        .collect();
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: Text = Text::required("name", "Who.");
    const NOTE: Text = Text::optional("note", "Why.");
    const LINES: Integer = Integer::clamped("lines", 40, 0..=200, "How many.").range_in_schema();
    const DAYS: Number = Number::new("days", 7.0);
    const DRY: Boolean = Boolean::new("dry", false).described("Only look.");
    const TABLE: Params = &[
        &[Param::Text(NAME), Param::Text(NOTE)],
        &[
            Param::Integer(LINES),
            Param::Number(DAYS),
            Param::Boolean(DRY),
        ],
    ];

    #[test]
    fn schema_lists_properties_in_table_order_with_required_names() {
        assert_eq!(
            serde_json::to_string(&schema(TABLE)).unwrap(),
            r#"{"type":"object","properties":{"name":{"type":"string","description":"Who."},"note":{"type":"string","description":"Why."},"lines":{"type":"integer","default":40,"minimum":0,"maximum":200,"description":"How many."},"days":{"type":"number","default":7},"dry":{"type":"boolean","default":false,"description":"Only look."}},"required":["name"]}"#
        );
    }

    #[test]
    fn a_table_without_required_parameters_has_no_required_key() {
        assert_eq!(schema(NONE), json!({"type": "object", "properties": {}}));
        assert!(declares(TABLE, "dry") && !declares(TABLE, "wet"));
    }

    #[test]
    fn clamped_integers_are_brought_into_range_and_others_kept() {
        assert_eq!(LINES.bounded(-5), 0);
        assert_eq!(LINES.bounded(900), 200);
        assert_eq!(Integer::as_given("free", 0, "").bounded(-5), -5);
    }
}
