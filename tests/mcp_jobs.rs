//! Async jobs and result references through a real `serve`: the job
//! records on disk, waiting, cancelling running jobs, recovery after a
//! server was killed, and two servers sharing one jobs directory.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
#[path = "support/mcp_client.rs"]
mod mcp_client;
mod support;

use std::path::PathBuf;
use std::time::Duration;

use agent_dispatch::jobs::now;
use fake::{FakeClaude, group_gone, live_in_group};
use mcp_client::{Server, serve};
use serde_json::{Value, json};
use support::{Sandbox, age_job_record, job_record, wait_until};

/// Anything still unfinished after this is hung.
const HANG: Duration = Duration::from_secs(15);

fn setup(env: &[(&str, &str)]) -> (Sandbox, FakeClaude) {
    let sandbox = Sandbox::new();
    sandbox.add_agent("api", "API");
    (sandbox, FakeClaude::new(env))
}

fn read_job(sandbox: &Sandbox, id: &str) -> Value {
    job_record(&sandbox.jobs_dir(), id)
}

fn job_id(started: &Value) -> String {
    started["job_id"].as_str().unwrap().to_owned()
}

/// Starts an async job whose stand-in hangs and returns its id once the
/// job runs.
fn start_hanging_job(server: &mut Server, sandbox: &Sandbox, fake: &FakeClaude) -> String {
    let (started, _) = server.call(
        1,
        "dispatch_async",
        json!({"agent": "api", "task": "forever"}),
    );
    let id = job_id(&started);
    wait_until("the job to run", HANG, || {
        read_job(sandbox, &id)["status"] == "running" && !fake.invocations().is_empty()
    });
    id
}

/// Dispatches `task` with `return_ref` and returns the ref (a job id).
fn ref_of(server: &mut Server, id: u64, task: &str) -> String {
    let (payload, _) = server.call(
        id,
        "dispatch",
        json!({"agent": "api", "task": task, "return_ref": true}),
    );
    payload["ref"].as_str().unwrap().to_owned()
}

/// Rewrites job `id`'s `completed_at` in its file; returns the file.
fn complete_at(sandbox: &Sandbox, id: &str, when: f64) -> PathBuf {
    let path = sandbox.jobs_dir().join(format!("{id}.json"));
    let mut record = read_job(sandbox, id);
    record["completed_at"] = json!(when);
    std::fs::write(&path, serde_json::to_string_pretty(&record).unwrap()).unwrap();
    path
}

#[test]
fn an_async_job_runs_in_the_background_and_its_result_can_be_fetched() {
    let (sandbox, fake) = setup(&[("FAKE_CLAUDE_MODE", "sleep"), ("FAKE_CLAUDE_SLEEP", "0.5")]);
    let mut server = serve(&sandbox, fake.dir.path());
    let (started, is_error) = server.call(
        1,
        "dispatch_async",
        json!({"agent": "api", "task": "slow work", "caller": "web"}),
    );
    assert!(!is_error, "{started}");
    assert_eq!(started["status"], "pending");
    assert_eq!(started["agent"], "api");
    let id = job_id(&started);
    assert_eq!(id.len(), 32);
    let (waited, _) = server.call(
        2,
        "dispatch_wait",
        json!({"job_id": id, "timeout_seconds": 60}),
    );
    assert_eq!(waited["status"], "done", "{waited}");
    assert_eq!(waited["result"]["result"], "fake answer");
    assert_eq!(waited["caller"], "web");
    assert!(
        waited["progress"].as_array().is_some_and(|p| !p.is_empty()),
        "{waited}"
    );
    let (status, _) = server.call(3, "dispatch_status", json!({"job_id": id}));
    assert_eq!(status["status"], "done");
    let (fetched, _) = server.call(4, "fetch_result", json!({"ref": id, "max_chars": 4}));
    assert_eq!(fetched["result"], "fake");
    assert_eq!(fetched["truncated"], true);
    assert_eq!(fetched["full_size"], 11);
    let (listed, _) = server.call(
        5,
        "dispatch_jobs",
        json!({"status": "done", "agent": "api"}),
    );
    assert_eq!(listed[0]["id"], id.as_str());
    let on_disk = read_job(&sandbox, &id);
    assert_eq!(on_disk["id"], id.as_str());
    let mode = std::fs::metadata(sandbox.jobs_dir().join(format!("{id}.json"))).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
}

