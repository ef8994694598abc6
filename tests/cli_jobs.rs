//! `jobs`, `job`, `cancel` and `gc` through the real binary, over job files
//! planted with the library's `JobStore` (and one written the way the
//! Python original writes them), plus a race between the CLI's `cancel`
//! and a worker's `finish` in another process.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

mod support;

use std::fs;
use std::thread;
use std::time::Duration;

use agent_dispatch::jobs::{Job, JobStore, Status, now};
use agent_dispatch::runner::{DispatchResult, ErrorType, Outcome};
use serde_json::Value;
use support::Sandbox;

const DAY: f64 = 86_400.0;

fn store(sandbox: &Sandbox) -> JobStore {
    JobStore::new(sandbox.jobs_dir())
}

fn answer(agent: &str, text: &str) -> DispatchResult {
    DispatchResult {
        result: text.into(),
        cost_usd: Some(0.0123),
        outcome: Some(Outcome::Done),
        ..DispatchResult::new(agent, true)
    }
}

/// Rewrites a stored job as if it had been created `days` ago (and, when
/// terminal, completed then), the way an old record looks on disk.
fn age_job(store: &JobStore, job: &Job, days: f64) -> Job {
    let mut old = store.get(&job.id).unwrap().unwrap();
    let then = now() - days * DAY;
    old.created_at = then;
    if old.started_at.is_some() {
        old.started_at = Some(then);
    }
    if old.completed_at.is_some() {
        old.completed_at = Some(then);
    }
    fs::write(
        store.path_of(&job.id).unwrap(),
        old.to_pretty_json().unwrap(),
    )
    .unwrap();
    old
}

fn status_of(store: &JobStore, id: &str) -> Status {
    store.get(id).unwrap().expect("readable record").status
}

/// A record exactly as the original (0.16) writes it: pydantic's pretty
/// JSON, None fields left out, Python float timestamps.
const ORIGINAL_ID: &str = "5f0c2a7e9b8d4c3fa1e2d3c4b5a69788";

fn original_record() -> String {
    let id = ORIGINAL_ID;
    format!(
        r#"{{
  "id": "{id}",
  "agent": "legacy",
  "task": "Summarise the changelog\nfor the release notes",
  "caller": "frontend",
  "status": "done",
  "created_at": 1700000000.123456,
  "started_at": 1700000001.5,
  "completed_at": 1700000042.25,
  "result": {{
    "agent": "legacy",
    "success": true,
    "result": "Three entries: fixes, docs, CI.",
    "session_id": "0b6f1c2e-8d4a-4f3b-9c5e-1a2b3c4d5e6f",
    "cost_usd": 0.0123,
    "duration_ms": 40750,
    "num_turns": 3,
    "outcome": "done"
  }},
  "progress": [
    "Using tool: Read",
    "Three entries: fixes, docs, CI."
  ],
  "progress_updated_at": 1700000041.0
}}"#
    )
}

fn plant_original(sandbox: &Sandbox) -> String {
    fs::create_dir_all(sandbox.jobs_dir()).unwrap();
    let path = sandbox.jobs_dir().join(format!("{ORIGINAL_ID}.json"));
    fs::write(path, original_record()).unwrap();
    ORIGINAL_ID.to_owned()
}

#[test]
fn jobs_lists_newest_first_with_status_agent_age_and_task() {
    let sandbox = Sandbox::new();
    let store = store(&sandbox);
    let old = store
        .create("web", "Old\ntask", None, None, None, None)
        .unwrap();
    age_job(&store, &old, 3.0);
    let done = store
        .create_completed("api", "Count rows", &answer("api", "42"), None, None, None)
        .unwrap();
    let long = "x".repeat(80);
    let pending = store.create("api", &long, None, None, None, None).unwrap();

    let out = sandbox.run(&["jobs"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        lines[0],
        format!("{}  pending    api    0s  {}", pending.id, "x".repeat(60))
    );
    assert_eq!(
        lines[1],
        format!("{}  done       api    0s  Count rows", done.id)
    );
    assert_eq!(
        lines[2],
        format!("{}  pending    web    3d  Old\\ntask", old.id)
    );
}

#[test]
fn jobs_json_is_an_array_of_summaries() {
    let sandbox = Sandbox::new();
    let store = store(&sandbox);
    let job = store
        .create_completed(
            "api",
            &"é".repeat(150),
            &answer("api", "ok"),
            None,
            None,
            None,
        )
        .unwrap();
    let listed = sandbox.run(&["jobs", "--json"]).json();
    assert_eq!(listed, Value::Array(vec![job.summary()]));
    let summary = &listed[0];
    let keys: Vec<&str> = summary
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "agent",
            "status",
            "task",
            "created_at",
            "started_at",
            "completed_at",
            "success",
            "cost_usd",
            "outcome"
        ]
    );
    assert_eq!(summary["task"].as_str().unwrap().chars().count(), 120);
}

