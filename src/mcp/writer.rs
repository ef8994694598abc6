//! The one way out to the client: each message is one compact JSON line,
//! written and flushed under a lock so lines from different threads never
//! interleave. A failed write means the client is gone.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

#[derive(Clone)]
pub struct Writer {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    broken: Arc<AtomicBool>,
}

impl Writer {
    pub fn new(out: Box<dyn Write + Send>) -> Writer {
        Writer {
            out: Arc::new(Mutex::new(out)),
            broken: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn send(&self, message: &Value) {
        // serde_json escapes control characters, so the line never holds a
        // raw newline.
        self.send_line(message.to_string());
    }

    /// Sends an already serialized message (one line of compact JSON).
    pub fn send_line(&self, mut line: String) {
        line.push('\n');
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let written = out.write_all(line.as_bytes()).and_then(|()| out.flush());
        if let Err(err) = written
            && !self.broken.swap(true, Ordering::SeqCst)
            && err.kind() != io::ErrorKind::BrokenPipe
        {
            crate::log::warn(&format!("could not write to the client: {err}"));
        }
    }

    /// True once a write failed: the client is gone.
    pub fn is_broken(&self) -> bool {
        self.broken.load(Ordering::SeqCst)
    }
}
