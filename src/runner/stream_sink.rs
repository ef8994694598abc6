//! Splits a line-delimited event stream (a CLI's JSON-lines output) into
//! lines as it arrives, feeds each to the backend's `EventStream`, and
//! forwards each progress message to the caller's callback.

use std::sync::Arc;

use super::backend::OutputReader;
use super::process::{STDOUT_KEEP_BYTES, StdoutSink, append_bounded};
use super::verdict::{Captured, Context, Verdict};

/// Receives progress messages ("Using tool: Bash", assistant text) live.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// A backend's reader of one event stream, a line at a time.
pub trait EventStream: Send + 'static {
    /// Takes one line (without its newline) and returns the progress
    /// messages it carries. A malformed line is skipped, never an error.
    fn feed_line(&mut self, line: &[u8]) -> Vec<String>;
    /// True once the event that carries the final result has arrived.
    fn has_result(&self) -> bool;
    /// The verdict on the run, from the events seen and how it ended.
    fn finish(&mut self, ctx: &Context, ended: Captured) -> Verdict;
}

pub struct StreamSink<E> {
    pub events: E,
    partial: Vec<u8>,
    progress: Option<Progress>,
    /// A line longer than the bound was cut (and then skipped as
    /// malformed).
    pub cut: bool,
}

impl<E: EventStream> StreamSink<E> {
    pub fn new(events: E, progress: Option<Progress>) -> StreamSink<E> {
        StreamSink {
            events,
            partial: Vec::new(),
            progress,
            cut: false,
        }
    }

    fn line(&mut self, line: &[u8]) {
        for message in self.events.feed_line(line) {
            if let Some(progress) = &self.progress {
                progress(&message);
            }
        }
    }
}

impl<E: EventStream> StdoutSink for StreamSink<E> {
    fn chunk(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            if self.partial.is_empty() {
                self.line(&rest[..end]);
            } else {
                self.partial.extend_from_slice(&rest[..end]);
                let line = std::mem::take(&mut self.partial);
                self.line(&line);
            }
            rest = &rest[end + 1..];
        }
        // An endless line is cut rather than allowed to exhaust memory; a
        // cut line fails to parse and is skipped like any malformed event.
        self.cut |= append_bounded(&mut self.partial, rest, STDOUT_KEEP_BYTES);
    }

    fn end(&mut self) {
        let line = std::mem::take(&mut self.partial);
        self.line(&line);
    }

    fn explains_outcome(&self) -> bool {
        self.events.has_result()
    }
}

/// An event stream is a complete output reader: a backend whose CLI
/// prints JSON lines only supplies its `EventStream`.
impl<E: EventStream> OutputReader for StreamSink<E> {
    /// Progress lines may be cut harmlessly; only a cut that cost the
    /// result line counts.
    fn lost_to_cut(&self) -> bool {
        self.cut && !self.events.has_result()
    }

    fn finish(&mut self, ctx: &Context, ended: Captured) -> Verdict {
        self.events.finish(ctx, ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::backends::claude::interpret::StreamCollector;
    use std::sync::Mutex;

    #[test]
    fn lines_split_across_chunks_are_joined_and_progress_flows() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink_seen = Arc::clone(&seen);
        let mut sink = StreamSink::new(
            StreamCollector::new(),
            Some(Arc::new(move |m: &str| {
                sink_seen.lock().unwrap().push(m.to_owned())
            })),
        );
        let event =
            br#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash"}]}}"#;
        sink.chunk(&event[..20]);
        sink.chunk(&event[20..]);
        sink.chunk(b"\n{\"type\":\"result\",\"result\":\"ok\"}");
        assert!(
            !sink.explains_outcome(),
            "the last line is not complete yet"
        );
        sink.end();
        assert!(sink.explains_outcome());
        assert_eq!(*seen.lock().unwrap(), ["Using tool: Bash"]);
    }
}