#[test]
fn dispatch_wait_times_out_without_stopping_the_job() {
    let (sandbox, fake) = setup(&[("FAKE_CLAUDE_MODE", "sleep"), ("FAKE_CLAUDE_SLEEP", "3")]);
    let mut server = serve(&sandbox, fake.dir.path());
    let (started, _) = server.call(1, "dispatch_async", json!({"agent": "api", "task": "x"}));
    let id = job_id(&started);
    let (waited, _) = server.call(
        2,
        "dispatch_wait",
        json!({"job_id": id, "timeout_seconds": 1}),
    );
    assert_eq!(waited["timed_out_waiting"], true, "{waited}");
    let (done, _) = server.call(
        3,
        "dispatch_wait",
        json!({"job_id": id, "timeout_seconds": 30}),
    );
    assert_eq!(done["status"], "done");
}

#[test]
fn hostile_ids_are_refused_without_touching_the_file_system() {
    let (sandbox, fake) = setup(&[]);
    let mut server = serve(&sandbox, fake.dir.path());
    let good = "0123456789abcdef0123456789abcdef";
    for id in [
        "../../x",
        "/etc/passwd",
        &good[..31],
        &format!("{good}0"),
        &good.to_uppercase(),
        &format!("{good}\n"),
        "",
    ] {
        for (n, (tool, key)) in [
            ("dispatch_status", "job_id"),
            ("dispatch_wait", "job_id"),
            ("dispatch_cancel", "job_id"),
            ("fetch_result", "ref"),
        ]
        .into_iter()
        .enumerate()
        {
            let (reply, is_error) = server.call(10 + n as u64, tool, json!({key: id}));
            assert!(is_error, "{tool} {id:?}");
            assert!(
                reply["error"]
                    .as_str()
                    .unwrap()
                    .starts_with("Invalid ref/job_id format"),
                "{tool} {id:?}: {reply}"
            );
        }
    }
    // Start-up recovery takes `.jobs.lock`; nothing else may appear.
    let entries: Vec<String> = std::fs::read_dir(sandbox.jobs_dir())
        .map(|dir| {
            dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        entries.iter().all(|name| name == ".jobs.lock"),
        "{entries:?}"
    );
    assert!(!sandbox.dir.path().join("x").exists());
}

#[test]
fn cancelling_a_running_job_kills_its_process_group_and_it_stays_cancelled() {
    let (sandbox, fake) = setup(&[("FAKE_CLAUDE_MODE", "hang")]);
    let mut server = serve(&sandbox, fake.dir.path());
    let id = start_hanging_job(&mut server, &sandbox, &fake);
    let (cancelled, _) = server.call(2, "dispatch_cancel", json!({"job_id": id}));
    assert_eq!(cancelled["outcome"], "cancelled_running", "{cancelled}");
    let pgid = fake.invocations()[0].pgid;
    wait_until("the group to die", HANG, || live_in_group(pgid).is_empty());
    std::thread::sleep(Duration::from_millis(300));
    let record = read_job(&sandbox, &id);
    assert_eq!(record["status"], "cancelled", "{record}");
    assert!(
        record.get("result").is_none(),
        "a cancelled job has no result: {record}"
    );
    let (again, _) = server.call(3, "dispatch_cancel", json!({"job_id": id}));
    assert_eq!(again["outcome"], "already_terminal");
}

#[test]
fn a_job_running_in_another_server_is_reported_not_killed() {
    let (sandbox, fake) = setup(&[("FAKE_CLAUDE_MODE", "hang")]);
    let mut owner = serve(&sandbox, fake.dir.path());
    let mut other = serve(&sandbox, fake.dir.path());
    let id = start_hanging_job(&mut owner, &sandbox, &fake);
    let (reply, _) = other.call(2, "dispatch_cancel", json!({"job_id": id}));
    assert_eq!(reply["outcome"], "running", "{reply}");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("not started by this server"),
        "{reply}"
    );
    owner.call(3, "dispatch_cancel", json!({"job_id": id}));
}

