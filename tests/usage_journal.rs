//! The usage journal on real files: concurrent appends from separate
//! processes, rotation at 2,000,000 bytes, the 2048-byte line rule, lenient
//! reading of hand-edited lines, and the nearest-rank percentiles.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use agent_dispatch::pyvalue;
use agent_dispatch::runner::{DispatchResult, Outcome};
use agent_dispatch::usage::journal::{MAX_LINE_BYTES, ROTATE_AT_BYTES, rotated_path};
use agent_dispatch::usage::summary::percentile;
use agent_dispatch::usage::{Entry, Query, Record, append, load, summarize};
use serde_json::Value;

/// Set in a child process: `<journal path>|<writer number>`.
const WRITER_ENV: &str = "USAGE_JOURNAL_TEST_WRITER";
const WRITERS: usize = 8;
const RECORDS_PER_WRITER: u64 = 500;

fn record(seq: u64, caller: &str) -> Record {
    let result = DispatchResult {
        cost_usd: Some(0.001),
        duration_ms: Some(1000 + seq),
        num_turns: Some(seq),
        outcome: Some(Outcome::Done),
        // Non-ASCII and a padded name make each line long enough that an
        // interleaved write would show.
        ..DispatchResult::new(&format!("agent-é-{}", "x".repeat(60)), true)
    };
    Record::from_result(&result, 0, caller)
}

/// Not a test of its own: the body of each writer process that
/// `concurrent_writers_never_interleave_lines` starts.
#[test]
#[ignore = "run as a child process by concurrent_writers_never_interleave_lines"]
fn journal_writer_child() {
    let Ok(spec) = std::env::var(WRITER_ENV) else {
        return;
    };
    let (path, writer) = spec.rsplit_once('|').expect("path|writer");
    for seq in 0..RECORDS_PER_WRITER {
        append(Path::new(path), &record(seq, &format!("writer-{writer}")));
    }
}

#[test]
fn concurrent_writers_never_interleave_lines() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("usage.jsonl");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..WRITERS)
        .map(|writer| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "journal_writer_child",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env(WRITER_ENV, format!("{}|{writer}", journal.display()))
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }

    let text = fs::read_to_string(&journal).unwrap();
    assert!(
        text.len() < ROTATE_AT_BYTES as usize,
        "the test must not rotate"
    );
    assert!(!rotated_path(&journal).exists());
    let mut per_writer: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), WRITERS * RECORDS_PER_WRITER as usize);
    for line in lines {
        let value: Value = serde_json::from_str(line).expect("every line is whole JSON");
        per_writer
            .entry(value["caller"].as_str().unwrap().to_owned())
            .or_default()
            .push(value["turns"].as_u64().unwrap());
    }
    assert_eq!(per_writer.len(), WRITERS);
    for (writer, seqs) in per_writer {
        // Each writer's own lines land in the order it wrote them.
        let expected: Vec<u64> = (0..RECORDS_PER_WRITER).collect();
        assert_eq!(seqs, expected, "{writer}");
    }
}

fn seqs(entries: &[Entry]) -> Vec<u64> {
    entries
        .iter()
        .map(|entry| entry.ms.unwrap() as u64 - 1000)
        .collect()
}

#[test]
fn rotation_at_two_megabytes_keeps_every_record_once() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("usage.jsonl");
    let rotated = rotated_path(&journal);
    let mut written = 0;
    while fs::metadata(&journal).map_or(0, |m| m.len()) < ROTATE_AT_BYTES {
        append(&journal, &record(written, ""));
        written += 1;
    }
    assert!(!rotated.exists());
    let full_size = fs::metadata(&journal).unwrap().len();

    // The next append finds the file full: it becomes `.1` and a new live
    // file starts with this one record.
    append(&journal, &record(written, ""));
    written += 1;
    assert_eq!(fs::metadata(&rotated).unwrap().len(), full_size);
    assert_eq!(fs::read_to_string(&journal).unwrap().lines().count(), 1);

    // Reading both generations whole: every record exactly once, in order.
    let everything = Query {
        max_bytes: 2 * ROTATE_AT_BYTES,
        ..Query::default()
    };
    let all = load(&journal, &everything).unwrap();
    assert_eq!(seqs(&all), (0..written).collect::<Vec<_>>());
    assert_eq!(summarize(&all).total.dispatches, written);

    // Reading the default 512 KiB tail of each: the complete lines of the
    // window of `.1`, then the live record — no partial line, no repeat.
    let tail = load(&journal, &Query::default()).unwrap();
    let window = Query::default().max_bytes;
    let rotated_text = fs::read(&rotated).unwrap();
    let start = rotated_text.len() - window as usize;
    let whole_lines_in_window = rotated_text[start - 1..]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        - 1;
    assert_eq!(tail.len(), whole_lines_in_window + 1);
    let first = written - tail.len() as u64;
    assert_eq!(seqs(&tail), (first..written).collect::<Vec<_>>());
}

