//! `notifications/progress` for one tool call that carried a
//! `progressToken`: each message gets a strictly increasing `progress`
//! number, a heartbeat keeps Claude Code's tool timeout from firing during
//! quiet stretches, and once the call is closed nothing more is sent — a
//! notification after the response would confuse the client.

use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::jsonrpc;
use super::writer::Writer;

/// Claude Code resets its tool timeout on every progress notification.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Longest message shown (the client displays it in one line).
const MAX_MESSAGE_CHARS: usize = 200;

struct State {
    sent: u64,
    closed: bool,
}

struct Inner {
    token: Value,
    writer: Writer,
    state: Mutex<State>,
    wake: Condvar,
}

/// Cheap to clone; all clones report into the same sequence.
#[derive(Clone)]
pub struct Progress(Arc<Inner>);

impl Progress {
    /// Starts reporting for `token`, with a heartbeat while the call runs.
    pub fn start(token: Value, writer: Writer) -> Progress {
        let progress = Progress(Arc::new(Inner {
            token,
            writer,
            state: Mutex::new(State {
                sent: 0,
                closed: false,
            }),
            wake: Condvar::new(),
        }));
        let beat = progress.clone();
        let started = Instant::now();
        let _ = thread::Builder::new()
            .name("heartbeat".into())
            .spawn(move || beat.heartbeat(started));
        progress
    }

    pub fn report(&self, message: &str) {
        self.send(message, None);
    }

    /// Reports `done` of `total` items.
    pub fn report_count(&self, done: u64, total: u64, message: &str) {
        self.send(message, Some((done, total)));
    }

    fn send(&self, message: &str, count: Option<(u64, u64)>) {
        let mut state = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.closed {
            return;
        }
        // Counts may repeat (a heartbeat between two items); progress must
        // still increase, so it is never below the last value sent.
        let value = count.map_or(state.sent + 1, |(done, _)| done.max(state.sent + 1));
        state.sent = value;
        let text = crate::chars::prefix(message, MAX_MESSAGE_CHARS);
        let mut params = json!({"progressToken": self.0.token, "progress": value, "message": text});
        if let Some((_, total)) = count {
            params["total"] = json!(total.max(value));
        }
        // Sent under the state lock so `close` cannot slip in between.
        self.0
            .writer
            .notify(&jsonrpc::notification("notifications/progress", params));
    }

    /// No notification is sent after this returns.
    pub fn close(&self) {
        self.0
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .closed = true;
        self.0.wake.notify_all();
    }

    fn heartbeat(&self, started: Instant) {
        let mut state = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let (next, timeout) = self
                .0
                .wake
                .wait_timeout(state, HEARTBEAT)
                .unwrap_or_else(|p| p.into_inner());
            state = next;
            if state.closed {
                return;
            }
            if timeout.timed_out() {
                drop(state);
                self.report(&format!(
                    "still working ({} s)",
                    started.elapsed().as_secs()
                ));
                state = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
            }
        }
    }
}
