//! The MCP stdio server: a reader thread on stdin, tool calls on worker
//! pools, one writer thread for stdout, and one shutdown path. Lifecycle
//! (initialize, ping, version negotiation), `tools/list` and `tools/call`,
//! cancellation of in-flight calls (batched ones included), and a prompt
//! exit — on stdin EOF, a termination signal, or a client that stopped
//! reading — that kills every process group our calls started.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::jsonrpc::{self, Incoming, Line};
use super::modern::{self, Envelope};
use super::pool::{Pool, Refused};
use super::progress::Progress;
use super::state::State;
use super::stop::{Stop, StopReason};
use super::subscriptions;
use super::tasks::{self, Flavor};
use super::tools::{self, Call, args::Args};
use super::writer::Writer;
use crate::VERSION;
use crate::config::Paths;
use crate::log;
use crate::runner::{CancelToken, process};

/// Versions we speak through `initialize`, oldest first; we answer with the
/// client's when it is one of them, else with the newest.
const PROTOCOL_VERSIONS: [&str; 4] = modern::HANDSHAKE_VERSIONS;
/// The one version whose sessions may send JSON-RPC batches.
const BATCH_VERSION: &str = "2025-03-26";
/// The handshake version with tasks (SEP-1686).
const TASKS_VERSION: &str = "2025-11-25";
/// How long one wait of `tasks/result` lasts before it looks again (an own
/// job's end wakes it at once, another server's is re-read 4 times a
/// second meanwhile).
const RESULT_WAIT_ROUND: Duration = Duration::from_secs(60);
/// How long exit waits for cancelled calls to wind down and replies to go
/// out; the whole stop stays under a second.
const EXIT_GRACE: Duration = Duration::from_millis(800);
/// How long the stop may spend recording running jobs as failed.
const RECORD_BUDGET: Duration = Duration::from_millis(300);
/// Tool calls running at once, waits excluded; past it a call is refused.
pub const MAX_CALLS: usize = 512;
/// `dispatch_wait` calls at once, in their own lane so they cannot starve
/// the other tools; past it a wait is refused.
pub const MAX_WAITS: usize = 256;
/// The JSON-RPC error for a call refused because its lane is full (or no
/// thread could run it), and for one that arrives while the server stops.
const SERVER_BUSY: i64 = -32000;

pub const INSTRUCTIONS: &str = include_str!("instructions.md");

struct InFlight {
    cancel: CancelToken,
    cancelled: bool,
}

/// How a request is served: by the session `initialize` opened (or none
/// yet), or statelessly by its own 2026-07-28 envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Era {
    /// `tasks`: the session negotiated 2025-11-25, which has them.
    Legacy {
        tasks: bool,
    },
    Modern(Envelope),
}

impl Era {
    /// The task form a `tools/call` asks for, if any: 2025-11-25 by its
    /// `task` parameter (an object, else the refusal); the extension
    /// whenever the client declared it on the request (the server then
    /// decides, and dispatches run as tasks).
    fn task_flavor(self, params: &Value) -> Result<Option<Flavor>, &'static str> {
        match (self, params.get("task")) {
            (Era::Legacy { tasks: true }, Some(task)) if task.is_object() => {
                Ok(Some(Flavor::Utility))
            }
            (Era::Legacy { tasks: true }, Some(task)) if !task.is_null() => {
                Err("\"task\" must be an object, e.g. {\"ttl\": 60000}")
            }
            (Era::Modern(Envelope { tasks: true }), _) => Ok(Some(Flavor::Extension)),
            _ => Ok(None),
        }
    }
}

struct Server {
    state: State,
    writer: Writer,
    calls_lane: Pool,
    waits_lane: Pool,
    /// Negotiated protocol version, once initialized.
    version: Mutex<Option<String>>,
    /// Tool calls still running, by request id (as JSON text, so 1 and "1"
    /// differ).
    calls: Mutex<HashMap<String, InFlight>>,
    /// Set once the stop has begun: no new call starts after it.
    stopping: AtomicBool,
    /// The tasks this session created, for `tasks/list`.
    created: tasks::Created,
    /// Calls tracked and not yet answered. An id is free again the moment
    /// its reply is about to be sent (the client may reuse it as soon as it
    /// reads the reply), but the stop must also wait for the reply to be
    /// queued: this counts until then.
    unanswered: AtomicUsize,
}

