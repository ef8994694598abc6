//! `subscriptions/listen` (2026-07-28): a stream of notifications a
//! client opens and cancels. We offer what the tasks extension adds to it,
//! a `notifications/tasks` with the whole task (result included) when a
//! subscribed task ends; tools never change, so nothing else is offered.
//! The stream is acknowledged first, and answered (closed) once every task
//! it follows has ended, or at the server's stop; a client's
//! `notifications/cancelled` ends it with no answer.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::jsonrpc;
use super::modern::{self, Envelope};
use super::state::State;
use super::tasks;
use super::writer::Writer;
use crate::runner::CancelToken;

/// How long one look at a task waits for its end before the others get
/// theirs (an own job's end wakes it at once): every round re-reads each
/// record the stream follows.
const ROUND: Duration = Duration::from_secs(1);
/// The most tasks one stream follows.
const MAX_TASKS: usize = 100;

const SUBSCRIPTION_KEY: &str = "io.modelcontextprotocol/subscriptionId";

/// Serves one `subscriptions/listen` request `id` to its end; returns the
/// answer that closes the stream, or a refusal. Notifications go out on
/// `writer` as they happen. `cancel` ends it: the client's cancel at once,
/// the server's stop (`stopping`) after telling of the tasks the stop
/// ended.
pub fn listen(
    state: &State,
    writer: &Writer,
    id: &Value,
    params: &Value,
    envelope: Envelope,
    cancel: &CancelToken,
    stopping: &AtomicBool,
) -> Value {
    let wanted = match task_ids(params) {
        Ok(wanted) => wanted,
        Err(refusal) => {
            return jsonrpc::error(id, jsonrpc::INVALID_PARAMS, &refusal.to_string());
        }
    };
    if !wanted.is_empty() && !envelope.tasks {
        return modern::tasks_not_declared(id, "subscriptions/listen for taskIds");
    }
    // Only tasks that exist are followed; the acknowledgment says which.
    let mut following: Vec<String> = wanted
        .into_iter()
        .filter(|task| matches!(tasks::read(state, task), Ok(Some(_))))
        .collect();
    let mut agreed = json!({});
    if !following.is_empty() {
        agreed["taskIds"] = json!(following);
    }
    writer.send_reply(
        jsonrpc::notification(
            "notifications/subscriptions/acknowledged",
            json!({"_meta": {SUBSCRIPTION_KEY: id}, "notifications": agreed}),
        )
        .to_string(),
    );
    loop {
        following.retain(|task| match tasks::read(state, task) {
            Ok(Some(job)) if job.status.is_terminal() => {
                let mut params = tasks::detailed(state, &job);
                params.insert("_meta".into(), json!({SUBSCRIPTION_KEY: id}));
                writer.send_reply(
                    jsonrpc::notification("notifications/tasks", Value::Object(params)).to_string(),
                );
                false
            }
            // Unreadable for now (a lock held elsewhere): looked at again.
            Ok(Some(_)) | Err(_) => true,
            // Deleted meanwhile (dispatch_gc): no end to tell.
            Ok(None) => false,
        });
        let Some(task) = following.first() else {
            break;
        };
        if cancel.is_cancelled() {
            break;
        }
        // A record that cannot be read answers at once: its round is
        // waited out here, not spun through.
        if state.jobs.wait(task, ROUND, cancel).is_err() {
            pause(ROUND, cancel);
        }
        // The client's cancel: nothing more may go out for this stream.
        if cancel.is_cancelled() && !stopping.load(Ordering::SeqCst) {
            break;
        }
    }
    let mut closed = modern::complete(json!({}));
    closed["_meta"][SUBSCRIPTION_KEY] = id.clone();
    jsonrpc::response(id, closed)
}

/// Sleeps `round`, or less once `cancel` is cancelled.
fn pause(round: Duration, cancel: &CancelToken) {
    let until = Instant::now() + round;
    while !cancel.is_cancelled() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Why a listen is refused before it starts.
#[derive(Debug)]
enum Refusal {
    NoFilter,
    NotAList,
    TooMany,
    BadId(tasks::TaskError),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoFilter => {
                f.write_str("subscriptions/listen needs params.notifications (an object)")
            }
            Refusal::NotAList => f.write_str("notifications.taskIds must be an array of task ids"),
            Refusal::TooMany => write!(
                f,
                "notifications.taskIds may name at most {MAX_TASKS} tasks; open several streams"
            ),
            Refusal::BadId(err) => write!(f, "notifications.taskIds: {err}"),
        }
    }
}

/// The task ids a listen asks to follow (`notifications.taskIds`), each
/// checked as a task id before any file is looked at, once each.
fn task_ids(params: &Value) -> Result<Vec<String>, Refusal> {
    let notifications = params.get("notifications").ok_or(Refusal::NoFilter)?;
    let ids = match notifications.get("taskIds") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(ids)) => ids,
        Some(_) => return Err(Refusal::NotAList),
    };
    if ids.len() > MAX_TASKS {
        return Err(Refusal::TooMany);
    }
    let mut wanted: Vec<String> = Vec::with_capacity(ids.len());
    for task in ids {
        let task = tasks::id_of(Some(task)).map_err(Refusal::BadId)?;
        if !wanted.contains(&task) {
            wanted.push(task);
        }
    }
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_are_checked_before_any_file_is_read() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            task_ids(&json!({"notifications": {"taskIds": [id, id]}})).unwrap(),
            vec![id.to_owned()]
        );
        assert!(
            task_ids(&json!({"notifications": {"toolsListChanged": true}}))
                .unwrap()
                .is_empty()
        );
        for bad in [
            json!({}),
            json!({"notifications": {"taskIds": "x"}}),
            json!({"notifications": {"taskIds": ["../../etc"]}}),
            json!({"notifications": {"taskIds": [7]}}),
        ] {
            assert!(task_ids(&bad).is_err(), "{bad}");
        }
    }
}
