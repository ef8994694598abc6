//! The one way out to the client: messages are queued and one writer thread
//! writes them, each as one compact JSON line, so lines never interleave and
//! the thread reading stdin never blocks on a client that stopped reading
//! (it must keep reading to see EOF and stop our children).
//!
//! The queue is bounded in bytes (`QUEUE_BYTES`); a message always gets in
//! when the queue is empty, however large. Past the bound each kind of
//! sender is treated on its own terms:
//! - tool-call replies wait for room on their worker thread;
//! - progress notifications are dropped (the next one supersedes them);
//! - the reader's own small replies (ping, protocol errors, `tools/list`)
//!   are queued up to twice the bound, and past that the client is taken
//!   as gone: it has left that much unread.
//!
//! A failed write, or a client taken as gone, triggers the server's stop.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::stop::{Stop, StopReason};

/// Bytes of queued, unwritten messages past which senders are held back.
pub const QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// How long the writer keeps looking for the next message before parking.
const STAY_AWAKE: Duration = Duration::from_micros(300);
/// The reader's own replies may fill the queue up to this much.
const READER_QUEUE_BYTES: usize = 2 * QUEUE_BYTES;

#[derive(Default)]
struct Outbox {
    lines: VecDeque<String>,
    bytes: usize,
    /// The writer thread is writing a line that has left the queue.
    writing: bool,
    /// The client is gone: nothing more is written, nobody waits for room.
    gone: bool,
}

impl Outbox {
    fn admits(&self, len: usize, bound: usize) -> bool {
        self.lines.is_empty() || self.bytes + len <= bound
    }

    fn push(&mut self, line: String) {
        self.bytes += line.len();
        self.lines.push_back(line);
    }
}

struct Shared {
    outbox: Mutex<Outbox>,
    /// Signalled when a line is queued, and when the client is gone.
    queued: Condvar,
    /// Signalled when a line was written (room, or an empty queue).
    written: Condvar,
    stop: Stop,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Outbox> {
        // Outbox updates are single statements; a poisoned lock holds a
        // consistent queue.
        self.outbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Nothing more is written; the writer thread and every waiting sender
    /// return.
    fn end(&self, outbox: &mut Outbox) {
        outbox.gone = true;
        outbox.lines.clear();
        outbox.bytes = 0;
        self.queued.notify_all();
        self.written.notify_all();
    }

    fn client_gone(&self, outbox: &mut Outbox, reason: StopReason) {
        self.end(outbox);
        self.stop.trigger(reason);
    }
}

/// Cheap to clone; every clone feeds the same queue.
#[derive(Clone)]
pub struct Writer {
    shared: Arc<Shared>,
}

impl Writer {
    /// Starts the writer thread on `out`. Write failures trigger `stop`.
    pub fn start(out: Box<dyn Write + Send>, stop: Stop) -> io::Result<Writer> {
        let shared = Arc::new(Shared {
            outbox: Mutex::new(Outbox::default()),
            queued: Condvar::new(),
            written: Condvar::new(),
            stop,
        });
        let writing = Arc::clone(&shared);
        thread::Builder::new()
            .name("stdout-writer".into())
            .spawn(move || write_loop(&writing, out))?;
        Ok(Writer { shared })
    }

    /// Queues a reply the reader thread made itself; never blocks.
    pub fn send_now(&self, message: &Value) {
        self.send_line_now(message.to_string());
    }

    /// Queues an already serialized reader reply; never blocks.
    pub fn send_line_now(&self, line: String) {
        let mut outbox = self.shared.lock();
        if outbox.gone {
            return;
        }
        if !outbox.admits(line.len(), READER_QUEUE_BYTES) {
            crate::log::warn(&format!(
                "the client left {} bytes of replies unread; taking it as gone",
                outbox.bytes
            ));
            self.shared
                .client_gone(&mut outbox, StopReason::ClientStalled);
            return;
        }
        outbox.push(line);
        self.shared.queued.notify_one();
    }

    /// Queues a tool-call reply, waiting on this (worker) thread while the
    /// queue is full. Returns without sending once the client is gone.
    pub fn send_reply(&self, line: String) {
        let mut outbox = self.shared.lock();
        while !outbox.gone && !outbox.admits(line.len(), QUEUE_BYTES) {
            outbox = self
                .shared
                .written
                .wait(outbox)
                .unwrap_or_else(|p| p.into_inner());
        }
        if outbox.gone {
            return;
        }
        outbox.push(line);
        self.shared.queued.notify_one();
    }

    /// Queues a notification, or drops it when the queue is full.
    pub fn notify(&self, message: &Value) {
        let line = message.to_string();
        let mut outbox = self.shared.lock();
        if outbox.gone || !outbox.admits(line.len(), QUEUE_BYTES) {
            return;
        }
        outbox.push(line);
        self.shared.queued.notify_one();
    }