#[test]
fn jobs_filters_by_status_and_agent_before_the_limit() {
    let sandbox = Sandbox::new();
    let store = store(&sandbox);
    let x_done = store
        .create_completed("x", "a", &answer("x", "1"), None, None, None)
        .unwrap();
    age_job(&store, &x_done, 1.0);
    store.create("x", "b", None, None, None, None).unwrap();
    store
        .create_completed("y", "c", &answer("y", "2"), None, None, None)
        .unwrap();

    let listed = sandbox
        .run(&[
            "jobs", "--status", "done", "--agent", "x", "--limit", "1", "--json",
        ])
        .json();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [x_done.id.as_str()]);

    assert_eq!(
        sandbox
            .run(&["jobs", "--limit", "0", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        sandbox.run(&["jobs", "--status", "failed"]).ok(),
        "No failed jobs found.\n"
    );
    assert_eq!(
        sandbox.run(&["jobs", "--agent", "z"]).ok(),
        "No jobs found for agent 'z'.\n"
    );
    let err = sandbox.run(&["jobs", "--status", "finished"]).fails(2);
    assert!(
        err.contains("--status must be one of pending, running"),
        "{err}"
    );
}

#[test]
fn jobs_with_no_jobs_directory_lists_nothing_and_creates_nothing() {
    let sandbox = Sandbox::new();
    assert_eq!(sandbox.run(&["jobs"]).ok(), "No jobs found.\n");
    assert_eq!(sandbox.run(&["jobs", "--json"]).ok(), "[]\n");
    assert!(!sandbox.jobs_dir().exists());
}

#[test]
fn job_storage_that_is_not_a_directory_is_reported_with_a_hint() {
    let sandbox = Sandbox::new();
    fs::create_dir_all(sandbox.config().parent().unwrap()).unwrap();
    fs::write(sandbox.jobs_dir(), "a file").unwrap();
    let err = sandbox.run(&["jobs"]).fails(1);
    assert!(
        err.starts_with("error: could not read job storage: "),
        "{err}"
    );
    assert!(err.contains("\nhint: "), "{err}");
    let id = "0123456789abcdef0123456789abcdef";
    let err = sandbox.run(&["cancel", id]).fails(1);
    assert!(
        err.starts_with("error: could not access job storage: "),
        "{err}"
    );
}

#[test]
fn job_shows_one_record_in_full() {
    let sandbox = Sandbox::new();
    let store = store(&sandbox);
    let job = store
        .create("api", "Migrate\nthe schema", None, None, None, None)
        .unwrap();
    store.mark_running(&job.id).unwrap().unwrap();
    let progress: Vec<String> = (1..=12).map(|i| format!("step {i}")).collect();
    store.update_progress(&job.id, &progress).unwrap().unwrap();
    let mut result = DispatchResult::failure("api", ErrorType::Budget, "Spend cap reached".into());
    result.result = format!("{}\nsecond line", "r".repeat(2100));
    result.cost_usd = Some(1.5);
    result.budget_exceeded = true;
    store.finish(&job.id, &result, false).unwrap().unwrap();

    let out = sandbox.run(&["job", &job.id]).ok();
    let expected_head = format!(
        "{} [failed]\n  agent:      api\n  task:       Migrate\n              the schema\n  created:    0s ago\n  started:    0s ago\n  completed:  0s ago\n  error:      Spend cap reached\n  progress:\n",
        job.id
    );
    assert!(out.starts_with(&expected_head), "{out}");
    assert!(
        out.contains("    step 3\n") && out.contains("    step 12\n"),
        "{out}"
    );
    assert!(
        !out.contains("    step 2\n"),
        "only the last 10 lines: {out}"
    );
    assert!(out.contains(
        "  success:    no\n  cost_usd:   $1.5000\n  budget:     EXCEEDED\n  result:\n    rrrr"
    ));
    assert!(
        out.ends_with("    … truncated (2112 chars total)\n"),
        "{out}"
    );
    assert!(!out.contains("second line"));
}

#[test]
fn job_json_is_the_full_record() {
    let sandbox = Sandbox::new();
    let store = store(&sandbox);
    let job = store
        .create_completed(
            "api",
            "t",
            &answer("api", &"z".repeat(5000)),
            Some("ctx".into()),
            None,
            None,
        )
        .unwrap();
    let shown = sandbox.run(&["job", &job.id, "--json"]).json();
    assert_eq!(shown, job.to_value());
    assert_eq!(shown["result"]["result"].as_str().unwrap().len(), 5000);
    assert_eq!(shown["context"], "ctx");
}

#[test]
fn job_rejects_invalid_ids_as_usage_errors_and_reports_missing_ones() {
    let sandbox = Sandbox::new();
    let err = sandbox.run(&["job", "../../etc/passwd"]).fails(2);
    assert_eq!(
        err,
        "error: invalid job id '../../etc/passwd' (expected 32 lowercase hex characters)\nhint: job ids are listed by 'agent-dispatch jobs'\n"
    );
    sandbox
        .run(&["job", "0123456789ABCDEF0123456789ABCDEF"])
        .fails(2);
    sandbox.run(&["job"]).fails(2);
    let id = "0123456789abcdef0123456789abcdef";
    let err = sandbox.run(&["job", id, "--json"]).fails(1);
    assert!(
        err.starts_with(&format!("error: job {id} not found\nhint: ")),
        "{err}"
    );
    assert!(!sandbox.jobs_dir().exists());
}

#[test]
fn a_record_written_by_the_original_reads_in_every_command() {
    let sandbox = Sandbox::new();
    let id = plant_original(&sandbox);

    let shown = sandbox.run(&["job", &id, "--json"]).json();
    let original: Value = serde_json::from_str(&original_record()).unwrap();
    assert_eq!(shown, original);
    let keys: Vec<&String> = shown.as_object().unwrap().keys().collect();
    let original_keys: Vec<&String> = original.as_object().unwrap().keys().collect();
    assert_eq!(keys, original_keys);

    let listed = sandbox.run(&["jobs", "--agent", "legacy", "--json"]).json();
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["outcome"], "done");
    assert!(listed[0].get("last_progress").is_none(), "not running");

    let text = sandbox.run(&["job", &id]).ok();
    assert!(
        text.contains(
            "  task:       Summarise the changelog\n              for the release notes\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  success:    yes\n  cost_usd:   $0.0123\n  outcome:    done\n"),
        "{text}"
    );

    assert_eq!(
        sandbox.run(&["cancel", &id]).ok(),
        "Job already done; nothing to cancel.\n"
    );
}

