//! Decoding a tool call's `arguments` object into typed values, leniently
//! where the original's SDK was (`"900"` for an integer, `5.0` for 5) and
//! strictly everywhere else: a wrong type, a non-finite or out-of-range
//! number, or an argument the tool does not take is an error naming it.

use std::fmt;

use serde_json::{Map, Value};

/// A bad argument; the server answers it with JSON-RPC error -32602.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgError {
    NotAnObject,
    Missing(&'static str),
    WrongType {
        name: String,
        expected: &'static str,
    },
    OutOfRange {
        name: &'static str,
        min: i64,
        max: i64,
    },
    Unknown(String),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::NotAnObject => f.write_str("arguments must be a JSON object"),
            ArgError::Missing(name) => write!(f, "missing required argument '{name}'"),
            ArgError::WrongType { name, expected } => {
                write!(f, "argument '{name}' must be {expected}")
            }
            ArgError::OutOfRange { name, min, max } => {
                write!(f, "argument '{name}' must be between {min} and {max}")
            }
            ArgError::Unknown(name) => write!(f, "unknown argument '{name}'"),
        }
    }
}

/// The arguments of one call, consumed field by field.
#[derive(Debug)]
pub struct Args(Map<String, Value>);

impl Args {
    pub fn new(arguments: Option<Value>) -> Result<Args, ArgError> {
        match arguments {
            None | Some(Value::Null) => Ok(Args(Map::new())),
            Some(Value::Object(map)) => Ok(Args(map)),
            Some(_) => Err(ArgError::NotAnObject),
        }
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name).filter(|v| !v.is_null())
    }

    pub fn string(&mut self, name: &'static str) -> Result<String, ArgError> {
        match self.take(name) {
            None => Err(ArgError::Missing(name)),
            Some(value) => as_string(name, value),
        }
    }

    /// An optional string; absent and `null` give `""`.
    pub fn string_or_empty(&mut self, name: &'static str) -> Result<String, ArgError> {
        self.take(name)
            .map_or(Ok(String::new()), |v| as_string(name, v))
    }

    /// An optional integer within `min..=max` (absent: `default`).
    pub fn integer(
        &mut self,
        name: &'static str,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, ArgError> {
        let Some(value) = self.take(name) else {
            return Ok(default);
        };
        let wrong = || ArgError::WrongType {
            name: name.to_owned(),
            expected: "an integer",
        };
        let number = match &value {
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => i,
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => f as i64,
                _ => return Err(wrong()),
            },
            Value::String(text) => text.trim().parse::<i64>().map_err(|_| wrong())?,
            _ => return Err(wrong()),
        };
        if !(min..=max).contains(&number) {
            return Err(ArgError::OutOfRange { name, min, max });
        }
        Ok(number)
    }

    /// An optional finite number (absent: `default`).
    pub fn number(&mut self, name: &'static str, default: f64) -> Result<f64, ArgError> {
        let Some(value) = self.take(name) else {
            return Ok(default);
        };
        let parsed = match &value {
            Value::Number(n) => n.as_f64(),
            Value::String(text) => text.trim().parse::<f64>().ok(),
            _ => None,
        };
        parsed
            .filter(|x| x.is_finite())
            .ok_or_else(|| ArgError::WrongType {
                name: name.to_owned(),
                expected: "a finite number",
            })
    }

    pub fn boolean(&mut self, name: &'static str, default: bool) -> Result<bool, ArgError> {
        match self.take(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(b),
            Some(Value::String(text)) if text == "true" || text == "false" => Ok(text == "true"),
            Some(_) => Err(ArgError::WrongType {
                name: name.to_owned(),
                expected: "true or false",
            }),
        }
    }

    /// Fails on any argument the tool did not consume.
    pub fn finish(&self) -> Result<(), ArgError> {
        match self.0.keys().next() {
            Some(name) => Err(ArgError::Unknown(name.clone())),
            None => Ok(()),
        }
    }
}

fn as_string(name: &str, value: Value) -> Result<String, ArgError> {
    match value {
        Value::String(text) => Ok(text),
        _ => Err(ArgError::WrongType {
            name: name.to_owned(),
            expected: "a string",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Args {
        Args::new(Some(v)).unwrap()
    }

    #[test]
    fn integers_accept_numeric_strings_and_whole_floats_only() {
        let mut a =
            args(json!({"a": "900", "b": 5.0, "c": 9.5, "d": "9.5", "e": true, "f": 1e300}));
        assert_eq!(a.integer("a", 0, 0, 7200), Ok(900));
        assert_eq!(a.integer("b", 0, 0, 10), Ok(5));
        for name in ["c", "d", "e", "f"] {
            assert!(a.integer(name, 0, i64::MIN, i64::MAX).is_err(), "{name}");
        }
        assert_eq!(a.integer("absent", 7, 0, 10), Ok(7));
        let mut b = args(json!({"n": 11}));
        assert_eq!(
            b.integer("n", 0, 0, 10),
            Err(ArgError::OutOfRange {
                name: "n",
                min: 0,
                max: 10
            })
        );
    }

    #[test]
    fn strings_must_be_strings_and_null_is_absent() {
        let mut a = args(json!({"s": 5, "t": null}));
        assert!(a.string("s").is_err());
        assert_eq!(a.string_or_empty("t"), Ok(String::new()));
        assert_eq!(a.string("t"), Err(ArgError::Missing("t")));
    }

    #[test]
    fn unknown_arguments_are_named() {
        let mut a = args(json!({"agent": "x", "agnet": "y"}));
        a.string("agent").unwrap();
        assert_eq!(a.finish(), Err(ArgError::Unknown("agnet".into())));
        assert_eq!(
            Args::new(Some(json!([1]))).unwrap_err(),
            ArgError::NotAnObject
        );
    }
}