/// Serves MCP on `input`/`output` until `input` ends, the client stops
/// reading, or `stop` is triggered from outside (the CLI routes the
/// termination signals to it, see `signals`). Every way out is the same
/// normal exit: problems are logged on stderr. Its writer thread ends with
/// it; a reader blocked in a read that never ends is left behind.
pub fn serve(
    input: impl Read + Send + 'static,
    output: Box<dyn std::io::Write + Send>,
    paths: Paths,
    stop: Stop,
) {
    let writer = match Writer::start(output, stop.clone()) {
        Ok(writer) => writer,
        Err(err) => {
            log::warn(&format!("could not start the stdout writer: {err}"));
            return;
        }
    };
    let server = Arc::new(Server {
        state: State::new(paths),
        writer,
        calls_lane: Pool::new(MAX_CALLS),
        waits_lane: Pool::new(MAX_WAITS),
        version: Mutex::new(None),
        calls: Mutex::new(HashMap::new()),
        stopping: AtomicBool::new(false),
        created: tasks::Created::default(),
        unanswered: AtomicUsize::new(0),
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
    let reader = Arc::clone(&server);
    let input_ended = stop.clone();
    let started = thread::Builder::new()
        .name("stdin-reader".into())
        .spawn(move || {
            reader.read_all(input);
            input_ended.trigger(StopReason::InputEnded);
        });
    if let Err(err) = started {
        log::warn(&format!("could not start the stdin reader: {err}"));
        stop.trigger(StopReason::InputEnded);
    }
    let reason = stop.wait();
    server.shutdown(reason);
    drop(registration);
}

impl Server {
    fn read_all(self: &Arc<Self>, input: impl Read) {
        let mut reader = BufReader::with_capacity(64 * 1024, input);
        loop {
            match jsonrpc::read_line(&mut reader) {
                Ok(Line::Text(bytes)) => self.handle_line(&bytes),
                Ok(Line::TooLong) => self.writer.send_now(&jsonrpc::error(
                    &Value::Null,
                    jsonrpc::INVALID_REQUEST,
                    &format!(
                        "message too long: a line may hold at most {} bytes; send less text per call",
                        jsonrpc::MAX_LINE_BYTES
                    ),
                )),
                Ok(Line::Eof) => return,
                Err(err) => {
                    log::warn(&format!("stdin failed: {err}"));
                    return;
                }
            }
        }
    }

    fn handle_line(self: &Arc<Self>, bytes: &[u8]) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        if jsonrpc::holds_too_many_values(bytes) {
            self.writer.send_now(&jsonrpc::error(
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
                self.writer.send_now(&jsonrpc::error(
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
                    self.writer.send_line_now(reply);
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
        let allowed = self.negotiated().as_deref() == Some(BATCH_VERSION);
        if !allowed || items.is_empty() {
            let why = if items.is_empty() {
                "an empty batch"
            } else {
                "batches are only accepted in protocol version 2025-03-26"
            };
            self.writer
                .send_now(&jsonrpc::error(&Value::Null, jsonrpc::INVALID_REQUEST, why));
            return;
        }
        // Each tool call of the batch is tracked like a single one (its id
        // cancellable, killed at exit) before the batch starts, so a cancel
        // sent right after the batch finds it.
        let messages: Vec<BatchItem> = items
            .into_iter()
            .map(|item| match jsonrpc::classify(item) {
                Incoming::Request { id, method, params } if method == "tools/call" => {
                    match self.track(&id) {
                        Ok(()) => BatchItem::Call { id, params },
                        Err(refusal) => BatchItem::Answered(refusal),
                    }
                }
                other => BatchItem::Other(other),
            })
            .collect();
        let tracked: Vec<Value> = messages
            .iter()
            .filter_map(|item| match item {
                BatchItem::Call { id, .. } => Some(id.clone()),
                _ => None,
            })
            .collect();
        // A batch is answered as one array, so its tool calls run inline on
        // one worker instead of replying one by one.
        let server = Arc::clone(self);
        let batch_ids = tracked.clone();
        let submitted = self.calls_lane.submit(move || {
            // No task in a batch: batches are 2025-03-26's, tasks 2025-11-25's.
            let replies: Vec<String> = messages
                .into_iter()
                .filter_map(|item| match item {
                    BatchItem::Call { id, params } => server
                        .finish(&id, |server, cancel| {
                            server.call_tool(&id, params, Era::Legacy { tasks: false }, cancel)
                        })
                        .map(|answered| answered.line),
                    BatchItem::Answered(reply) => Some(reply),
                    BatchItem::Other(message) => server.handle(message),
                })
                .collect();
            server.untrack(&batch_ids);
            if !replies.is_empty() {
                server.writer.send_reply(format!("[{}]", replies.join(",")));
            }
            server.answered(batch_ids.len());
        });
        if let Err(refused) = submitted {
            self.untrack(&tracked);
            self.answered(tracked.len());
            self.writer
                .send_now(&busy(&Value::Null, refused, "tool calls"));
        }
    }

    fn request(self: &Arc<Self>, id: Value, method: &str, params: Value) -> Option<String> {
        if method == "initialize" {
            return Some(jsonrpc::response(&id, self.initialize(&params)).to_string());
        }
        let negotiated = self.negotiated();
        // Before any handshake, a request in the 2026-07-28 envelope (or a
        // probe for it) is served on its own; after `initialize` the
        // session keeps the era it chose.
        if negotiated.is_none() && (method == "server/discover" || modern::is_modern(&params)) {
            return self.modern_request(id, method, params);
        }
        let tasks = negotiated.as_deref() == Some(TASKS_VERSION);
        match method {
            "ping" => Some(jsonrpc::response(&id, json!({})).to_string()),
            "server/discover" => Some(
                jsonrpc::error(
                    &id,
                    jsonrpc::METHOD_NOT_FOUND,
                    "server/discover is not part of this session: it was opened with initialize",
                )
                .to_string(),
            ),
            _ if negotiated.is_none() => Some(
                jsonrpc::error(
                    &id,
                    jsonrpc::INVALID_REQUEST,
                    "the session is not initialized: send initialize first (or use the 2026-07-28 _meta envelope)",
                )
                .to_string(),
            ),
            // Spliced as text: cloning and re-serializing ~10 KB of schema
            // on every request would dominate its cost.
            "tools/list" => Some(format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":{}}}"#,
                tools::list_json()
            )),
            "tools/call" => self.start_call(id, params, Era::Legacy { tasks }),
            _ => match tasks::Method::of(method, Flavor::Utility).filter(|_| tasks) {
                Some(task_method) => self.start_task_method(id, task_method, params, Flavor::Utility),
                None => Some(not_found(&id, method)),
            },
        }
    }

    /// A request in the 2026-07-28 envelope: checked, then served with no
    /// session state; what that revision removed (`ping`,
    /// `logging/setLevel`, `tasks/result`, …) is not found.
    fn modern_request(self: &Arc<Self>, id: Value, method: &str, params: Value) -> Option<String> {
        let envelope = match modern::envelope(&params) {
            Ok(envelope) => envelope,
            Err(err) => return Some(modern::refusal(&id, &err).to_string()),
        };
        match method {
            "server/discover" => {
                Some(jsonrpc::response(&id, modern::discover(INSTRUCTIONS)).to_string())
            }
            "tools/list" => Some(format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":{}}}"#,
                modern::tools_list_json()
            )),
            "tools/call" => self.start_call(id, params, Era::Modern(envelope)),
            // A stream: it waits for the tasks it follows, in the waits lane.
            "subscriptions/listen" => self.start(id, true, move |server, id, cancel| {
                let stopping = &server.stopping;
                subscriptions::listen(
                    &server.state,
                    &server.writer,
                    id,
                    &params,
                    envelope,
                    cancel,
                    stopping,
                )
                .to_string()
                .into()
            }),
            _ => match tasks::Method::of(method, Flavor::Extension) {
                Some(_) if !envelope.tasks => {
                    Some(modern::tasks_not_declared(&id, method).to_string())
                }
                Some(task_method) => {
                    self.start_task_method(id, task_method, params, Flavor::Extension)
                }
                None => Some(not_found(&id, method)),
            },
        }
    }

    /// Starts one `tools/call` on its lane; returns a reply only when the
    /// call is refused.
    fn start_call(self: &Arc<Self>, id: Value, params: Value, era: Era) -> Option<String> {
        let waits = params
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(tools::waits);
        self.start(id, waits, move |server, id, cancel| {
            server.call_tool(id, params, era, cancel)
        })
    }

    /// Starts a tasks request like a call (cancellable, answered from a
    /// worker): reading a record can wait on the store's lock, and
    /// `tasks/result` waits for the task's end.
    fn start_task_method(
        self: &Arc<Self>,
        id: Value,
        method: tasks::Method,
        params: Value,
        flavor: Flavor,
    ) -> Option<String> {
        self.start(
            id,
            method == tasks::Method::Result,
            move |server, id, cancel| {
                let state = &server.state;
                let answer = match method {
                    tasks::Method::Get => tasks::get(state, &params, flavor),
                    tasks::Method::Cancel => tasks::cancel(state, &params, flavor),
                    tasks::Method::Update => tasks::update(state, &params),
                    tasks::Method::List => tasks::list(state, &params, &server.created),
                    tasks::Method::Result => server.task_result(&params, cancel),
                };
                match answer {
                    Ok(result) => jsonrpc::response(id, result).to_string().into(),
                    Err(err) => jsonrpc::error(id, err.code(), &err.to_string())
                        .to_string()
                        .into(),
                }
            },
        )
    }

    /// `tasks/result`: waits for the task's end (heartbeats on the
    /// request's progress token keep the client's timeout from firing),
    /// then answers with the call's own result.
    fn task_result(&self, params: &Value, cancel: &CancelToken) -> Result<Value, tasks::TaskError> {
        let id = tasks::task_id(params)?;
        let heartbeat = self.progress(progress_token(params));
        let answer = loop {
            if let Some(result) = tasks::result(&self.state, &id)? {
                break Ok(result);
            }
            // Cancelled by the client, no reply goes out; by the stop, this
            // one does.
            if cancel.is_cancelled() {
                break Err(tasks::TaskError::Stopping(id));
            }
            if let Err(err) = self.state.jobs.wait(&id, RESULT_WAIT_ROUND, cancel) {
                break Err(tasks::TaskError::Storage(err));
            }
        };
        if let Some(heartbeat) = heartbeat {
            heartbeat.close();
        }
        answer
    }

    /// Runs `work` for request `id` on a worker of its lane, tracked so that
    /// a cancellation or the stop finds it; returns a reply only when the
    /// request is refused.
    fn start(
        self: &Arc<Self>,
        id: Value,
        waits: bool,
        work: impl FnOnce(&Server, &Value, &CancelToken) -> Answered + Send + 'static,
    ) -> Option<String> {
        if let Err(refusal) = self.track(&id) {
            return Some(refusal);
        }
        let (lane, what) = if waits {
            (&self.waits_lane, "waiting calls")
        } else {
            (&self.calls_lane, "tool calls")
        };
        let server = Arc::clone(self);
        let call_id = id.clone();
        let submitted = lane.submit(move || {
            let reply = server.finish(&call_id, |server, cancel| work(server, &call_id, cancel));
            server.untrack(std::slice::from_ref(&call_id));
            if let Some(Answered { line, task }) = reply {
                server.writer.send_reply(line);
                if let Some(task) = task {
                    task.start(&server.state);
                }
            }
            server.answered(1);
        });
        match submitted {
            Ok(()) => None,
            Err(refused) => {
                self.untrack(std::slice::from_ref(&id));
                self.answered(1);
                Some(busy(&id, refused, what).to_string())
            }
        }
    }

    /// Lists a call as in flight under its id, unless the id is taken by
    /// one still running or the server is stopping; returns the refusal.
    fn track(&self, id: &Value) -> Result<(), String> {
        // Checked under the table's lock, which the stop also takes: a call
        // is either refused here or cancelled there, never missed.
        let mut calls = self.calls();
        if self.stopping.load(Ordering::SeqCst) {
            return Err(jsonrpc::error(
                id,
                SERVER_BUSY,
                "the server is shutting down; start a new session",
            )
            .to_string());
        }
        let key = id.to_string();
        if calls.contains_key(&key) {
            return Err(jsonrpc::error(
                id,
                jsonrpc::INVALID_REQUEST,
                &format!("request id {key} is already in use by a call in flight; use a new id"),
            )
            .to_string());
        }
        calls.insert(
            key,
            InFlight {
                cancel: CancelToken::new(),
                cancelled: false,
            },
        );
        self.unanswered.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Frees the ids of finished (or refused) calls for reuse.
    fn untrack(&self, ids: &[Value]) {
        let mut calls = self.calls();
        for id in ids {
            calls.remove(&id.to_string());
        }
    }

    /// `count` tracked calls had their replies queued (or need none).
    fn answered(&self, count: usize) {
        self.unanswered.fetch_sub(count, Ordering::SeqCst);
    }

    /// Runs a tracked request; returns its reply, or nothing when it was
    /// cancelled (a cancelled request gets no response at all).
    fn finish(
        &self,
        id: &Value,
        work: impl FnOnce(&Server, &CancelToken) -> Answered,
    ) -> Option<Answered> {
        let (cancel, cancelled) = self
            .calls()
            .get(&id.to_string())
            .map(|call| (call.cancel.clone(), call.cancelled))
            .unwrap_or_default();
        // Cancelled while it waited (in a batch, say): it need not run.
        if cancelled {
            return None;
        }
        let reply = work(self, &cancel);
        let cancelled = self
            .calls()
            .get(&id.to_string())
            .is_some_and(|call| call.cancelled);
        if !cancelled {
            return Some(reply);
        }
        // The client will never learn of a task its cancelled call made.
        if let Some(task) = reply.task {
            task.withdraw(&self.state);
        }
        None
    }

    fn calls(&self) -> MutexGuard<'_, HashMap<String, InFlight>> {
        // Entries are inserted and removed whole; a poisoned table is
        // still consistent.
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn negotiated(&self) -> Option<String> {
        self.version
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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
        let mut capabilities = json!({"tools": modern::tools_capability()});
        if version == TASKS_VERSION {
            capabilities["tasks"] =
                json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}});
        }
        json!({
            "protocolVersion": version,
            "capabilities": capabilities,
            "serverInfo": modern::server_info(),
            "instructions": INSTRUCTIONS,
        })
    }

    fn notification(&self, method: &str, params: &Value) {
        if method == "notifications/cancelled" {
            let Some(id) = params.get("requestId") else {
                return;
            };
            let token = self.calls().get_mut(&id.to_string()).map(|call| {
                call.cancelled = true;
                call.cancel.clone()
            });
            // Cancelled outside the table's lock: its wakers take locks of
            // their own.
            if let Some(token) = token {
                token.cancel();
            }
        }
        // notifications/initialized and anything else need no action.
    }

    /// Runs one `tools/call` (or starts it as a task) and builds its reply
    /// line. A panic in the tool answers this call with an internal error
    /// and nothing else.
    fn call_tool(&self, id: &Value, params: Value, era: Era, cancel: &CancelToken) -> Answered {
        let refuse = |code, message: &str| jsonrpc::error(id, code, message).to_string().into();
        let flavor = match era.task_flavor(&params) {
            Ok(flavor) => flavor,
            Err(why) => return refuse(jsonrpc::INVALID_PARAMS, why),
        };
        let token = progress_token(&params);
        let Value::Object(mut params) = params else {
            return refuse(
                jsonrpc::INVALID_PARAMS,
                "tools/call params must be an object",
            );
        };
        let Some(Value::String(name)) = params.remove("name") else {
            return refuse(jsonrpc::INVALID_PARAMS, "tools/call needs a tool \"name\"");
        };
        let Some(tool) = tools::find(&name) else {
            return refuse(jsonrpc::INVALID_PARAMS, &format!("Unknown tool: {name}"));
        };
        let args = match Args::new(params.remove("arguments"), tool.params) {
            Ok(args) => args,
            Err(err) => return refuse(jsonrpc::INVALID_PARAMS, &format!("{name}: {err}")),
        };
        let task = match (flavor, tool.prepare()) {
            (Some(flavor), Some(prepare)) => Some((flavor, prepare)),
            (Some(Flavor::Utility), None) => {
                return refuse(
                    jsonrpc::METHOD_NOT_FOUND,
                    &format!(
                        "{name} does not run as a task (its taskSupport is forbidden): call it without \"task\""
                    ),
                );
            }
            // The extension leaves it to us: a quick tool answers at once.
            _ => None,
        };
        let progress = self.progress(token.clone().filter(|_| task.is_none()));
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            fault::panic_if_asked(&name);
            match task {
                Some((flavor, prepare)) => {
                    let reporting = tasks::Reporting {
                        created: &self.created,
                        writer: &self.writer,
                        progress_token: token.clone(),
                    };
                    let made = tasks::create(&self.state, prepare, args, flavor, reporting);
                    made.map(|made| match (made, flavor) {
                        (Ok(task), _) => {
                            let handle = tasks::created(&self.state, task.job(), flavor);
                            Reply::Task(handle, Box::new(task))
                        }
                        // A 2025-11-25 client expects a task or an error,
                        // never a plain result.
                        (Err(refused), Flavor::Utility) => Reply::Refused(refused),
                        (Err(refused), Flavor::Extension) => Reply::Tool(refused.envelope()),
                    })
                }
                None => tool
                    .run(Call {
                        state: &self.state,
                        args,
                        cancel,
                        progress: progress.as_ref(),
                    })
                    .map(Reply::Tool),
            }
        }));
        if let Some(progress) = &progress {
            progress.close();
        }
        match outcome {
            Ok(Ok(Reply::Tool(result))) => {
                let tail = match era {
                    Era::Modern(_) => format!(",{}", modern::result_tail("complete")),
                    Era::Legacy { .. } => String::new(),
                };
                format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"result":{{{}{tail}}}}}"#,
                    result.call_result_members()
                )
                .into()
            }
            Ok(Ok(Reply::Task(handle, task))) => Answered {
                line: jsonrpc::response(id, handle).to_string(),
                task: Some(*task),
            },
            Ok(Ok(Reply::Refused(refused))) => {
                let code = match refused {
                    tasks::Refused::Call(_) => jsonrpc::INVALID_PARAMS,
                    tasks::Refused::Job(_) => SERVER_BUSY,
                };
                refuse(code, &format!("{name}: {}", refused.message()))
            }
            Ok(Err(err)) => refuse(jsonrpc::INVALID_PARAMS, &format!("{name}: {err}")),
            Err(panic) => {
                let what = crate::panics::message(panic.as_ref());
                log::warn(&format!("tool {name} panicked: {what}"));
                refuse(
                    jsonrpc::INTERNAL_ERROR,
                    &format!(
                        "{name}: internal error ({what}); the server goes on serving — please report this"
                    ),
                )
            }
        }
    }

    /// Heartbeats and progress for a request that carried a progress token.
    fn progress(&self, token: Option<Value>) -> Option<Progress> {
        token.map(|token| Progress::start(token, self.writer.clone()))
    }

    /// The one way out, whatever the reason: no new calls; every running
    /// call and job cancelled (jobs recorded failed first); every process
    /// group we started killed at once, members included; replies flushed
    /// for what is left of the grace.
    fn shutdown(&self, reason: StopReason) {
        log::info(&format!("{reason}; exiting"));
        let deadline = Instant::now() + EXIT_GRACE;
        let running: Vec<CancelToken> = {
            let calls = self.calls();
            self.stopping.store(true, Ordering::SeqCst);
            calls.values().map(|call| call.cancel.clone()).collect()
        };
        // Records first, so a killed job reads as the server's exit rather
        // than its agent's crash; bounded, so a lock held elsewhere cannot
        // delay the kill by more than a fraction of the grace.
        self.state
            .jobs
            .abandon_all(Instant::now() + RECORD_BUDGET.min(EXIT_GRACE));
        for cancel in &running {
            cancel.cancel();
        }
        process::kill_all_groups();
        crate::runner::ssh::kill_all_remote_groups();
        self.state.jobs.wait_idle(deadline);
        while Instant::now() < deadline && self.unanswered.load(Ordering::SeqCst) > 0 {
            thread::sleep(Duration::from_millis(10));
        }
        // A client that sent a file of requests and closed stdin still
        // reads the answers.
        self.writer.drain(deadline);
        self.writer.close();
        self.state.dispatcher.withdraw_from_ps();
    }
}

