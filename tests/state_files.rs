//! The files under our state directories against a hostile neighbour: a
//! FIFO or a symlink named like a job record, a usage journal left with
//! loose modes. Run through the real server; nothing may hang, be read
//! through a link, or be written through one.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
#[path = "support/mcp_client.rs"]
mod mcp_client;
mod support;

use std::ffi::CString;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use fake::FakeClaude;
use mcp_client::serve;
use serde_json::json;
use support::Sandbox;

const PLANTED: &str = "0123456789abcdef0123456789abcdef";

fn mkfifo(path: &Path) {
    let name = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn with_agent() -> Sandbox {
    let sandbox = Sandbox::with_api_agent();
    std::fs::create_dir_all(sandbox.jobs_dir()).unwrap();
    sandbox
}

#[test]
fn a_fifo_named_like_a_job_record_neither_hangs_the_store_nor_costs_a_paid_answer() {
    let sandbox = with_agent();
    mkfifo(&sandbox.jobs_dir().join(format!("{PLANTED}.json")));
    let fake = FakeClaude::new(&[("FAKE_CLAUDE_RESULT", "paid answer")]);
    let mut server = serve(&sandbox, fake.dir.path());
    // Under the store's lock, this reads the planted record.
    let (cancelled, is_error) = server.call(1, "dispatch_cancel", json!({"job_id": PLANTED}));
    assert!(is_error, "{cancelled}");
    let (status, is_error) = server.call(2, "dispatch_status", json!({"job_id": PLANTED}));
    assert!(is_error, "{status}");
    let (listed, is_error) = server.call(3, "dispatch_jobs", json!({}));
    assert!(!is_error, "{listed}");
    assert_eq!(listed, json!([]));
    let (answer, is_error) = server.call(
        4,
        "dispatch",
        json!({"agent": "api", "task": "worth money", "return_ref": true}),
    );
    assert!(!is_error, "{answer}");
    let reference = answer["ref"].as_str().expect("a ref").to_owned();
    let (full, _) = server.call(5, "fetch_result", json!({"ref": reference}));
    assert_eq!(full["result"], "paid answer");
}

#[test]
fn a_symlinked_job_record_is_neither_read_nor_written_through() {
    let sandbox = with_agent();
    let outside = sandbox.dir.path().join("elsewhere.json");
    let record = json!({
        "id": PLANTED, "agent": "api", "task": "planted", "status": "pending",
        "created_at": 1.0,
    });
    let text = serde_json::to_string_pretty(&record).unwrap();
    std::fs::write(&outside, &text).unwrap();
    let link = sandbox.jobs_dir().join(format!("{PLANTED}.json"));
    symlink(&outside, &link).unwrap();
    let fake = FakeClaude::new(&[]);
    let mut server = serve(&sandbox, fake.dir.path());
    let (status, is_error) = server.call(1, "dispatch_status", json!({"job_id": PLANTED}));
    assert!(is_error, "read through the link: {status}");
    let (cancelled, is_error) = server.call(2, "dispatch_cancel", json!({"job_id": PLANTED}));
    assert!(is_error, "changed through the link: {cancelled}");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), text);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_loose_usage_journal_and_its_rotated_file_are_made_private() {
    let sandbox = with_agent();
    let journal = sandbox.usage_log();
    let rotated = journal.with_file_name("usage.jsonl.1");
    for path in [&journal, &rotated] {
        std::fs::write(path, "").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let fake = FakeClaude::new(&[]);
    let mut server = serve(&sandbox, fake.dir.path());
    let (answer, is_error) = server.call(1, "dispatch", json!({"agent": "api", "task": "hi"}));
    assert!(!is_error, "{answer}");
    assert_eq!(mode(&journal), 0o600);
    assert_eq!(mode(&rotated), 0o600);
    assert!(!std::fs::read_to_string(&journal).unwrap().is_empty());
}
