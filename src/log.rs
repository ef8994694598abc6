//! Logs of the long-running parts (the server, job workers): one line each
//! on stderr (`agent-dispatch: LEVEL message`), never on stdout, which
//! carries only protocol messages.

use std::io::Write;

fn line(level: &str, message: &str) {
    let message = message.replace('\n', " ");
    let _ = writeln!(
        std::io::stderr().lock(),
        "agent-dispatch: {level} {message}"
    );
}

pub fn info(message: &str) {
    line("INFO", message);
}

pub fn warn(message: &str) {
    line("WARN", message);
}
