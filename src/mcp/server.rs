//! The MCP stdio server: a reader loop on stdin, tool calls on a worker
//! pool, one writer for stdout. Lifecycle (initialize, ping, version
//! negotiation), `tools/list` and `tools/call`, cancellation of in-flight
//! calls, and a prompt exit on stdin EOF that kills every process group our
//! calls started.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::jsonrpc::{self, Incoming, Line};
use super::pool::Pool;
use super::progress::Progress;
use super::state::State;
use super::tools::{self, Call, args::Args};
use super::writer::Writer;
use crate::cli::VERSION;
use crate::config::Paths;
use crate::log;
use crate::runner::CancelToken;

/// Versions we speak, oldest first; we answer with the client's when it is
/// one of them, else with the newest.
const PROTOCOL_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// The one version whose sessions may send JSON-RPC batches.
const BATCH_VERSION: &str = "2025-03-26";
/// How long exit waits for cancelled calls to wind down.
const EXIT_GRACE: Duration = Duration::from_millis(800);

pub const INSTRUCTIONS: &str = include_str!("instructions.md");

struct InFlight {
    cancel: CancelToken,
    cancelled: bool,
}

struct Server {
    state: State,
    writer: Writer,
    pool: Pool,
    /// Negotiated protocol version, once initialized.
    version: Mutex<Option<String>>,
    /// Tool calls still running, by request id (as JSON text, so 1 and "1"
    /// differ).
    calls: Mutex<HashMap<String, InFlight>>,
}

/// Serves MCP on `input`/`output` until `input` ends (or the client stops
/// reading). Every way out is a normal exit: problems are logged on stderr.
pub fn serve(input: impl Read, output: Box<dyn std::io::Write + Send>, paths: Paths) {
    let server = Arc::new(Server {
        state: State::new(paths),
        writer: Writer::new(output),
        pool: Pool::new(),
        version: Mutex::new(None),
        calls: Mutex::new(HashMap::new()),
    });
    log::info(&format!("serving MCP on stdio (version {VERSION})"));
    // Off the start-up path: it reads every job record, and Claude Code
    // starts each registered server for every `claude -p`, often only to
    // answer `initialize`.
    let maintenance = Arc::clone(&server);
    let _ = thread::Builder::new()
        .name("job-maintenance".into())
        .spawn(move || maintenance.state.maintain_jobs());
    // Held until exit: its lock is how `doctor` sees this server alive.
    let registration =
        crate::registry::register(&server.state.paths.servers_dir, &server.state.paths.config);
    if registration.is_none() {
        log::warn("could not register in the server registry; doctor will not list this server");
    }
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    loop {
        match jsonrpc::read_line(&mut reader) {
            Ok(Line::Text(bytes)) => server.handle_line(&bytes),
            Ok(Line::TooLong) => server.writer.send(&jsonrpc::error(
                &Value::Null,
                jsonrpc::INVALID_REQUEST,
                &format!(
                    "message too long: a line may hold at most {} bytes; send less text per call",
                    jsonrpc::MAX_LINE_BYTES
                ),
            )),
            Ok(Line::Eof) => break,
            Err(err) => {
                log::warn(&format!("stdin failed: {err}"));
                break;
            }
        }
        if server.writer.is_broken() {
            break;
        }
    }
    server.shutdown();
    drop(registration);
}

