//! An agent's `json_schema`: the JSON Schema every answer must fit when a
//! call asks for no `response_format`. In `agents.yaml` it is a mapping
//! (or a string holding a JSON object); in memory, compact JSON text, the
//! form `--json-schema` and the prompt take; written back as a mapping.

use serde_json::{Map, Number, Value};

use super::yaml::{Yaml, YamlMap};

/// `yaml` as the compact JSON text of a schema: a mapping, or a string
/// holding a JSON object. `None` for anything else.
pub fn from_yaml(yaml: &Yaml) -> Option<String> {
    let value = match yaml {
        Yaml::Str(text) => serde_json::from_str::<Value>(text).ok()?,
        Yaml::Map(_) => to_json(yaml)?,
        _ => return None,
    };
    value.is_object().then(|| value.to_string())
}

/// A schema given as text (the CLI's `--json-schema`): a JSON object, made
/// compact. `None` when it is not one.
pub fn from_text(text: &str) -> Option<String> {
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_object)
        .map(|value| value.to_string())
}

/// The schema as it is written back to `agents.yaml`: a mapping.
pub fn to_yaml(schema: &str) -> Yaml {
    match serde_json::from_str::<Value>(schema) {
        Ok(value) => from_json(&value),
        // Not from `from_yaml` or `from_text`: kept as the text it is.
        Err(_) => Yaml::Str(schema.to_owned()),
    }
}

fn to_json(yaml: &Yaml) -> Option<Value> {
    Some(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Int(i) => Value::from(*i),
        Yaml::Float(x) => Value::Number(Number::from_f64(*x)?),
        Yaml::Str(text) => Value::String(text.clone()),
        Yaml::Seq(items) => Value::Array(items.iter().map(to_json).collect::<Option<_>>()?),
        Yaml::Map(map) => Value::Object(
            map.iter()
                .map(|(key, value)| Some((key.clone(), to_json(value)?)))
                .collect::<Option<Map<_, _>>>()?,
        ),
    })
}

fn from_json(value: &Value) -> Yaml {
    match value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Int(i),
            None => Yaml::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(text) => Yaml::Str(text.clone()),
        Value::Array(items) => Yaml::Seq(items.iter().map(from_json).collect()),
        Value::Object(map) => Yaml::Map(
            map.iter()
                .map(|(key, value)| (key.clone(), from_json(value)))
                .collect::<YamlMap>(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{"type":"object","properties":{"rows":{"type":"integer","minimum":0}},"required":["rows"]}"#;

    #[test]
    fn a_mapping_and_a_json_string_read_as_the_same_compact_schema() {
        let mapping = to_yaml(SCHEMA);
        assert!(matches!(mapping, Yaml::Map(_)));
        assert_eq!(from_yaml(&mapping).as_deref(), Some(SCHEMA));
        let spaced = "{ \"type\": \"object\",\n \"properties\": {\"rows\": {\"type\": \"integer\", \"minimum\": 0}}, \"required\": [\"rows\"] }";
        assert_eq!(
            from_yaml(&Yaml::Str(spaced.into())).as_deref(),
            Some(SCHEMA)
        );
        assert_eq!(from_text(spaced).as_deref(), Some(SCHEMA));
    }

    #[test]
    fn anything_but_an_object_is_not_a_schema() {
        for bad in [
            Yaml::Str("json".into()),
            Yaml::Str("[1]".into()),
            Yaml::Int(3),
            Yaml::Seq(vec![]),
        ] {
            assert_eq!(from_yaml(&bad), None, "{bad:?}");
        }
        assert_eq!(from_text("{not json"), None);
    }
}