#[test]
fn cancel_cancels_a_pending_job() {
    let sandbox = Sandbox::new();
    let store = store(&sandbox);
    let job = store.create("api", "t", None, None, None, None).unwrap();
    assert_eq!(
        sandbox.run(&["cancel", &job.id]).ok(),
        format!("Cancelled: {}\n", job.id)
    );
    let after = store.get(&job.id).unwrap().unwrap();
    assert_eq!(after.status, Status::Cancelled);
    assert_eq!(after.error.as_deref(), Some("Cancelled before execution"));
    assert_eq!(store.mark_running(&job.id).unwrap(), None);
}

#[test]
fn cancel_of_a_running_job_fails_and_leaves_it_running() {
    let sandbox = Sandbox::new();
    let store = store(&sandbox);
    let job = store.create("api", "t", None, None, None, None).unwrap();
    store.mark_running(&job.id).unwrap().unwrap();
    let before = fs::read(store.path_of(&job.id).unwrap()).unwrap();
    let err = sandbox.run(&["cancel", &job.id]).fails(1);
    assert!(
        err.starts_with(&format!(
            "error: job {} is running; its subprocess belongs to the MCP server",
            job.id
        )),
        "{err}"
    );
    assert!(
        err.contains("hint: cancel it with the dispatch_cancel tool"),
        "{err}"
    );
    assert_eq!(fs::read(store.path_of(&job.id).unwrap()).unwrap(), before);
}

