//! The 2026-07-28 revision of MCP ("modern", stateless): no handshake;
//! each request carries the protocol version and the client's capabilities
//! in `params._meta`, checked here (`envelope`); every result says
//! `resultType` and names the server in its `_meta`; `server/discover`
//! describes the server; list results say how long they stay fresh.
//! Which era a request belongs to is the server's decision (`server`).

use std::fmt;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use super::jsonrpc;
use crate::VERSION;
use crate::chars;
use crate::pyfmt::repr_str;

/// The one modern revision we serve.
pub const VERSION_2026: &str = "2026-07-28";
/// The versions `initialize` negotiates, oldest first.
pub const HANDSHAKE_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// How much of a caller's text an error repeats.
const ECHOED_CHARS: usize = 40;
/// The tasks extension (SEP-2663).
pub const TASKS_EXTENSION: &str = "io.modelcontextprotocol/tasks";

const PROTOCOL_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
const CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
const LOG_LEVEL_KEY: &str = "io.modelcontextprotocol/logLevel";
const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// -32021: the request needs a client capability it did not declare.
const MISSING_CLIENT_CAPABILITY: i64 = -32021;
/// -32022: the requested protocol version is not one we serve.
const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
/// How long a client may keep `tools/list` and `server/discover`: both are
/// fixed for the life of this binary.
const FRESH_FOR_MS: u64 = 3_600_000;

/// What a well-formed modern request tells about its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    /// The client declared the tasks extension on this request.
    pub tasks: bool,
}

/// Why a request's modern envelope is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvelopeError {
    /// A required `_meta` key is missing or of the wrong type.
    Malformed(&'static str),
    Unsupported(String),
    LogLevel(String),
}

/// Whether `params` carries the modern envelope at all: its protocol
/// version key. Legacy clients never send it.
pub fn is_modern(params: &Value) -> bool {
    meta(params).is_some_and(|meta| meta.contains_key(PROTOCOL_VERSION_KEY))
}

fn meta(params: &Value) -> Option<&Map<String, Value>> {
    params.get("_meta").and_then(Value::as_object)
}

/// Checks a modern request's `_meta`: the version (a string, and ours),
/// the client's capabilities (an object), a log level if given.
pub fn envelope(params: &Value) -> Result<Envelope, EnvelopeError> {
    let Some(meta) = meta(params) else {
        return Err(EnvelopeError::Malformed("params._meta (an object)"));
    };
    let Some(version) = meta.get(PROTOCOL_VERSION_KEY).and_then(Value::as_str) else {
        return Err(EnvelopeError::Malformed(
            "params._meta[\"io.modelcontextprotocol/protocolVersion\"] (a string)",
        ));
    };
    let Some(capabilities) = meta.get(CAPABILITIES_KEY).and_then(Value::as_object) else {
        return Err(EnvelopeError::Malformed(
            "params._meta[\"io.modelcontextprotocol/clientCapabilities\"] (an object)",
        ));
    };
    // The caller's text is named in the error (and `data.requested`),
    // cut short.
    let quoted = |text: &str| chars::prefix(text, ECHOED_CHARS).to_owned();
    if version != VERSION_2026 {
        return Err(EnvelopeError::Unsupported(quoted(version)));
    }
    if let Some(level) = meta.get(LOG_LEVEL_KEY)
        && !level
            .as_str()
            .is_some_and(|level| LOG_LEVELS.contains(&level))
    {
        return Err(EnvelopeError::LogLevel(quoted(&level.to_string())));
    }
    let tasks = capabilities
        .get("extensions")
        .and_then(|extensions| extensions.get(TASKS_EXTENSION))
        .is_some_and(Value::is_object);
    Ok(Envelope { tasks })
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::Malformed(what) => write!(f, "a {VERSION_2026} request needs {what}"),
            EnvelopeError::Unsupported(requested) => write!(
                f,
                "unsupported protocol version {}: this server speaks {VERSION_2026}, and {} through initialize",
                repr_str(requested),
                HANDSHAKE_VERSIONS.join(", ")
            ),
            EnvelopeError::LogLevel(level) => write!(
                f,
                "params._meta[\"{LOG_LEVEL_KEY}\"] is {level}; use one of {}",
                LOG_LEVELS.join(", ")
            ),
        }
    }
}

/// The JSON-RPC error for a refused envelope; an unsupported version's
/// says which versions there are (`data`).
pub fn refusal(id: &Value, err: &EnvelopeError) -> Value {
    let code = match err {
        EnvelopeError::Unsupported(_) => UNSUPPORTED_PROTOCOL_VERSION,
        EnvelopeError::Malformed(_) | EnvelopeError::LogLevel(_) => jsonrpc::INVALID_PARAMS,
    };
    let mut reply = jsonrpc::error(id, code, &err.to_string());
    if let EnvelopeError::Unsupported(requested) = err {
        let mut supported = vec![VERSION_2026];
        supported.extend(HANDSHAKE_VERSIONS.iter().rev());
        reply["error"]["data"] = json!({"supported": supported, "requested": requested});
    }
    reply
}

