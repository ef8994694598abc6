//! The whole MCP server: the fuzz input is the entire stdin of `serve`.
//! Invariants: `serve` returns at EOF, and every line it wrote is one JSON
//! message of the shape JSON-RPC allows.
//!
//! The server runs against a private config in a temporary directory, and
//! `PATH` is pointed at an empty directory before anything runs, so a
//! dispatch always ends in "Claude CLI not found": no real `claude` (or any
//! other program) is ever started.

#![no_main]

use std::ffi::OsString;
use std::fs;
use std::io::{self, Cursor, Write};
use std::sync::{Arc, Mutex, OnceLock};

use agent_dispatch::config::Paths;
use agent_dispatch::config::paths::CONFIG_ENV;
use agent_dispatch::mcp::server::serve;
use agent_dispatch::mcp::stop::Stop;
use agent_dispatch::runner::environment::{DEPTH_ENV, find_on_path};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

struct Sandbox {
    /// Kept for its `Drop`; everything below lives inside it.
    _root: tempfile::TempDir,
    paths: Paths,
    config: String,
}

static SANDBOX: OnceLock<Sandbox> = OnceLock::new();

fuzz_target!(
    init: {
        let root = tempfile::tempdir().expect("temporary directory");
        let empty_bin = root.path().join("empty-bin");
        fs::create_dir(&empty_bin).expect("empty PATH directory");
        // SAFETY: this runs once, before the target or the library starts
        // any thread, so nothing reads the environment concurrently.
        unsafe {
            std::env::set_var("PATH", &empty_bin);
            std::env::remove_var(DEPTH_ENV);
        }
        assert_eq!(find_on_path("claude"), None, "a claude is reachable");
        let project = root.path().join("project");
        fs::create_dir(&project).expect("project directory");
        fs::write(project.join("README.md"), "# Demo\nA small demo project.\n")
            .expect("project readme");
        let config = format!(
            "agents:\n  demo:\n    directory: {}\n    description: A demo project\n    timeout: 30\n\
             groups:\n  team:\n    description: Demo group\n    members:\n    - agent: demo\n      use_for: everything\n\
             settings:\n  usage_log: true\n",
            project.display()
        );
        let config_file = OsString::from(root.path().join("agents.yaml"));
        let paths = Paths::resolve(|name| (name == CONFIG_ENV).then(|| config_file.clone()), None);
        let _ = SANDBOX.set(Sandbox { _root: root, paths, config });
    },
    |data: &[u8]| {
        let sandbox = SANDBOX.get().expect("init ran");
        reset(sandbox);
        let output = Output::default();
        serve(
            Cursor::new(data.to_vec()),
            Box::new(output.clone()),
            sandbox.paths.clone(),
            Stop::new(),
        );
        // Calls still running after `serve` returned may append later; each
        // append is a whole line, so the snapshot holds only whole lines.
        let written = output.0.lock().expect("output lock").clone();
        check_output(&written);
    }
);

/// Puts back what the previous input may have changed (`add_agent`,
/// `dispatch_async`, the usage journal), so every run starts alike.
fn reset(sandbox: &Sandbox) {
    let paths = &sandbox.paths;
    fs::write(&paths.config, &sandbox.config).expect("write agents.yaml");
    let _ = fs::remove_dir_all(&paths.jobs_dir);
    let _ = fs::remove_file(&paths.usage_log);
}

/// The server's stdout: a buffer shared with this target.
#[derive(Clone, Default)]
struct Output(Arc<Mutex<Vec<u8>>>);

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("output lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn check_output(written: &[u8]) {
    if written.is_empty() {
        return;
    }
    assert!(written.ends_with(b"\n"), "output ends mid-line");
    for line in written[..written.len() - 1].split(|b| *b == b'\n') {
        let value: Value = serde_json::from_slice(line)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", String::from_utf8_lossy(line)));
        match &value {
            // The reply to a batch: one response per request in it.
            Value::Array(replies) => {
                assert!(!replies.is_empty(), "an empty batch reply");
                replies.iter().for_each(|reply| check_message(reply, false));
            }
            message => check_message(message, true),
        }
    }
}

/// A response carries a string, integer or null id and exactly one of
/// `result` and `error`; a notification (progress) carries no id.
fn check_message(message: &Value, may_be_notification: bool) {
    let message = message.as_object().expect("a message is an object");
    assert_eq!(message.get("jsonrpc"), Some(&json!("2.0")));
    if may_be_notification && message.contains_key("method") {
        assert!(!message.contains_key("id"), "a notification with an id");
        return;
    }
    let id = message.get("id").expect("a response has an id");
    assert!(
        id.is_null() || id.is_string() || id.is_i64() || id.is_u64(),
        "response id {id}"
    );
    assert!(
        message.contains_key("result") != message.contains_key("error"),
        "a response needs exactly one of result and error"
    );
}