#[test]
fn cancel_reports_terminal_missing_and_invalid_ids() {
    let sandbox = Sandbox::new();
    let store = store(&sandbox);
    let failed = store
        .create_completed(
            "api",
            "t",
            &DispatchResult::failure("api", ErrorType::Timeout, "slow".into()),
            None,
            None,
            None,
        )
        .unwrap();
    assert_eq!(
        sandbox.run(&["cancel", &failed.id]).ok(),
        "Job already failed; nothing to cancel.\n"
    );
    assert_eq!(status_of(&store, &failed.id), Status::Failed);

    let missing = "fedcba9876543210fedcba9876543210";
    let err = sandbox.run(&["cancel", missing]).fails(1);
    assert!(
        err.starts_with(&format!("error: job {missing} not found")),
        "{err}"
    );

    for bad in ["abc", "../x", "0123456789abcdef0123456789abcdef0"] {
        let err = sandbox.run(&["cancel", bad]).fails(2);
        assert!(err.starts_with("error: invalid job id"), "{err}");
    }
}

/// Three terminal jobs 10, 8 and 2 days old, plus an old pending and an
/// old running one that gc must never touch.
fn plant_for_gc(sandbox: &Sandbox) -> (JobStore, Vec<Job>) {
    let store = store(sandbox);
    let ok = answer("api", "ok");
    let mut jobs = Vec::new();
    for days in [10.0, 8.0, 2.0] {
        let job = store
            .create_completed("api", &format!("{days} days"), &ok, None, None, None)
            .unwrap();
        jobs.push(age_job(&store, &job, days));
    }
    let pending = store
        .create("api", "waiting", None, None, None, None)
        .unwrap();
    jobs.push(age_job(&store, &pending, 30.0));
    let running = store
        .create("api", "working", None, None, None, None)
        .unwrap();
    store.mark_running(&running.id).unwrap();
    jobs.push(age_job(&store, &running, 30.0));
    (store, jobs)
}

#[test]
fn gc_dry_run_lists_candidates_without_deleting() {
    let sandbox = Sandbox::new();
    let (store, jobs) = plant_for_gc(&sandbox);
    let out = sandbox.run(&["gc", "--dry-run"]).ok();
    assert_eq!(
        out,
        format!(
            "{}  done  api  8 days\n{}  done  api  10 days\nWould delete 2 terminal job(s). No jobs deleted.\n",
            jobs[1].id, jobs[0].id
        )
    );
    assert_eq!(store.list(None, None).unwrap().len(), 5);
}

#[test]
fn gc_days_deletes_only_old_terminal_jobs() {
    let sandbox = Sandbox::new();
    let (store, jobs) = plant_for_gc(&sandbox);
    assert_eq!(
        sandbox.run(&["gc", "--days", "7"]).ok(),
        "Deleted 2 job(s) older than 7 day(s).\n"
    );
    let left: Vec<String> = store
        .list(None, None)
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(left.len(), 3);
    for kept in &jobs[2..] {
        assert!(left.contains(&kept.id));
    }
    assert_eq!(
        sandbox.run(&["gc"]).ok(),
        "Deleted 0 job(s) older than 7 day(s).\n"
    );
}

#[test]
fn gc_all_deletes_every_terminal_job_and_nothing_else() {
    let sandbox = Sandbox::new();
    let (store, jobs) = plant_for_gc(&sandbox);
    let original = plant_original(&sandbox);
    assert_eq!(
        sandbox.run(&["gc", "--all"]).ok(),
        "Deleted 4 terminal job(s) (all ages).\n"
    );
    let mut left: Vec<String> = store
        .list(None, None)
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    left.sort();
    let mut expected = vec![jobs[3].id.clone(), jobs[4].id.clone()];
    expected.sort();
    assert_eq!(left, expected);
    assert!(store.get(&original).unwrap().is_none());
}

#[test]
fn gc_refuses_non_positive_days_without_all() {
    let sandbox = Sandbox::new();
    let (store, _) = plant_for_gc(&sandbox);
    let err = sandbox.run(&["gc", "--days", "0"]).fails(2);
    assert_eq!(
        err,
        "error: --days must be > 0 (got 0)\nhint: use --all to delete every finished job on purpose\n"
    );
    sandbox.run(&["gc", "--days", "-3"]).fails(2);
    let err = sandbox.run(&["gc", "--days", "3", "--all"]).fails(2);
    assert!(
        err.contains("--days and --all cannot be used together"),
        "{err}"
    );
    assert_eq!(store.list(None, None).unwrap().len(), 5);
}