impl Server {
    fn handle_line(self: &Arc<Self>, bytes: &[u8]) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        if jsonrpc::holds_too_many_values(bytes) {
            self.writer.send(&jsonrpc::error(
                &Value::Null,
                jsonrpc::INVALID_REQUEST,
                &format!(
                    "message too large: a line may hold at most {} JSON values (an object counts as {}); split the call",
                    jsonrpc::MAX_LINE_VALUES,
                    jsonrpc::OBJECT_WEIGHT
                ),
            ));
            return;
        }
        let value: Value = match serde_json::from_slice(bytes) {
            Ok(value) => value,
            Err(err) => {
                self.writer.send(&jsonrpc::error(
                    &Value::Null,
                    jsonrpc::PARSE_ERROR,
                    &format!("parse error: {err}"),
                ));
                return;
            }
        };
        match jsonrpc::classify(value) {
            Incoming::Batch(items) => self.handle_batch(items),
            message => {
                if let Some(reply) = self.handle(message) {
                    self.writer.send_line(reply);
                }
            }
        }
    }

    /// Handles one message; returns the reply to send now, if any. Tool
    /// calls reply later, from their worker.
    fn handle(self: &Arc<Self>, message: Incoming) -> Option<String> {
        match message {
            Incoming::Request { id, method, params } => self.request(id, &method, params),
            Incoming::Notification { method, params } => {
                self.notification(&method, &params);
                None
            }
            Incoming::Response => None,
            Incoming::Invalid { id, code, message } => {
                Some(jsonrpc::error(&id, code, &message).to_string())
            }
            Incoming::Batch(_) => Some(
                jsonrpc::error(
                    &Value::Null,
                    jsonrpc::INVALID_REQUEST,
                    "batches cannot be nested",
                )
                .to_string(),
            ),
        }
    }

    fn handle_batch(self: &Arc<Self>, items: Vec<Value>) {
        let allowed = self
            .version
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_deref()
            == Some(BATCH_VERSION);
        if !allowed || items.is_empty() {
            let why = if items.is_empty() {
                "an empty batch"
            } else {
                "batches are only accepted in protocol version 2025-03-26"
            };
            self.writer
                .send(&jsonrpc::error(&Value::Null, jsonrpc::INVALID_REQUEST, why));
            return;
        }
        // A batch is answered as one array, so its tool calls run inline on
        // one worker instead of replying one by one.
        let server = Arc::clone(self);
        self.pool.submit(move || {
            let replies: Vec<String> = items
                .into_iter()
                .filter_map(|item| match jsonrpc::classify(item) {
                    Incoming::Request { id, method, params } if method == "tools/call" => {
                        Some(server.call_tool(&id, params))
                    }
                    other => server.handle(other),
                })
                .collect();
            if !replies.is_empty() {
                server.writer.send_line(format!("[{}]", replies.join(",")));
            }
        });
    }

    fn request(self: &Arc<Self>, id: Value, method: &str, params: Value) -> Option<String> {
        let initialized = self
            .version
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        match method {
            "initialize" => Some(jsonrpc::response(&id, self.initialize(&params)).to_string()),
            "ping" => Some(jsonrpc::response(&id, json!({})).to_string()),
            _ if !initialized => Some(
                jsonrpc::error(
                    &id,
                    jsonrpc::INVALID_REQUEST,
                    "the session is not initialized: send initialize first",
                )
                .to_string(),
            ),
            // Spliced as text: cloning and re-serializing ~10 KB of schema
            // on every request would dominate its cost.
            "tools/list" => Some(format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":{}}}"#,
                tools::list_json()
            )),
            "tools/call" => {
                let key = id.to_string();
                let cancel = CancelToken::new();
                self.calls.lock().unwrap_or_else(|p| p.into_inner()).insert(
                    key.clone(),
                    InFlight {
                        cancel,
                        cancelled: false,
                    },
                );
                let server = Arc::clone(self);
                self.pool.submit(move || {
                    let reply = server.call_tool(&id, params);
                    let call = server
                        .calls
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&key);
                    // A cancelled request gets no response at all.
                    if !call.is_some_and(|c| c.cancelled) {
                        server.writer.send_line(reply);
                    }
                });
                None
            }
            _ => Some(
                jsonrpc::error(
                    &id,
                    jsonrpc::METHOD_NOT_FOUND,
                    &format!("method not found: {method}"),
                )
                .to_string(),
            ),
        }
    }

    fn initialize(&self, params: &Value) -> Value {
        let asked = params
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let version = if PROTOCOL_VERSIONS.contains(&asked) {
            asked
        } else {
            PROTOCOL_VERSIONS[PROTOCOL_VERSIONS.len() - 1]
        };
        *self.version.lock().unwrap_or_else(|p| p.into_inner()) = Some(version.to_owned());
        json!({
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": false}},
            "serverInfo": {"name": "agent-dispatch", "version": VERSION},
            "instructions": INSTRUCTIONS,
        })
    }

    fn notification(&self, method: &str, params: &Value) {
        if method == "notifications/cancelled" {
            let Some(id) = params.get("requestId") else {
                return;
            };
            if let Some(call) = self
                .calls
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_mut(&id.to_string())
            {
                call.cancelled = true;
                call.cancel.cancel();
            }
        }
        // notifications/initialized and anything else need no action.
    }

    /// Runs one `tools/call` and builds its reply line.
    fn call_tool(&self, id: &Value, params: Value) -> String {
        let Value::Object(mut params) = params else {
            return jsonrpc::error(
                id,
                jsonrpc::INVALID_PARAMS,
                "tools/call params must be an object",
            )
            .to_string();
        };
        let Some(Value::String(name)) = params.remove("name") else {
            return jsonrpc::error(
                id,
                jsonrpc::INVALID_PARAMS,
                "tools/call needs a tool \"name\"",
            )
            .to_string();
        };
        let Some(tool) = tools::find(&name) else {
            return jsonrpc::error(
                id,
                jsonrpc::INVALID_PARAMS,
                &format!("Unknown tool: {name}"),
            )
            .to_string();
        };
        let args = match Args::new(params.remove("arguments")) {
            Ok(args) => args,
            Err(err) => {
                return jsonrpc::error(id, jsonrpc::INVALID_PARAMS, &format!("{name}: {err}"))
                    .to_string();
            }
        };
        let cancel = self
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id.to_string())
            .map(|c| c.cancel.clone())
            .unwrap_or_default();
        let progress = params
            .get("_meta")
            .and_then(|meta| meta.get("progressToken"))
            .filter(|token| token.is_string() || token.is_i64() || token.is_u64())
            .map(|token| Progress::start(token.clone(), self.writer.clone()));
        let outcome = (tool.run)(Call {
            state: &self.state,
            args,
            cancel: &cancel,
            progress: progress.as_ref(),
        });
        if let Some(progress) = &progress {
            progress.close();
        }
        match outcome {
            // Spliced as text: the payload (often tens of KB) is serialized
            // once and escaped once, never copied into a second tree.
            Ok(result) => {
                let text = Value::String(result.value.to_string());
                let reply = format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":{text}}}],"isError":{}}}}}"#,
                    result.is_error
                );
                reply
            }
            Err(err) => {
                jsonrpc::error(id, jsonrpc::INVALID_PARAMS, &format!("{name}: {err}")).to_string()
            }
        }
    }

    /// Cancels every running call (their supervisors kill the process
    /// groups) and waits briefly for them to finish. Their replies are still
    /// written: a client that sent a file of requests and closed stdin still
    /// reads the answers.
    fn shutdown(&self) {
        self.state.jobs.shutdown(EXIT_GRACE);
        let running: Vec<CancelToken> = self
            .calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|call| call.cancel.clone())
            .collect();
        for cancel in &running {
            cancel.cancel();
        }
        let deadline = Instant::now() + EXIT_GRACE;
        while Instant::now() < deadline
            && !self
                .calls
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
        {
            thread::sleep(Duration::from_millis(10));
        }
        log::info("stdin closed; exiting");
    }
}