#[test]
fn a_server_exit_records_its_running_jobs_as_failed_and_kills_them() {
    let (sandbox, fake) = setup(&[("FAKE_CLAUDE_MODE", "hang")]);
    let mut server = serve(&sandbox, fake.dir.path());
    let id = start_hanging_job(&mut server, &sandbox, &fake);
    server.close(Duration::from_secs(5)).expect("exit");
    let record = read_job(&sandbox, &id);
    assert_eq!(record["status"], "failed", "{record}");
    assert_eq!(record["error"], "server exited before the job finished");
    assert!(group_gone(fake.invocations()[0].pgid));
}

#[test]
fn a_sigkilled_server_leaves_a_readable_record_that_the_next_start_recovers() {
    let (sandbox, fake) = setup(&[("FAKE_CLAUDE_MODE", "hang")]);
    let mut server = serve(&sandbox, fake.dir.path());
    let id = start_hanging_job(&mut server, &sandbox, &fake);
    // SAFETY: plain kill(2) on our own child.
    unsafe {
        libc::kill(server.child.id() as i32, libc::SIGKILL);
    }
    server.child.wait().unwrap();
    let record = read_job(&sandbox, &id);
    assert_eq!(record["status"], "running", "the record survives, readable");
    // The kernel ends the stand-in with the server (parent-death signal).
    let pgid = fake.invocations()[0].pgid;
    wait_until("the dead server's stand-in to be killed", HANG, || {
        group_gone(pgid)
    });
    age_job_record(&sandbox.jobs_dir(), &id);
    let mut next = serve(&sandbox, fake.dir.path());
    // Recovery runs in the background after start-up.
    wait_until("the abandoned job to be recovered", HANG, || {
        read_job(&sandbox, &id)["status"] == "failed"
    });
    let (status, _) = next.call(1, "dispatch_status", json!({"job_id": id}));
    assert_eq!(status["status"], "failed", "{status}");
    assert!(
        status["error"]
            .as_str()
            .unwrap()
            .starts_with("Abandoned in 'running'"),
        "{status}"
    );
}