    /// Ends the writer thread; whatever is still queued is dropped.
    pub fn close(&self) {
        let mut outbox = self.shared.lock();
        self.shared.end(&mut outbox);
    }

    /// Waits until everything queued was written, the client is gone, or
    /// `until` passes. Returns whether the queue drained.
    pub fn drain(&self, until: Instant) -> bool {
        let mut outbox = self.shared.lock();
        loop {
            if outbox.gone {
                return false;
            }
            if outbox.lines.is_empty() && !outbox.writing {
                return true;
            }
            let now = Instant::now();
            if now >= until {
                return false;
            }
            outbox = self
                .shared
                .written
                .wait_timeout(outbox, until - now)
                .map_or_else(|p| p.into_inner().0, |(guard, _)| guard);
        }
    }
}

fn write_loop(shared: &Shared, mut out: Box<dyn Write + Send>) {
    let mut outbox = shared.lock();
    let mut idle_since: Option<Instant> = None;
    loop {
        if outbox.gone {
            return;
        }
        let Some(mut line) = outbox.lines.pop_front() else {
            // A client usually sends its next request right after reading
            // a reply: stay awake for a moment so that reply does not pay
            // for waking a parked thread (most of a round trip's cost).
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() < STAY_AWAKE {
                drop(outbox);
                thread::yield_now();
                outbox = shared.lock();
            } else {
                outbox = shared
                    .queued
                    .wait(outbox)
                    .unwrap_or_else(|p| p.into_inner());
                idle_since = None;
            }
            continue;
        };
        idle_since = None;
        outbox.bytes -= line.len();
        outbox.writing = true;
        drop(outbox);
        // serde_json escapes control characters, so the line never holds a
        // raw newline of its own.
        line.push('\n');
        let written = out.write_all(line.as_bytes()).and_then(|()| out.flush());
        outbox = shared.lock();
        outbox.writing = false;
        if let Err(err) = written {
            if err.kind() != io::ErrorKind::BrokenPipe {
                crate::log::warn(&format!("could not write to the client: {err}"));
            }
            shared.client_gone(&mut outbox, StopReason::ClientGone);
            return;
        }
        shared.written.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A client that reads nothing until told to, then everything.
    struct Gate {
        open: mpsc::Receiver<()>,
        opened: bool,
        seen: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if !self.opened {
                let _ = self.open.recv();
                self.opened = true;
            }
            self.seen.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn gated() -> (Writer, mpsc::Sender<()>, Arc<Mutex<Vec<u8>>>, Stop) {
        let (open, gate) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Stop::new();
        let out = Gate {
            open: gate,
            opened: false,
            seen: Arc::clone(&seen),
        };
        let writer = Writer::start(Box::new(out), stop.clone()).unwrap();
        (writer, open, seen, stop)
    }

    #[test]
    fn the_reader_never_blocks_on_a_client_that_does_not_read() {
        let (writer, open, seen, stop) = gated();
        for _ in 0..1000 {
            writer.send_line_now("x".repeat(1000));
        }
        assert!(stop.reason().is_none(), "a few MB stay within the bound");
        open.send(()).unwrap();
        assert!(writer.drain(Instant::now() + Duration::from_secs(10)));
        assert_eq!(seen.lock().unwrap().len(), 1000 * 1001);
    }

    #[test]
    fn past_the_reader_bound_the_client_is_taken_as_gone() {
        let (writer, _open, _seen, stop) = gated();
        let chunk = "y".repeat(1024 * 1024);
        for _ in 0..(READER_QUEUE_BYTES / chunk.len() + 2) {
            writer.send_line_now(chunk.clone());
        }
        assert_eq!(stop.reason(), Some(StopReason::ClientStalled));
        // A waiting reply gives up instead of hanging.
        writer.send_reply(chunk);
    }

    #[test]
    fn notifications_are_dropped_when_full_and_replies_wait_for_room() {
        let (writer, open, seen, _stop) = gated();
        let big = "z".repeat(QUEUE_BYTES - 4);
        writer.send_line_now("first".into());
        writer.send_line_now(big);
        writer.notify(&Value::String("dropped".into()));
        let (sent, replied) = mpsc::channel();
        let replying = writer.clone();
        thread::spawn(move || {
            replying.send_reply("\"late reply\"".repeat(10));
            sent.send(()).unwrap();
        });
        assert!(
            replied.recv_timeout(Duration::from_millis(300)).is_err(),
            "the reply waits while the queue is full"
        );
        open.send(()).unwrap();
        replied.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(writer.drain(Instant::now() + Duration::from_secs(10)));
        let text = String::from_utf8(seen.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("dropped"));
        assert!(text.ends_with("\"late reply\"\n"));
    }

    #[test]
    fn a_failed_write_stops_the_server() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let stop = Stop::new();
        let writer = Writer::start(Box::new(Closed), stop.clone()).unwrap();
        writer.send_line_now("hello".into());
        assert_eq!(stop.wait(), StopReason::ClientGone);
    }
}
