//! Why the server stops, decided once. Every way out — stdin EOF or a read
//! error, SIGTERM/SIGINT/SIGHUP, a client that closed its read end or left
//! too much unread — triggers the same latch, and the server's one shutdown
//! path runs when it fires.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// stdin reached end of file (or could not be read any more).
    InputEnded,
    /// A termination signal arrived.
    Signal(i32),
    /// A write to stdout failed: the client closed its end.
    ClientGone,
    /// The client left more than the queue bound of replies unread.
    ClientStalled,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::InputEnded => f.write_str("stdin closed"),
            StopReason::Signal(signal) => write!(f, "received signal {signal}"),
            StopReason::ClientGone => f.write_str("the client closed its end of stdout"),
            StopReason::ClientStalled => f.write_str("the client stopped reading"),
        }
    }
}

/// Cheap to clone; the first trigger wins.
#[derive(Clone, Default)]
pub struct Stop(Arc<(Mutex<Option<StopReason>>, Condvar)>);

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    pub fn trigger(&self, reason: StopReason) {
        let (lock, fired) = &*self.0;
        let mut current = lock.lock().unwrap_or_else(|p| p.into_inner());
        if current.is_none() {
            *current = Some(reason);
            fired.notify_all();
        }
    }

    pub fn reason(&self) -> Option<StopReason> {
        *self.0.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Blocks until the first trigger and returns its reason.
    pub fn wait(&self) -> StopReason {
        let (lock, fired) = &*self.0;
        let mut current = lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(reason) = *current {
                return reason;
            }
            current = fired.wait(current).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins() {
        let stop = Stop::new();
        assert_eq!(stop.reason(), None);
        stop.trigger(StopReason::Signal(15));
        stop.trigger(StopReason::InputEnded);
        assert_eq!(stop.wait(), StopReason::Signal(15));
    }
}