#[test]
fn overlong_line_drops_the_caller_and_still_fits() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("usage.jsonl");
    // Built by hand, past the caps the constructors apply.
    let record = Record {
        caller: Some("c".repeat(3000)),
        ..record(7, "")
    };
    append(&journal, &record);
    let text = fs::read_to_string(&journal).unwrap();
    assert!(text.len() <= MAX_LINE_BYTES);
    let value: Value = serde_json::from_str(text.trim_end()).unwrap();
    assert_eq!(value.get("caller"), None);
    assert_eq!(value["turns"], 7);
}

#[test]
fn hand_edited_nan_loses_only_that_field() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("usage.jsonl");
    fs::write(
        &journal,
        "{\"t\":1,\"agent\":\"web\",\"ok\":true,\"cost\":0.5,\"ms\":NaN}\n\
         {\"t\":2,\"agent\":\"web\",\"ok\":true,\"cost\":-Infinity,\"ms\":300}\n\
         not json at all\n\
         {\"t\":3,\"agent\":\"web\",\"ok\":false,\"cost\":0.25,\"ms\":100,\"err\":\"timeout\"}\n",
    )
    .unwrap();
    let entries = load(&journal, &Query::default()).unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].ms, None);
    assert_eq!(entries[0].cost, Some(0.5));
    assert_eq!(entries[1].cost, None);
    let total = summarize(&entries).total;
    assert_eq!((total.dispatches, total.ok, total.failed), (3, 2, 1));
    assert_eq!(total.cost_usd, 0.75);
    assert_eq!(total.max_ms, Some(300));
    assert_eq!(total.errors.get("timeout"), Some(&1));
}

#[test]
fn load_filters_by_agent_and_days() {
    let dir = tempfile::tempdir().unwrap();
    let journal: PathBuf = dir.path().join("usage.jsonl");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let old = now - 10 * 86_400;
    fs::write(
        &journal,
        format!(
            "{{\"t\":{old},\"agent\":\"web\",\"ok\":true}}\n\
             {{\"t\":{now},\"agent\":\"web\",\"ok\":true}}\n\
             {{\"t\":{now},\"agent\":\"api\",\"ok\":true}}\n\
             {{\"agent\":\"undated\",\"ok\":true}}\n"
        ),
    )
    .unwrap();
    let count = |days, agent: Option<&str>| {
        let query = Query {
            days,
            agent: agent.map(str::to_owned),
            ..Query::default()
        };
        load(&journal, &query).unwrap().len()
    };
    assert_eq!(count(0, None), 4);
    assert_eq!(count(7, None), 2);
    assert_eq!(count(0, Some("web")), 2);
    assert_eq!(count(7, Some("web")), 1);
    assert_eq!(count(0, Some("we")), 0);
    assert!(
        load(&dir.path().join("missing.jsonl"), &Query::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn nearest_rank_percentiles_round_half_to_even() {
    let values = |n: u32| (1..=n).map(f64::from).collect::<Vec<_>>();
    assert_eq!(percentile(&values(8), 50.0), Some(4.0));
    assert_eq!(percentile(&values(2), 50.0), Some(2.0));
    assert_eq!(percentile(&values(10), 90.0), Some(10.0));
    assert_eq!(percentile(&values(20), 90.0), Some(18.0));
}

#[test]
fn numbers_from_files_are_coerced_like_python_float() {
    assert_eq!(pyvalue::float(&serde_json::json!("2.5")), Some(2.5));
    assert_eq!(pyvalue::float(&serde_json::json!("nan")), None);
}