#[test]
fn two_servers_sharing_one_jobs_dir_keep_every_record_whole() {
    let (sandbox, fake) = setup(&[]);
    let mut first = serve(&sandbox, fake.dir.path());
    let mut second = serve(&sandbox, fake.dir.path());
    let mut ids = Vec::new();
    for n in 0..10u64 {
        for (server, offset) in [(&mut first, 0u64), (&mut second, 100)] {
            let (started, _) = server.call(
                n + offset + 1,
                "dispatch_async",
                json!({"agent": "api", "task": format!("job {n}")}),
            );
            ids.push(job_id(&started));
        }
    }
    for (n, id) in ids.iter().enumerate() {
        let (done, _) = first.call(
            1000 + n as u64,
            "dispatch_wait",
            json!({"job_id": id, "timeout_seconds": 60}),
        );
        assert_eq!(done["status"], "done", "{done}");
    }
    let files = std::fs::read_dir(sandbox.jobs_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert_eq!(files, 20);
    let (listed, _) = second.call(9999, "dispatch_jobs", json!({"limit": 100}));
    assert_eq!(listed.as_array().unwrap().len(), 20);
}

#[test]
fn return_ref_stores_the_result_and_fetch_result_returns_it_in_full() {
    let long = "данные ".repeat(300);
    let (sandbox, fake) = setup(&[("FAKE_CLAUDE_RESULT", &long)]);
    let mut server = serve(&sandbox, fake.dir.path());
    let (payload, is_error) = server.call(
        1,
        "dispatch",
        json!({"agent": "api", "task": "big", "return_ref": true, "summary_chars": 10}),
    );
    assert!(!is_error, "{payload}");
    assert_eq!(payload["summary"], "данные дан");
    assert_eq!(payload["size"], long.chars().count());
    assert_eq!(payload["summary_chars"], 10);
    assert!(payload.get("result").is_none());
    let reference = payload["ref"].as_str().unwrap().to_owned();
    let (full, _) = server.call(2, "fetch_result", json!({"ref": reference}));
    assert_eq!(full["result"], long.as_str());
    // A cache hit with return_ref gets a ref of its own.
    let (hit, _) = server.call(
        3,
        "dispatch",
        json!({"agent": "api", "task": "big", "return_ref": true}),
    );
    assert_eq!(hit["cached"], true);
    assert_ne!(hit["ref"], reference.as_str());
    assert_eq!(fake.invocations().len(), 1);
    // Parallel items can ask for refs too.
    // Python truthiness, as the original: the string "false" asks for a ref.
    let items = json!([
        {"agent": "api", "task": "p1", "return_ref": true, "summary_chars": 3},
        {"agent": "api", "task": "p2"},
        {"agent": "api", "task": "p3", "return_ref": "false"},
    ])
    .to_string();
    let (results, _) = server.call(4, "dispatch_parallel", json!({"dispatches": items}));
    assert_eq!(results[0]["summary"], "дан");
    assert_eq!(results[1]["result"], long.as_str());
    assert!(results[2]["ref"].is_string(), "{}", results[2]);
    let (listed, _) = server.call(5, "dispatch_jobs", json!({}));
    assert_eq!(listed.as_array().unwrap().len(), 4);
}

#[test]
fn gc_previews_and_deletes_only_old_finished_jobs() {
    let (sandbox, fake) = setup(&[]);
    let mut server = serve(&sandbox, fake.dir.path());
    let old_id = ref_of(&mut server, 1, "old");
    let new_id = ref_of(&mut server, 2, "new");
    let path = complete_at(&sandbox, &old_id, 1_000_000.0);
    let (preview, _) = server.call(
        3,
        "dispatch_gc",
        json!({"max_age_days": 7, "dry_run": true}),
    );
    assert_eq!(preview["would_purge"], 1, "{preview}");
    assert_eq!(preview["job_ids"], json!([old_id]));
    assert!(path.exists());
    let (purged, _) = server.call(4, "dispatch_gc", json!({"max_age_days": 7}));
    assert_eq!(purged["purged"], 1);
    assert!(!path.exists());
    let (kept, _) = server.call(5, "fetch_result", json!({"ref": new_id}));
    assert_eq!(kept["success"], true);
    let (bad, is_error) = server.call(6, "dispatch_gc", json!({"max_age_days": 0}));
    assert!(is_error && bad["error"] == "max_age_days must be > 0");
}

#[test]
fn retention_at_start_prunes_only_old_finished_jobs_and_only_when_configured() {
    let (sandbox, fake) = setup(&[]);
    let mut server = serve(&sandbox, fake.dir.path());
    let old_id = ref_of(&mut server, 1, "old");
    let recent_id = ref_of(&mut server, 2, "recent");
    drop(server);
    let old_path = complete_at(&sandbox, &old_id, now() - 3.0 * 86_400.0);

    // Retention is off by default: nothing is deleted. Maintenance runs in
    // the background, so give it the time a deletion would take.
    let server = serve(&sandbox, fake.dir.path());
    std::thread::sleep(Duration::from_millis(500));
    drop(server);
    assert!(old_path.exists());

    sandbox.edit_config("job_retention_days: 0", "job_retention_days: 2");
    let server = serve(&sandbox, fake.dir.path());
    wait_until(
        "the 2-day retention to delete the 3-day-old job",
        HANG,
        || !old_path.exists(),
    );
    drop(server);
    assert!(
        sandbox
            .jobs_dir()
            .join(format!("{recent_id}.json"))
            .exists()
    );
}