/// The error for a tasks method from a client that did not declare the
/// extension on that request.
pub fn tasks_not_declared(id: &Value, method: &str) -> Value {
    let mut reply = jsonrpc::error(
        id,
        MISSING_CLIENT_CAPABILITY,
        &format!(
            "{method} needs the {TASKS_EXTENSION} extension: declare it in this request's clientCapabilities.extensions"
        ),
    );
    reply["error"]["data"] = json!({"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}});
    reply
}

/// The tail every modern result ends with, as JSON members to splice in
/// after a result's own: `resultType` and the server's identity.
pub fn result_tail(result_type: &str) -> String {
    format!(
        r#""resultType":"{result_type}","_meta":{{"io.modelcontextprotocol/serverInfo":{}}}"#,
        server_info()
    )
}

/// `result` (an object) as a complete modern result.
pub fn complete(result: Value) -> Value {
    typed(result, "complete")
}

/// `result` (an object) as a modern result of `result_type`.
pub fn typed(mut result: Value, result_type: &str) -> Value {
    if let Value::Object(members) = &mut result {
        members.insert("resultType".into(), json!(result_type));
        members.insert(
            "_meta".into(),
            json!({"io.modelcontextprotocol/serverInfo": server_info()}),
        );
    }
    result
}

/// The tools capability of every era: the list never changes.
pub fn tools_capability() -> Value {
    json!({"listChanged": false})
}

/// Who we are, as every era says it.
pub fn server_info() -> Value {
    json!({"name": "agent-dispatch", "version": VERSION})
}

/// The `server/discover` result: what we speak and offer, and how to use
/// it (the same instructions `initialize` gives).
pub fn discover(instructions: &str) -> Value {
    complete(json!({
        "supportedVersions": [VERSION_2026],
        "capabilities": {
            "tools": tools_capability(),
            "extensions": {TASKS_EXTENSION: {}},
        },
        "instructions": instructions,
        "ttlMs": FRESH_FOR_MS,
        "cacheScope": "public",
    }))
}

/// The modern `tools/list` result, serialized once: the tools as every
/// era lists them, plus freshness and the modern tail.
pub fn tools_list_json() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut result = complete(super::tools::list().clone());
        // The revision's tools have no `execution`: the tasks extension
        // leaves it to the server which calls run as tasks.
        if let Some(tools) = result["tools"].as_array_mut() {
            for tool in tools {
                if let Some(tool) = tool.as_object_mut() {
                    tool.remove("execution");
                }
            }
        }
        result["ttlMs"] = json!(FRESH_FOR_MS);
        result["cacheScope"] = json!("public");
        result.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(meta: Value) -> Value {
        json!({"_meta": meta})
    }

    #[test]
    fn a_full_envelope_is_accepted_and_tells_whether_tasks_were_declared() {
        let plain = params(json!({PROTOCOL_VERSION_KEY: VERSION_2026, CAPABILITIES_KEY: {}}));
        assert!(is_modern(&plain));
        assert_eq!(envelope(&plain), Ok(Envelope { tasks: false }));
        let tasks = params(json!({
            PROTOCOL_VERSION_KEY: VERSION_2026,
            CAPABILITIES_KEY: {"extensions": {TASKS_EXTENSION: {}}},
            LOG_LEVEL_KEY: "info",
        }));
        assert_eq!(envelope(&tasks), Ok(Envelope { tasks: true }));
    }

    #[test]
    fn missing_or_mistyped_keys_are_named_and_other_versions_refused() {
        assert!(!is_modern(&json!({"_meta": {"progressToken": 1}})));
        for bad in [
            json!({}),
            params(json!({PROTOCOL_VERSION_KEY: VERSION_2026})),
            params(json!({PROTOCOL_VERSION_KEY: 2026, CAPABILITIES_KEY: {}})),
            params(json!({PROTOCOL_VERSION_KEY: VERSION_2026, CAPABILITIES_KEY: []})),
        ] {
            let err = envelope(&bad).unwrap_err();
            assert!(matches!(err, EnvelopeError::Malformed(_)), "{bad}");
            assert_eq!(refusal(&json!(1), &err)["error"]["code"], -32602);
        }
        let old = params(json!({PROTOCOL_VERSION_KEY: "2025-11-25", CAPABILITIES_KEY: {}}));
        let reply = refusal(&json!(1), &envelope(&old).unwrap_err());
        assert_eq!(reply["error"]["code"], -32022);
        assert_eq!(reply["error"]["data"]["requested"], "2025-11-25");
        assert_eq!(reply["error"]["data"]["supported"][0], VERSION_2026);
        let loud = params(json!({
            PROTOCOL_VERSION_KEY: VERSION_2026,
            CAPABILITIES_KEY: {},
            LOG_LEVEL_KEY: "loud",
        }));
        assert!(matches!(envelope(&loud), Err(EnvelopeError::LogLevel(_))));
    }

    #[test]
    fn results_end_with_their_type_and_the_server_name() {
        let done = complete(json!({"x": 1}));
        assert_eq!(done["resultType"], "complete");
        assert_eq!(
            done["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "agent-dispatch"
        );
        let spliced: Value =
            serde_json::from_str(&format!("{{\"x\":1,{}}}", result_tail("task"))).unwrap();
        assert_eq!(spliced["resultType"], "task");
        assert_eq!(spliced["_meta"], done["_meta"]);
        let found = discover("use list_agents");
        assert_eq!(found["supportedVersions"], json!([VERSION_2026]));
        assert_eq!(
            found["capabilities"]["extensions"][TASKS_EXTENSION],
            json!({})
        );
        assert!(found["ttlMs"].is_u64() && found["cacheScope"] == "public");
    }
}
