#![allow(dead_code)]
// each test crate uses a different subset
// Test support: a failed setup step should fail the test on the spot.
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A raw JSON-RPC client for `agent-dispatch serve`: writes lines to its
//! stdin, reads its stdout on a thread, and hands back responses by id with
//! the notifications that came before them.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::Sandbox;

/// An initialized `serve` in `sandbox` with the `claude` in `claude_dir`
/// (a stand-in) first on PATH.
pub fn serve(sandbox: &Sandbox, claude_dir: &Path) -> Server {
    Server::initialized(sandbox.command_with_claude(claude_dir))
}

pub struct Server {
    pub child: Child,
    stdin: Option<ChildStdin>,
    /// Each stdout line, parsed; a line that is not JSON arrives as `Err`
    /// and fails the test in the test's own thread when it is read.
    lines: Receiver<Result<Value, String>>,
    /// Messages read but not yet claimed.
    pending: Vec<Value>,
}

impl Server {
    /// Starts `serve` with `command`'s environment.
    pub fn start(command: Command) -> Server {
        let mut child = spawn_serve(command);
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let parsed = serde_json::from_str::<Value>(&line)
                    .map_err(|e| format!("stdout is not JSON ({e}): {line}"));
                if tx.send(parsed).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Server {
            child,
            stdin,
            lines,
            pending: Vec::new(),
        }
    }

    /// Starts `serve` and completes the initialize handshake.
    pub fn initialized(command: Command) -> Server {
        let mut server = Server::start(command);
        let reply = server.request(0, "initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}));
        assert!(reply.get("result").is_some(), "{reply}");
        server.send_raw(
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
        );
        server
    }

    pub fn send_raw(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    pub fn send(&mut self, id: u64, method: &str, params: Value) {
        self.send_raw(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
    }

    /// Sends a request and waits for its response.
    pub fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(id, method, params);
        self.response(&json!(id), Duration::from_secs(60)).0
    }

    /// Calls a tool; returns the parsed JSON text and `isError`.
    pub fn call(&mut self, id: u64, tool: &str, arguments: Value) -> (Value, bool) {
        let reply = self.request(
            id,
            "tools/call",
            json!({"name": tool, "arguments": arguments}),
        );
        tool_payload(&reply)
    }

    /// Starts an async job of `agent` (call id `id`), which must be
    /// accepted; returns its job id.
    pub fn start_job(&mut self, id: u64, agent: &str, task: &str) -> String {
        let (started, is_error) =
            self.call(id, "dispatch_async", json!({"agent": agent, "task": task}));
        assert!(!is_error, "{started}");
        started["job_id"].as_str().expect("a job id").to_owned()
    }

    /// The next message from the server, or `None` after `wait`.
    pub fn next(&mut self, wait: Duration) -> Option<Value> {
        if !self.pending.is_empty() {
            return Some(self.pending.remove(0));
        }
        self.lines.recv_timeout(wait).ok().map(protocol_message)
    }

    /// Waits for the response with `id`; returns it and the notifications
    /// that arrived before it. Responses to other ids stay pending.
    pub fn response(&mut self, id: &Value, wait: Duration) -> (Value, Vec<Value>) {
        let is_reply = |m: &Value| m.get("id") == Some(id) && m.get("method").is_none();
        if let Some(at) = self.pending.iter().position(is_reply) {
            return (self.pending.remove(at), Vec::new());
        }
        let deadline = Instant::now() + wait;
        let mut before = Vec::new();
        let mut others = Vec::new();
        let found = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(message) = self.lines.recv_timeout(left) else {
                break None;
            };
            let message = protocol_message(message);
            if message.get("method").is_some() {
                before.push(message);
            } else if is_reply(&message) {
                break Some(message);
            } else {
                others.push(message);
            }
        };
        self.pending.extend(others);
        let message =
            found.unwrap_or_else(|| panic!("no response to {id} within {wait:?}; saw {before:?}"));
        (message, before)
    }

    /// Closes stdin and waits for the process to exit.
    pub fn close(&mut self, wait: Duration) -> Option<std::process::ExitStatus> {
        self.stdin = None;
        let deadline = Instant::now() + wait;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` with `command`'s environment, stdin and stdout piped,
/// stderr discarded.
pub fn spawn_serve(mut command: Command) -> Child {
    command
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve")
}

/// Fails the test on a stdout line that was not a JSON protocol message.
fn protocol_message(line: Result<Value, String>) -> Value {
    line.unwrap_or_else(|problem| panic!("{problem}"))
}

/// The JSON inside a `tools/call` result's text content, and `isError`.
pub fn tool_payload(reply: &Value) -> (Value, bool) {
    let result = reply
        .get("result")
        .unwrap_or_else(|| panic!("not a result: {reply}"));
    let text = result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text: {reply}"));
    let payload =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("text is not JSON ({e}): {text}"));
    (payload, result["isError"].as_bool().expect("isError"))
}
