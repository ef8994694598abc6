//! Feeds a `stream-json` stdout to the `StreamCollector` line by line as it
//! arrives, and forwards each progress message to the caller's callback.

use std::sync::Arc;

use super::interpret::StreamCollector;
use super::process::{STDOUT_KEEP_BYTES, StdoutSink, append_bounded};

/// Receives progress messages ("Using tool: Bash", assistant text) live.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

pub struct StreamSink {
    pub collector: StreamCollector,
    partial: Vec<u8>,
    progress: Option<Progress>,
    /// A line longer than the bound was cut (and then skipped as
    /// malformed).
    pub cut: bool,
}

impl StreamSink {
    pub fn new(progress: Option<Progress>) -> StreamSink {
        StreamSink {
            collector: StreamCollector::new(),
            partial: Vec::new(),
            progress,
            cut: false,
        }
    }

    fn line(&mut self, line: &[u8]) {
        for message in self.collector.feed_line(line) {
            if let Some(progress) = &self.progress {
                progress(&message);
            }
        }
    }
}

impl StdoutSink for StreamSink {
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
        self.collector.has_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn lines_split_across_chunks_are_joined_and_progress_flows() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink_seen = Arc::clone(&seen);
        let mut sink = StreamSink::new(Some(Arc::new(move |m: &str| {
            sink_seen.lock().unwrap().push(m.to_owned())
        })));
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
