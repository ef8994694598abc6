//! Decoding a tool call's `arguments` object into typed values through the
//! tool's parameter declarations (`params`): leniently where the original's
//! SDK was (`"900"` for an integer, `5.0` for 5, clamping where it clamped)
//! and strictly everywhere else: a wrong type, a non-finite number, or an
//! argument the tool does not take is an error naming it.

use std::fmt;

use serde_json::{Map, Value};

use super::params::{self, Boolean, Integer, Number, Params, Text};
use crate::config::patch::FieldError;

/// A bad argument; the server answers it with JSON-RPC error -32602.
#[derive(Debug)]
pub enum ArgError {
    NotAnObject,
    Missing(&'static str),
    WrongType {
        name: String,
        expected: &'static str,
    },
    Unknown(String),
    /// Well typed, but breaks the rule of the agent key of the same name.
    Invalid(FieldError),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::NotAnObject => f.write_str("arguments must be a JSON object"),
            ArgError::Missing(name) => write!(f, "missing required argument '{name}'"),
            ArgError::WrongType { name, expected } => {
                write!(f, "argument '{name}' must be {expected}")
            }
            ArgError::Unknown(name) => write!(f, "unknown argument '{name}'"),
            ArgError::Invalid(err) => write!(f, "argument {err}"),
        }
    }
}

/// The arguments of one call to a tool taking `declared`, consumed
/// parameter by parameter through the tool's own declarations.
#[derive(Debug)]
pub struct Args {
    given: Map<String, Value>,
    declared: Params,
}

impl Args {
    pub fn new(arguments: Option<Value>, declared: Params) -> Result<Args, ArgError> {
        let given = match arguments {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(ArgError::NotAnObject),
        };
        Ok(Args { given, declared })
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        // A parameter decoded but missing from the tool's table would be
        // accepted without the model ever being told of it.
        debug_assert!(
            params::declares(self.declared, name),
            "parameter '{name}' is decoded but not in the tool's table"
        );
        self.given.remove(name).filter(|v| !v.is_null())
    }

    /// A string; an optional one is `""` when absent or `null`.
    pub fn text(&mut self, param: &Text) -> Result<String, ArgError> {
        match self.take(param.name) {
            Some(value) => as_string(param.name, value),
            None if param.required => Err(ArgError::Missing(param.name)),
            None => Ok(String::new()),
        }
    }

    /// An integer within the parameter's bounds (absent: its default).
    pub fn integer(&mut self, param: &Integer) -> Result<i64, ArgError> {
        let Some(value) = self.take(param.name) else {
            return Ok(param.default);
        };
        let wrong = || ArgError::WrongType {
            name: param.name.to_owned(),
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
        Ok(param.bounded(number))
    }

    /// A finite number (absent: the parameter's default).
    pub fn number(&mut self, param: &Number) -> Result<f64, ArgError> {
        let Some(value) = self.take(param.name) else {
            return Ok(param.default);
        };
        let parsed = match &value {
            Value::Number(n) => n.as_f64(),
            Value::String(text) => text.trim().parse::<f64>().ok(),
            _ => None,
        };
        parsed
            .filter(|x| x.is_finite())
            .ok_or_else(|| ArgError::WrongType {
                name: param.name.to_owned(),
                expected: "a finite number",
            })
    }

    pub fn boolean(&mut self, param: &Boolean) -> Result<bool, ArgError> {
        match self.take(param.name) {
            None => Ok(param.default),
            Some(Value::Bool(b)) => Ok(b),
            Some(Value::String(text)) if text == "true" || text == "false" => Ok(text == "true"),
            Some(_) => Err(ArgError::WrongType {
                name: param.name.to_owned(),
                expected: "true or false",
            }),
        }
    }

    /// Fails on any argument the tool did not consume.
    pub fn finish(&self) -> Result<(), ArgError> {
        match self.given.keys().next() {
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
    use crate::mcp::tools::params::Param;
    use serde_json::json;

    const fn int(name: &'static str, default: i64) -> Integer {
        Integer::as_given(name, default, "")
    }
    const A: Integer = int("a", 0);
    const B: Integer = int("b", 0);
    const ABSENT: Integer = int("absent", 7);
    const N: Integer = Integer::clamped("n", 0, 0..=10, "");
    const S: Text = Text::required("s", "");
    const T: Text = Text::required("t", "");
    const T_OPTIONAL: Text = Text::optional("t", "");
    const AGENT: Text = Text::required("agent", "");
    const TABLE: Params = &[&[
        Param::Integer(A),
        Param::Integer(B),
        Param::Integer(int("c", 0)),
        Param::Integer(int("d", 0)),
        Param::Integer(int("e", 0)),
        Param::Integer(int("f", 0)),
        Param::Integer(ABSENT),
        Param::Integer(N),
        Param::Text(S),
        Param::Text(T),
        Param::Text(AGENT),
    ]];

    fn args(v: Value) -> Args {
        Args::new(Some(v), TABLE).unwrap()
    }

    #[test]
    fn integers_accept_numeric_strings_and_whole_floats_only() {
        let mut a =
            args(json!({"a": "900", "b": 5.0, "c": 9.5, "d": "9.5", "e": true, "f": 1e300}));
        assert_eq!(a.integer(&A).ok(), Some(900));
        assert_eq!(a.integer(&B).ok(), Some(5));
        for name in ["c", "d", "e", "f"] {
            assert!(a.integer(&int(name, 0)).is_err(), "{name}");
        }
        assert_eq!(a.integer(&ABSENT).ok(), Some(7));
    }

    #[test]
    fn clamped_integers_are_clamped_not_refused() {
        assert_eq!(args(json!({"n": 11})).integer(&N).ok(), Some(10));
        assert_eq!(args(json!({"n": "-3"})).integer(&N).ok(), Some(0));
    }

    #[test]
    fn strings_must_be_strings_and_null_is_absent() {
        let mut a = args(json!({"s": 5, "t": null}));
        assert!(a.text(&S).is_err());
        assert_eq!(a.text(&T_OPTIONAL).ok(), Some(String::new()));
        assert!(matches!(a.text(&T), Err(ArgError::Missing("t"))));
    }

    #[test]
    fn unknown_arguments_are_named() {
        let mut a = args(json!({"agent": "x", "agnet": "y"}));
        a.text(&AGENT).unwrap();
        assert!(matches!(a.finish(), Err(ArgError::Unknown(name)) if name == "agnet"));
        assert!(matches!(
            Args::new(Some(json!([1])), TABLE),
            Err(ArgError::NotAnObject)
        ));
    }
}