#[test]
fn job_commands_have_help_and_appear_in_the_main_help() {
    let sandbox = Sandbox::new();
    let main = sandbox.run(&["--help"]).ok();
    assert!(main.contains("\nJobs:\n  jobs "), "{main}");
    for command in ["jobs", "job", "cancel", "gc"] {
        let help = sandbox.run(&[command, "--help"]).ok();
        assert!(
            help.contains(&format!("Usage: agent-dispatch {command}")),
            "{help}"
        );
        assert!(help.lines().all(|l| l.chars().count() <= 79), "{help}");
    }
}

/// The CLI's `cancel` and a worker's `finish` (another process, as a server
/// would be) race on a pending job: whoever takes `.jobs.lock` first wins,
/// the loser is refused, and the record is always whole.
#[test]
fn cancel_racing_finish_ends_cancelled_or_done_and_never_overwrites_a_cancel() {
    let sandbox = Sandbox::new();
    let store = store(&sandbox);
    let (mut cancelled, mut done) = (0, 0);
    for round in 0..40u64 {
        let job = store.create("api", "race", None, None, None, None).unwrap();
        let worker_store = store.clone();
        let id = job.id.clone();
        let worker = thread::spawn(move || {
            // Spread the finish over the CLI's start-up time.
            thread::sleep(Duration::from_micros((round % 8) * 500));
            worker_store
                .finish(&id, &answer("api", "finished"), false)
                .unwrap()
        });
        let out = sandbox.run(&["cancel", &job.id]);
        let finished = worker.join().unwrap();
        let record = store
            .get(&job.id)
            .unwrap()
            .expect("a whole, readable record");
        match record.status {
            Status::Cancelled => {
                cancelled += 1;
                assert_eq!(out.ok(), format!("Cancelled: {}\n", job.id));
                assert_eq!(finished, None, "finish overwrote a cancellation");
                assert!(record.result.is_none());
            }
            Status::Done => {
                done += 1;
                assert_eq!(out.ok(), "Job already done; nothing to cancel.\n");
                assert_eq!(finished.as_ref(), Some(&record));
            }
            other => panic!("round {round}: ended {other}"),
        }
    }
    // Every round's record is still there, whole and listed.
    assert_eq!(
        store.list(None, None).unwrap().len(),
        40,
        "{cancelled} cancelled, {done} done"
    );
    let leftovers: Vec<_> = fs::read_dir(sandbox.jobs_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn jobs_and_job_show_control_characters_escaped_and_json_keeps_them() {
    let sandbox = Sandbox::new();
    let store = store(&sandbox);
    let task = "Wipe \x1b[2J the\nscreen\x07";
    let job = store.create("api", task, None, None, None, None).unwrap();
    store.mark_running(&job.id).unwrap().unwrap();
    store
        .update_progress(&job.id, &["Using tool: \x1b]0;pwned\x07".to_owned()])
        .unwrap()
        .unwrap();
    let mut result =
        DispatchResult::failure("api", ErrorType::CliError, "stderr said \x1b[2J".into());
    result.result = "Done.\n\x1b[31mred\x1b[0m\r".into();
    store.finish(&job.id, &result, false).unwrap().unwrap();

    let jobs = sandbox.run(&["jobs"]).ok();
    assert!(
        !jobs.chars().any(|c| c.is_control() && c != '\n'),
        "{jobs:?}"
    );
    // A one-line listing: the task's newline is shown, not obeyed.
    assert!(
        jobs.trim_end().ends_with(r"Wipe \x1b[2J the\nscreen\x07"),
        "{jobs}"
    );

    let detail = sandbox.run(&["job", &job.id]).ok();
    assert!(
        !detail.chars().any(|c| c.is_control() && c != '\n'),
        "{detail:?}"
    );
    for shown in [
        "  task:       Wipe \\x1b[2J the\n              screen\\x07\n",
        "    Using tool: \\x1b]0;pwned\\x07\n",
        "  error:      stderr said \\x1b[2J\n",
        "  result:\n    Done.\n    \\x1b[31mred\\x1b[0m\\r\n",
    ] {
        assert!(detail.contains(shown), "want {shown:?} in\n{detail}");
    }

    let json = sandbox.run(&["job", &job.id, "--json"]).json();
    assert_eq!(json["task"], task);
    assert_eq!(json["result"]["result"], "Done.\n\x1b[31mred\x1b[0m\r");
}