/// What a `tools/call` answers: the tool's result, or a task's handle
/// (with its job, to start once the handle is queued).
enum Reply {
    Tool(tools::ToolResult),
    /// Boxed: the recorded job is large beside the other replies.
    Task(Value, Box<tasks::Unstarted>),
    /// A 2025-11-25 task call refused before it had a task.
    Refused(tasks::Refused),
}

/// A request's reply line, and for a new task the job that starts once the
/// line is queued (or is withdrawn when the request was cancelled).
struct Answered {
    line: String,
    task: Option<tasks::Unstarted>,
}

impl From<String> for Answered {
    fn from(line: String) -> Answered {
        Answered { line, task: None }
    }
}

/// A request's `_meta.progressToken`, when it is one (a string or an
/// integer).
fn progress_token(params: &Value) -> Option<Value> {
    params
        .get("_meta")
        .and_then(|meta| meta.get("progressToken"))
        .filter(|token| token.is_string() || token.is_i64() || token.is_u64())
        .cloned()
}

fn not_found(id: &Value, method: &str) -> String {
    jsonrpc::error(
        id,
        jsonrpc::METHOD_NOT_FOUND,
        &format!("method not found: {method}"),
    )
    .to_string()
}

/// A tool call of a batch, tracked before the batch runs.
enum BatchItem {
    Call {
        id: Value,
        params: Value,
    },
    /// Refused at once (a reused id, or the server stopping).
    Answered(String),
    Other(Incoming),
}

fn busy(id: &Value, refused: Refused, what: &str) -> Value {
    let message = match refused {
        Refused::Full { capacity } => format!(
            "server busy: {capacity} {what} are already in flight; retry when one has finished"
        ),
        Refused::NoThread => {
            "server busy: no thread could be started for this call; retry shortly".to_owned()
        }
    };
    jsonrpc::error(id, SERVER_BUSY, &message)
}

/// A fault trigger for the tests of panic handling, compiled into debug
/// builds only: `AGENT_DISPATCH_TEST_PANIC_TOOL=NAME` makes tool NAME panic.
mod fault {
    #[cfg(debug_assertions)]
    pub fn panic_if_asked(tool: &str) {
        if std::env::var_os("AGENT_DISPATCH_TEST_PANIC_TOOL").is_some_and(|name| name == tool) {
            panic!("test fault injected into {tool}");
        }
    }

    #[cfg(not(debug_assertions))]
    pub fn panic_if_asked(_tool: &str) {}
}
