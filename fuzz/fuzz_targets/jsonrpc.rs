//! The JSON-RPC framing on its own: `read_line` over arbitrary bytes fed in
//! uneven chunks (with `Interrupted` errors between them), then `classify`
//! on every line that is JSON. Invariants: the lines put back together are
//! the input, and every classification has the shape the server relies on.

#![no_main]

use std::io::{self, BufReader, Read};

use agent_dispatch::mcp::jsonrpc::{self, Incoming, Line};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Some((&shape, input)) = data.split_first() else {
        return;
    };
    // The low bits pick the buffer size, the high ones the chunk sizes, so
    // lines straddle buffer refills and short reads in every way.
    let capacity = usize::from(shape & 0x0f) + 1;
    let reader = Chunked {
        input,
        step: usize::from(shape >> 4) + 1,
        interrupt: true,
    };
    let mut reader = BufReader::with_capacity(capacity, reader);
    let mut lines = Vec::new();
    loop {
        match jsonrpc::read_line(&mut reader).expect("only Interrupted is ever returned") {
            Line::Text(line) => lines.push(line),
            Line::TooLong => panic!("a line under MAX_LINE_BYTES was refused"),
            Line::Eof => break,
        }
    }
    check_reassembles(input, &lines);
    for line in &lines {
        if let Ok(value) = serde_json::from_slice::<Value>(line) {
            check_classified(value, true);
        }
    }
});

/// A reader handing out `step` bytes at a time, each chunk preceded by one
/// `Interrupted` error, which `read_line` must retry.
struct Chunked<'a> {
    input: &'a [u8],
    step: usize,
    interrupt: bool,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.interrupt && !self.input.is_empty() {
            self.interrupt = false;
            return Err(io::ErrorKind::Interrupted.into());
        }
        self.interrupt = true;
        let n = self.step.min(buf.len()).min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

/// Lines hold no `\n`; joined with `\n` (plus the final one, if the input
/// ended with it) they are the input again.
fn check_reassembles(input: &[u8], lines: &[Vec<u8>]) {
    assert!(lines.iter().all(|line| !line.contains(&b'\n')));
    let mut joined = lines.join(&b'\n');
    if input.ends_with(b"\n") {
        joined.push(b'\n');
    }
    assert_eq!(joined, input);
}

fn check_classified(value: Value, top_level: bool) {
    match jsonrpc::classify(value) {
        Incoming::Request { id, method, params } => {
            assert!(is_usable_id(&id), "request id {id}");
            assert!(params.is_object() || params.is_array());
            // A request rebuilt from its parts classifies as itself.
            let again = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
            assert_eq!(
                jsonrpc::classify(again),
                Incoming::Request { id, method, params }
            );
        }
        Incoming::Notification { method, params } => {
            assert!(params.is_object() || params.is_array());
            let again = json!({"jsonrpc": "2.0", "method": method, "params": params});
            assert_eq!(
                jsonrpc::classify(again),
                Incoming::Notification { method, params }
            );
        }
        Incoming::Response => {}
        Incoming::Batch(items) => {
            // The server classifies each element of a top-level batch.
            if top_level {
                for item in items {
                    check_classified(item, false);
                }
            }
        }
        Incoming::Invalid { id, code, .. } => {
            assert_eq!(code, jsonrpc::INVALID_REQUEST);
            assert!(id.is_null() || is_usable_id(&id), "error id {id}");
        }
    }
}

/// The ids the server echoes: strings and integers.
fn is_usable_id(id: &Value) -> bool {
    id.is_string() || id.is_i64() || id.is_u64()
}
