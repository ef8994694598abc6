//! Load: hundreds of requests in flight on one server, and ten servers plus
//! CLI processes sharing one config, one jobs directory, one usage journal
//! and one server registry, one of those servers SIGKILLed mid-job. Real
//! processes, files and pipes with the stand-in `claude`. Every timeout
//! here only tells a hang from a slow machine; nothing measures speed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
#[path = "support/mcp_client.rs"]
mod mcp_client;
mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use agent_dispatch::config::store;
use agent_dispatch::ids::is_hex32;
use agent_dispatch::registry;
use fake::{FakeClaude, LoggingClaude, group_gone, live_in_group};
use mcp_client::{Server, tool_payload};
use serde_json::{Value, json};
use support::{Sandbox, age_job_record, job_record, path_str, wait_until};

/// Anything still unfinished after this is hung, however loaded the
/// machine.
const HANG: Duration = Duration::from_secs(120);
/// `dispatch_wait`'s own limit, under the test client's 60 s per response:
/// a job that never ends fails the wait, not the client.
const WAIT_SECONDS: u64 = 50;
/// The stand-in answers with the prompt it was given, so every answer
/// shows which task it belongs to.
const ECHO: (&str, &str) = ("FAKE_CLAUDE_ECHO_PROMPT", "1");
/// How long a `[fake:sleep]` task runs: long enough to still be running
/// while its server, or another one, makes other calls.
const LONG_JOB: (&str, &str) = ("FAKE_CLAUDE_SLEEP", "1.5");

/// Request ids for one-off calls, above any id a planned wave uses.
static NEXT_ID: AtomicU64 = AtomicU64::new(1_000_000);

// ---------------------------------------------------------------------
// The shared state and the servers
// ---------------------------------------------------------------------

/// The jobs, journal and registry every server of a sandbox shares, named
/// through their environment variables rather than left to the defaults.
fn state_dir(sandbox: &Sandbox) -> PathBuf {
    sandbox.dir.path().join("state")
}

fn jobs_dir(sandbox: &Sandbox) -> PathBuf {
    state_dir(sandbox).join("jobs")
}

fn usage_log(sandbox: &Sandbox) -> PathBuf {
    state_dir(sandbox).join("usage.jsonl")
}

fn servers_dir(sandbox: &Sandbox) -> PathBuf {
    state_dir(sandbox).join("servers")
}

/// An initialized `serve` over the sandbox's shared state, with the
/// `claude` of `claude_dir` first on PATH.
fn serve(sandbox: &Sandbox, claude_dir: &Path) -> Server {
    let mut command = sandbox.command_with_claude(claude_dir);
    command
        .env("AGENT_DISPATCH_JOBS_DIR", jobs_dir(sandbox))
        .env("AGENT_DISPATCH_USAGE_LOG", usage_log(sandbox))
        .env("AGENT_DISPATCH_SERVERS_DIR", servers_dir(sandbox));
    Server::initialized(command)
}

/// Calls a tool that must succeed and returns its payload.
fn ok_call(server: &mut Server, tool: &str, arguments: Value) -> Value {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let (payload, is_error) = server.call(id, tool, arguments.clone());
    assert!(!is_error, "{tool} {arguments}: {payload}");
    payload
}

fn add_by_cli(sandbox: &Sandbox, name: &str, dir: &Path, description: &str) {
    sandbox
        .run(&["add", name, path_str(dir), "-d", description])
        .ok();
}

/// Closes each server's stdin; each must then exit by itself, cleanly.
fn close_all(servers: impl IntoIterator<Item = Server>) {
    for mut server in servers {
        let status = server.close(Duration::from_secs(30));
        assert!(
            status.is_some_and(|s| s.success()),
            "serve ended with {status:?}"
        );
    }
}

// ---------------------------------------------------------------------
// What must hold afterwards
// ---------------------------------------------------------------------

/// The answer of a `dispatch` for `task`.
fn assert_answer(payload: &Value, task: &str, cached: bool) {
    assert_eq!(payload["success"], true, "{payload}");
    assert_eq!(payload["result"], task, "the answer of another task");
    assert_eq!(payload.get("cached"), cached.then_some(&json!(true)));
}

/// Every state a job of ours may be seen in before it was waited for.
const NOT_FAILED: &[&str] = &["pending", "running", "done"];

/// A job's record: its own task and agent, one of `states`, and once done
/// its own answer (no cross-talk between jobs).
fn assert_job(record: &Value, job: &StartedJob, states: &[&str]) {
    assert_eq!(record["id"], job.id, "{record}");
    assert_eq!(record["task"], job.task, "{record}");
    assert_eq!(record["agent"], job.agent, "{record}");
    let status = record["status"].as_str().unwrap_or_default();
    assert!(states.contains(&status), "not {states:?}: {record}");
    if status == "done" {
        assert_eq!(record["result"]["result"], job.task, "{record}");
    }
}

fn wait_job(server: &mut Server, job: &StartedJob) -> Value {
    ok_call(
        server,
        "dispatch_wait",
        json!({"job_id": job.id, "timeout_seconds": WAIT_SECONDS}),
    )
}

/// The stand-in ran exactly once per expected task (prompt), each time in
/// the directory of the agent the task was sent to.
fn assert_runs(fake: &FakeClaude, expected: &HashMap<String, PathBuf>) {
    let runs = fake.invocations();
    let mut seen = HashSet::new();
    for run in &runs {
        let prompt = run.argv.last().expect("a prompt");
        let dir = expected
            .get(prompt)
            .unwrap_or_else(|| panic!("an unexpected claude run: {prompt:?}"));
        assert_eq!(Path::new(&run.cwd), dir, "{prompt:?} ran elsewhere");
        assert!(seen.insert(prompt.clone()), "{prompt:?} ran twice");
    }
    assert_eq!(runs.len(), expected.len(), "claude runs");
}

/// No process of any recorded claude run is alive.
fn assert_no_claude_left(fake: &FakeClaude) {
    for run in fake.invocations() {
        assert!(
            group_gone(run.pgid),
            "claude group {} outlived its server: {:?}",
            run.pgid,
            live_in_group(run.pgid)
        );
    }
}

/// The shared journal holds `expected` records, each one whole JSON line
/// even though many processes appended at once.
fn assert_usage_records(sandbox: &Sandbox, expected: usize) {
    let text = std::fs::read_to_string(usage_log(sandbox)).expect("usage journal");
    for line in text.lines() {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|e| panic!("a torn journal line ({e}): {line}"));
    }
    assert_eq!(text.lines().count(), expected, "journal records");
}

/// The shared registry lists exactly these server pids as live.
fn assert_live_servers(sandbox: &Sandbox, pids: &[u32]) {
    let live: BTreeSet<i64> = registry::live_servers(&servers_dir(sandbox), false)
        .iter()
        .map(|entry| entry.pid)
        .collect();
    let expected: BTreeSet<i64> = pids.iter().map(|&pid| i64::from(pid)).collect();
    assert_eq!(live, expected, "live servers");
}

/// The config parses and holds exactly every kept agent with the
/// description it was last given, and every group: no edit was lost, no
/// removed agent came back. No temp file of a save is left beside it.
fn assert_config(sandbox: &Sandbox, edits: &[&Edits]) {
    let config = store::load(&sandbox.config()).expect("config parses");
    let agents: BTreeMap<&str, &str> = config
        .agents
        .iter()
        .map(|(name, agent)| (name.as_str(), agent.description.as_str()))
        .collect();
    for removed in edits.iter().flat_map(|e| &e.removed) {
        assert!(!agents.contains_key(removed.as_str()), "{removed} is back");
    }
    let expected: BTreeMap<&str, &str> = edits
        .iter()
        .flat_map(|e| &e.kept)
        .map(|(name, description)| (name.as_str(), description.as_str()))
        .collect();
    assert_eq!(agents, expected);
    let groups: BTreeMap<&str, Vec<&str>> = config
        .groups
        .iter()
        .map(|(name, group)| {
            let members = group.members.iter().map(|m| m.agent.as_str()).collect();
            (name.as_str(), members)
        })
        .collect();
    let expected: BTreeMap<&str, Vec<&str>> = edits
        .iter()
        .flat_map(|e| &e.groups)
        .map(|(name, members)| (name.as_str(), members.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(groups, expected);
    // A save writes `agents.yaml.<unique>.tmp` and renames it.
    let leftovers: Vec<String> = file_names(sandbox.config().parent().unwrap())
        .into_iter()
        .filter(|name| name.starts_with("agents.yaml.") && name != "agents.yaml.lock")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn file_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// The jobs directory holds the lock file and one whole record per
/// started job, each in its expected state with its own task and answer;
/// nothing else (no temp file, no stray record).
fn assert_job_files(sandbox: &Sandbox, expected: &[(&StartedJob, &str)]) {
    let dir = jobs_dir(sandbox);
    let mut records = BTreeMap::new();
    for name in file_names(&dir) {
        if name == ".jobs.lock" {
            continue;
        }
        let id = name
            .strip_suffix(".json")
            .filter(|id| is_hex32(id))
            .unwrap_or_else(|| panic!("not a job record: {name}"));
        let bytes = std::fs::read(dir.join(&name)).unwrap();
        let record: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{name} is not whole JSON ({e})"));
        assert_eq!(record["id"], id);
        records.insert(id.to_owned(), record);
    }
    let ids: BTreeSet<&str> = expected.iter().map(|(job, _)| job.id.as_str()).collect();
    assert_eq!(
        records.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        ids
    );
    for (job, status) in expected {
        assert_job(&records[&job.id], job, &[status]);
    }
}

// ---------------------------------------------------------------------
// 1. Five hundred calls in flight on one server
// ---------------------------------------------------------------------

const MAX_CONCURRENCY: i32 = 8;
const AGENTS: [&str; 4] = ["a0", "a1", "a2", "a3"];
const GROUP: &str = "pair";
const GROUP_MEMBERS: [&str; 2] = ["a0", "a1"];
/// A ping goes out after every this many tool calls.
const PING_EVERY: usize = 20;
/// Tool calls in the first wave and in the second.
const FIRST_WAVE: usize = 400;
const SECOND_WAVE: usize = 100;
/// Dispatches of the first wave asked again in the second: cache hits.
const REPEATS: usize = 10;

/// What a tool call's answer must look like.
enum Expect {
    /// `list_agents`: every agent, in config order.
    Agents,
    Agent(&'static str),
    /// `list_groups` (`listed`) or `inspect_group`: the one group.
    Group {
        listed: bool,
    },
    Answer {
        agent: &'static str,
        task: String,
        cached: bool,
    },
    Queued {
        agent: &'static str,
        task: String,
    },
    /// `dispatch_status` or `dispatch_wait`: the job, in one of `states`.
    Job {
        job: StartedJob,
        states: &'static [&'static str],
    },
    Jobs,
    Stats,
}

struct Request {
    id: u64,
    method: &'static str,
    params: Value,
    /// `None` for a ping, whose answer is `{}`.
    expect: Option<Expect>,
}

/// Requests to send in one go, with unique ids.
struct Plan {
    requests: Vec<Request>,
    next_id: u64,
    tool_calls: usize,
}

impl Plan {
    fn starting_at(id: u64) -> Plan {
        Plan {
            requests: Vec::new(),
            next_id: id,
            tool_calls: 0,
        }
    }

    fn push(&mut self, method: &'static str, params: Value, expect: Option<Expect>) {
        self.requests.push(Request {
            id: self.next_id,
            method,
            params,
            expect,
        });
        self.next_id += 1;
    }

    fn tool(&mut self, name: &str, arguments: Value, expect: Expect) {
        self.push(
            "tools/call",
            json!({"name": name, "arguments": arguments}),
            Some(expect),
        );
        self.tool_calls += 1;
        if self.tool_calls.is_multiple_of(PING_EVERY) {
            self.push("ping", json!({}), None);
        }
    }

    fn dispatch(&mut self, agent: &'static str, task: String, cached: bool) {
        self.tool(
            "dispatch",
            json!({"agent": agent, "task": task}),
            Expect::Answer {
                agent,
                task,
                cached,
            },
        );
    }

    /// The `n`th of a cycle over the read-only tools.
    fn read_only(&mut self, n: usize) {
        let agent = AGENTS[n % AGENTS.len()];
        match n % 6 {
            0 => self.tool("list_agents", json!({}), Expect::Agents),
            1 => self.tool(
                "inspect_agent",
                json!({"name": agent}),
                Expect::Agent(agent),
            ),
            2 => self.tool("list_groups", json!({}), Expect::Group { listed: true }),
            3 => self.tool(
                "inspect_group",
                json!({"name": GROUP}),
                Expect::Group { listed: false },
            ),
            4 => self.tool("dispatch_jobs", json!({"limit": 1000}), Expect::Jobs),
            _ => self.tool("cache_stats", json!({}), Expect::Stats),
        }
    }

    /// The planned dispatches: the agent and the task.
    fn dispatches(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.requests
            .iter()
            .filter_map(|r| match r.expect.as_ref()? {
                Expect::Answer { agent, task, .. } => Some((*agent, task.as_str())),
                _ => None,
            })
    }

    /// The dispatches (not cache hits) and async jobs planned: each task
    /// and the agent it goes to.
    fn claude_runs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.requests
            .iter()
            .filter_map(|r| match r.expect.as_ref()? {
                Expect::Answer {
                    agent,
                    task,
                    cached: false,
                }
                | Expect::Queued { agent, task } => Some((*agent, task.as_str())),
                _ => None,
            })
    }
}

/// 400 tool calls: 80 dispatches and 20 async jobs, each with a task of its
/// own (so the cache answers none of them), among 300 read-only calls.
fn first_wave() -> Plan {
    let mut plan = Plan::starting_at(1);
    for n in 0..FIRST_WAVE {
        let agent = AGENTS[n / 5 % AGENTS.len()];
        if n.is_multiple_of(5) {
            plan.dispatch(agent, format!("load dispatch {n:03}"), false);
        } else if n % 20 == 1 {
            let task = format!("load job {n:03}");
            plan.tool(
                "dispatch_async",
                json!({"agent": agent, "task": task}),
                Expect::Queued { agent, task },
            );
        } else {
            plan.read_only(n);
        }
    }
    plan
}

/// 100 tool calls that need the first wave's answers: the status and the
/// wait of every async job, `REPEATS` dispatches asked again (cache hits
/// now), and read-only calls.
fn second_wave(first: &Plan, replies: &HashMap<u64, Value>) -> Plan {
    let mut plan = Plan::starting_at(first.next_id);
    for request in &first.requests {
        if let Some(Expect::Queued { agent, task }) = &request.expect {
            let (payload, _) = tool_payload(&replies[&request.id]);
            let job = StartedJob {
                id: payload["job_id"].as_str().unwrap().to_owned(),
                agent: (*agent).to_owned(),
                task: task.clone(),
            };
            let id = json!({"job_id": job.id});
            plan.tool("dispatch_status", id.clone(), job.expect(NOT_FAILED));
            let wait = json!({"job_id": job.id, "timeout_seconds": WAIT_SECONDS});
            plan.tool("dispatch_wait", wait, job.expect(&["done"]));
        }
    }
    for (agent, task) in first.dispatches().take(REPEATS) {
        plan.dispatch(agent, task.to_owned(), true);
    }
    for n in 0..SECOND_WAVE.saturating_sub(plan.tool_calls) {
        plan.read_only(n);
    }
    plan
}

/// Sends every request without waiting for any answer, then reads until
/// each has its one response and checks it. The client's own reader
/// thread drains the server's stdout all along, so writing everything
/// first cannot stall on a full pipe.
fn exchange(server: &mut Server, plan: &Plan) -> HashMap<u64, Value> {
    for request in &plan.requests {
        server.send(request.id, request.method, request.params.clone());
    }
    let expected: HashSet<u64> = plan.requests.iter().map(|r| r.id).collect();
    let deadline = Instant::now() + HANG;
    let mut replies = HashMap::new();
    while replies.len() < expected.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(message) = server.next(left) else {
            panic!("hung: {} of {} answered", replies.len(), expected.len());
        };
        if message.get("method").is_some() {
            continue;
        }
        let id = message["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("a response without a request id: {message}"));
        assert!(
            expected.contains(&id),
            "a response to no request: {message}"
        );
        assert!(
            replies.insert(id, message).is_none(),
            "two responses to {id}"
        );
    }
    for request in &plan.requests {
        let reply = &replies[&request.id];
        match &request.expect {
            None => assert_eq!(reply["result"], json!({}), "{reply}"),
            Some(expect) => check(expect, reply),
        }
    }
    replies
}

/// The string `key` of every object in the array `list`.
fn field_of_each<'v>(list: &'v Value, key: &str) -> Vec<&'v str> {
    let items = list.as_array().unwrap_or_else(|| panic!("a list: {list}"));
    items
        .iter()
        .map(|item| item[key].as_str().unwrap())
        .collect()
}

fn check(expect: &Expect, reply: &Value) {
    let (payload, is_error) = tool_payload(reply);
    assert!(!is_error, "{payload}");
    match expect {
        Expect::Agents => {
            assert_eq!(field_of_each(&payload, "name"), AGENTS);
        }
        Expect::Agent(name) => assert_eq!(payload["name"], *name, "{payload}"),
        Expect::Group { listed } => {
            let group = if *listed {
                let groups = payload.as_array().expect("a list");
                assert_eq!(groups.len(), 1, "{payload}");
                &groups[0]
            } else {
                &payload
            };
            assert_eq!(group["name"], GROUP, "{payload}");
            assert_eq!(field_of_each(&group["members"], "agent"), GROUP_MEMBERS);
        }
        Expect::Answer { task, cached, .. } => assert_answer(&payload, task, *cached),
        Expect::Queued { agent, .. } => {
            assert_eq!(payload["status"], "pending", "{payload}");
            assert_eq!(payload["agent"], *agent, "{payload}");
            assert!(is_hex32(payload["job_id"].as_str().unwrap()), "{payload}");
        }
        Expect::Job { job, states } => assert_job(&payload, job, states),
        Expect::Jobs => {
            for job in payload.as_array().expect("a list") {
                assert!(is_hex32(job["id"].as_str().unwrap()), "{job}");
                assert!(job["task"].as_str().unwrap().starts_with("load job "));
            }
        }
        Expect::Stats => {
            for key in ["size", "hits", "misses"] {
                assert!(payload[key].is_u64(), "{payload}");
            }
        }
    }
}

/// 500 tool calls (and pings) written to one server without waiting for
/// any answer: every request gets exactly one well-formed answer of its
/// own, claude never runs more often than `max_concurrency` at once nor
/// more often than asked, the cache answers exactly the repeats, and
/// nothing outlives the server.
#[test]
fn five_hundred_concurrent_mixed_calls_on_one_server() {
    let started = Instant::now();
    let sandbox = Sandbox::new();
    for name in AGENTS {
        add_by_cli(&sandbox, name, &sandbox.project(name), name);
    }
    let mut group = vec!["group", "add", GROUP];
    for member in GROUP_MEMBERS {
        group.extend(["--member", member]);
    }
    sandbox.run(&group).ok();
    sandbox.edit_config(
        "max_concurrency: 5",
        &format!("max_concurrency: {MAX_CONCURRENCY}"),
    );
    let fake = FakeClaude::new(&[ECHO]);
    // Logs each run's start and end: the peak number of live claudes.
    let logging = LoggingClaude::around(&fake);
    let mut server = serve(&sandbox, logging.dir.path());

    let first = first_wave();
    let replies = exchange(&mut server, &first);
    let second = second_wave(&first, &replies);
    exchange(&mut server, &second);

    let stats = ok_call(&mut server, "cache_stats", json!({}));
    let fresh = first.dispatches().count();
    assert_eq!(
        [&stats["size"], &stats["hits"], &stats["misses"]],
        [&json!(fresh), &json!(REPEATS), &json!(fresh)]
    );
    let ping = server.request(NEXT_ID.fetch_add(1, Ordering::Relaxed), "ping", json!({}));
    assert_eq!(ping["result"], json!({}));
    assert!(
        server.next(Duration::from_millis(300)).is_none(),
        "a message nobody asked for"
    );
    let runs: HashMap<String, PathBuf> = first
        .claude_runs()
        .map(|(agent, task)| (task.to_owned(), sandbox.project(agent)))
        .collect();
    assert_runs(&fake, &runs);
    let (started_runs, peak) = logging.runs_and_peak();
    assert_eq!(started_runs, runs.len());
    assert!(
        (1..=MAX_CONCURRENCY).contains(&peak),
        "{peak} claudes at once"
    );
    // One record per run and per cache hit.
    assert_usage_records(&sandbox, runs.len() + REPEATS);
    close_all([server]);
    assert_no_claude_left(&fake);
    let tool_calls = first.tool_calls + second.tool_calls;
    let pings = first.requests.len() + second.requests.len() - tool_calls;
    eprintln!(
        "load: {tool_calls} tools/call + {pings} pings in flight on one server; {} claude runs (peak {peak}/{MAX_CONCURRENCY} at once), {REPEATS} cache hits; {:.1}s",
        runs.len(),
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------
// 2 and 3. Ten servers and the CLI on one config and one jobs directory
// ---------------------------------------------------------------------

const SERVERS: usize = 10;
const CLI_WRITERS: usize = 3;

/// What a server's or a CLI writer's edits must leave in the config.
#[derive(Default)]
struct Edits {
    /// Agent name and the description it was last given.
    kept: Vec<(String, String)>,
    removed: Vec<String>,
    /// Group name and its members.
    groups: Vec<(String, Vec<String>)>,
}

#[derive(Clone)]
struct StartedJob {
    id: String,
    agent: String,
    task: String,
}

impl StartedJob {
    fn expect(&self, states: &'static [&'static str]) -> Expect {
        Expect::Job {
            job: self.clone(),
            states,
        }
    }
}

/// What one server's calls did, besides its edits: the async jobs it
/// started (all to `job_agent`, whose project is `dir`) and every claude
/// run it caused (task → the agent's directory).
struct Work {
    edits: Edits,
    job_agent: String,
    dir: PathBuf,
    jobs: Vec<StartedJob>,
    runs: Vec<(String, PathBuf)>,
}

/// A server that did its work and is still running (for later checks).
struct Worked {
    server: Server,
    work: Work,
}

impl Worked {
    /// Starts one more long job, recorded with the others.
    fn start_long_job(&mut self) -> StartedJob {
        let work = &mut self.work;
        let task = format!("[fake:sleep] {} late job", work.job_agent);
        let job = start_job(&mut self.server, &work.job_agent, &task);
        work.runs.push((task, work.dir.clone()));
        work.jobs.push(job.clone());
        job
    }
}

/// The agent every server and writer finds when it starts.
fn seed(sandbox: &Sandbox) -> Edits {
    add_by_cli(sandbox, "base", &sandbox.project("base"), "seed");
    Edits {
        kept: vec![("base".to_owned(), "seed".to_owned())],
        ..Edits::default()
    }
}

fn start_job(server: &mut Server, agent: &str, task: &str) -> StartedJob {
    let payload = ok_call(
        server,
        "dispatch_async",
        json!({"agent": agent, "task": task}),
    );
    StartedJob {
        id: payload["job_id"].as_str().unwrap().to_owned(),
        agent: agent.to_owned(),
        task: task.to_owned(),
    }
}

fn listed_names(payload: &Value, key: &str) -> HashSet<String> {
    let list = payload.as_array().expect("a list");
    list.iter()
        .map(|entry| entry[key].as_str().unwrap().to_owned())
        .collect()
}

/// Server `s`: adds four agents of its own, updates one, removes two,
/// starts three async jobs (one long, still running meanwhile), asks two
/// questions, reads its jobs and waits for the short ones, lists jobs and
/// agents.
fn server_workload(sandbox: &Sandbox, claude_dir: &Path, s: usize) -> Worked {
    let dir = sandbox.project(&format!("s{s}"));
    let mut server = serve(sandbox, claude_dir);
    let agent = |k: usize| format!("s{s}-a{k}");
    let added = format!("added by s{s}");
    for k in 0..4 {
        let arguments =
            json!({"name": agent(k), "directory": path_str(&dir), "description": added});
        assert_eq!(
            ok_call(&mut server, "add_agent", arguments)["added"],
            agent(k)
        );
    }
    let updated = format!("updated by s{s}");
    let payload = ok_call(
        &mut server,
        "update_agent",
        json!({"name": agent(1), "description": updated}),
    );
    assert_eq!(
        payload,
        json!({"updated": agent(1), "fields": ["description"]})
    );
    for k in [2, 3] {
        let payload = ok_call(&mut server, "remove_agent", json!({"name": agent(k)}));
        assert_eq!(payload, json!({"removed": agent(k)}));
    }
    let job_tasks = [
        format!("[fake:sleep] s{s} long job"),
        format!("s{s} job 1"),
        format!("s{s} job 2"),
    ];
    let jobs: Vec<StartedJob> = job_tasks
        .iter()
        .map(|task| start_job(&mut server, &agent(1), task))
        .collect();
    let questions = [format!("s{s} question 0"), format!("s{s} question 1")];
    for task in &questions {
        let payload = ok_call(
            &mut server,
            "dispatch",
            json!({"agent": agent(0), "task": task}),
        );
        assert_answer(&payload, task, false);
    }
    for job in &jobs {
        let record = ok_call(&mut server, "dispatch_status", json!({"job_id": job.id}));
        assert_job(&record, job, NOT_FAILED);
    }
    for job in &jobs[1..] {
        assert_job(&wait_job(&mut server, job), job, &["done"]);
    }
    let listed = ok_call(&mut server, "dispatch_jobs", json!({"limit": 1000}));
    let listed = listed_names(&listed, "id");
    assert!(
        jobs.iter().all(|job| listed.contains(&job.id)),
        "{listed:?}"
    );
    let agents = listed_names(&ok_call(&mut server, "list_agents", json!({})), "name");
    assert!(agents.contains(&agent(0)) && agents.contains(&agent(1)));
    assert!(!agents.contains(&agent(2)) && !agents.contains(&agent(3)));
    let runs = job_tasks
        .iter()
        .chain(&questions)
        .map(|task| (task.clone(), dir.clone()))
        .collect();
    Worked {
        server,
        work: Work {
            edits: Edits {
                kept: vec![(agent(0), added), (agent(1), updated)],
                removed: vec![agent(2), agent(3)],
                groups: Vec::new(),
            },
            job_agent: agent(1),
            dir,
            jobs,
            runs,
        },
    }
}

/// CLI writer `c`: adds four agents, updates one, removes one, and adds a
/// group, each a separate `agent-dispatch` process.
fn cli_workload(sandbox: &Sandbox, c: usize) -> Edits {
    let dir = sandbox.project(&format!("c{c}"));
    let agent = |k: usize| format!("c{c}-a{k}");
    let added = format!("added by c{c}");
    for k in 0..4 {
        add_by_cli(sandbox, &agent(k), &dir, &added);
    }
    let updated = format!("updated by c{c}");
    sandbox.run(&["update", &agent(1), "-d", &updated]).ok();
    sandbox.run(&["remove", &agent(2)]).ok();
    let group = format!("c{c}-g");
    sandbox
        .run(&["group", "add", &group, "--member", &agent(0)])
        .ok();
    Edits {
        kept: vec![
            (agent(0), added.clone()),
            (agent(1), updated),
            (agent(3), added),
        ],
        removed: vec![agent(2)],
        groups: vec![(group, vec![agent(0)])],
    }
}

fn spawn_servers(
    sandbox: &Arc<Sandbox>,
    claude_dir: &Path,
    which: Range<usize>,
) -> Vec<JoinHandle<Worked>> {
    which
        .map(|s| {
            let (sandbox, claude_dir) = (Arc::clone(sandbox), claude_dir.to_path_buf());
            thread::spawn(move || server_workload(&sandbox, &claude_dir, s))
        })
        .collect()
}

fn spawn_cli_writers(sandbox: &Arc<Sandbox>) -> Vec<JoinHandle<Edits>> {
    (0..CLI_WRITERS)
        .map(|c| {
            let sandbox = Arc::clone(sandbox);
            thread::spawn(move || cli_workload(&sandbox, c))
        })
        .collect()
}

/// Joins every thread, re-raising a thread's own panic; a thread still
/// running at `deadline` is a deadlock.
fn join_all<T>(handles: Vec<JoinHandle<T>>, deadline: Instant) -> Vec<T> {
    while handles.iter().any(|handle| !handle.is_finished()) {
        assert!(Instant::now() < deadline, "hung: a thread never finished");
        thread::sleep(Duration::from_millis(20));
    }
    handles
        .into_iter()
        .map(|handle| {
            handle
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
        .collect()
}

/// Each server waits for a fresh long job of the previous one, then reads
/// all of its jobs: the job store is shared, and a job another process
/// owns, still running, is followed through its file until it ends.
fn read_each_others_jobs(worked: &mut [Worked]) {
    let late: Vec<StartedJob> = worked.iter_mut().map(Worked::start_long_job).collect();
    let next = |s: usize| (s + 1) % late.len();
    for (s, job) in late.iter().enumerate() {
        let reader = &mut worked[next(s)].server;
        let record = ok_call(reader, "dispatch_status", json!({"job_id": job.id}));
        assert_job(&record, job, NOT_FAILED);
        assert_job(&wait_job(reader, job), job, &["done"]);
    }
    for s in 0..worked.len() {
        let jobs = worked[s].work.jobs.clone();
        let reader = &mut worked[next(s)].server;
        for job in &jobs {
            let record = ok_call(reader, "dispatch_status", json!({"job_id": job.id}));
            assert_job(&record, job, &["done"]);
        }
    }
}

fn pids(worked: &[Worked]) -> Vec<u32> {
    worked.iter().map(|w| w.server.child.id()).collect()
}

fn split(worked: Vec<Worked>) -> (Vec<Server>, Vec<Work>) {
    worked.into_iter().map(|w| (w.server, w.work)).unzip()
}

/// Servers `which` (each in its own thread) and the CLI writers, all at
/// once, with `meanwhile` run while they work. Once every thread is done,
/// the registry lists exactly these servers and each server reads the
/// next one's jobs.
fn run_fleet(
    sandbox: &Arc<Sandbox>,
    fake: &FakeClaude,
    which: Range<usize>,
    meanwhile: impl FnOnce(),
) -> (Vec<Worked>, Vec<Edits>) {
    let deadline = Instant::now() + HANG;
    let servers = spawn_servers(sandbox, fake.dir.path(), which);
    let writers = spawn_cli_writers(sandbox);
    meanwhile();
    let mut worked = join_all(servers, deadline);
    let cli = join_all(writers, deadline);
    assert_live_servers(sandbox, &pids(&worked));
    read_each_others_jobs(&mut worked);
    (worked, cli)
}

/// What the shared state must hold once every server has exited.
struct Expected<'a> {
    edits: Vec<&'a Edits>,
    jobs: Vec<(&'a StartedJob, &'static str)>,
    runs: HashMap<String, PathBuf>,
}

impl<'a> Expected<'a> {
    /// The seed, every server's and writer's edits, every server's jobs
    /// done, and every claude run the servers caused.
    fn of(seed: &'a Edits, work: &'a [Work], cli: &'a [Edits]) -> Expected<'a> {
        let servers = work.iter().map(|w| &w.edits);
        Expected {
            edits: [seed].into_iter().chain(servers).chain(cli).collect(),
            jobs: work
                .iter()
                .flat_map(|w| w.jobs.iter().map(|job| (job, "done")))
                .collect(),
            runs: work.iter().flat_map(|w| w.runs.iter().cloned()).collect(),
        }
    }

    fn summary(&self) -> String {
        let count = |of: fn(&Edits) -> usize| self.edits.iter().map(|e| of(e)).sum::<usize>();
        format!(
            "{} agents kept, {} removed, {} jobs, {} claude runs",
            count(|e| e.kept.len()),
            count(|e| e.removed.len()),
            self.jobs.len(),
            self.runs.len()
        )
    }
}

/// The config, the jobs directory, the journal, the registry and the
/// stand-in's runs are exactly what the work says, and no claude is left.
fn assert_aftermath(sandbox: &Sandbox, fake: &FakeClaude, expected: &Expected) {
    assert_live_servers(sandbox, &[]);
    assert_config(sandbox, &expected.edits);
    assert_job_files(sandbox, &expected.jobs);
    assert_runs(fake, &expected.runs);
    assert_usage_records(sandbox, expected.runs.len());
    assert_no_claude_left(fake);
}

/// Ten servers and three CLI writers edit one config and share one jobs
/// directory, journal and registry at once: no edit is lost or undone,
/// every job record is whole and answers its own task, any server can
/// read any job, and nothing is left running.
#[test]
fn ten_servers_share_config_and_jobs_with_cli_edits() {
    let started = Instant::now();
    let sandbox = Arc::new(Sandbox::new());
    let seeded = seed(&sandbox);
    let fake = FakeClaude::new(&[ECHO, LONG_JOB]);
    let (worked, cli) = run_fleet(&sandbox, &fake, 0..SERVERS, || {});
    let (servers, work) = split(worked);
    close_all(servers);
    let expected = Expected::of(&seeded, &work, &cli);
    assert_aftermath(&sandbox, &fake, &expected);
    eprintln!(
        "load: {SERVERS} servers + {CLI_WRITERS} CLI writers on one config: {}; {:.1}s",
        expected.summary(),
        started.elapsed().as_secs_f64()
    );
}

/// The server to be killed: adds an agent, then starts a job that is
/// running when this returns.
fn start_victim(sandbox: &Sandbox, fake: &FakeClaude) -> (Server, StartedJob, Edits) {
    let dir = sandbox.project("victim");
    let mut server = serve(sandbox, fake.dir.path());
    let arguments = json!({"name": "victim", "directory": path_str(&dir), "description": "doomed"});
    ok_call(&mut server, "add_agent", arguments);
    let job = start_job(&mut server, "victim", "[fake:sleep] victim job");
    wait_until("the victim's job to run", HANG, || {
        job_file(sandbox, &job.id)["status"] == "running" && !fake.invocations().is_empty()
    });
    let edits = Edits {
        kept: vec![("victim".to_owned(), "doomed".to_owned())],
        ..Edits::default()
    };
    (server, job, edits)
}

fn job_file(sandbox: &Sandbox, id: &str) -> Value {
    job_record(&jobs_dir(sandbox), id)
}

/// The job of a SIGKILLed server, as a live `witness` sees it: still
/// `running` and not its to cancel, even after the job's claude was killed
/// with its server; then failed by the stale recovery of a server started
/// once the record looks an hour old. Returns that server.
fn recover_orphaned_job(
    sandbox: &Sandbox,
    witness: &mut Server,
    job: &StartedJob,
    job_claude: &FakeClaude,
    claude_dir: &Path,
) -> Server {
    let record = ok_call(witness, "dispatch_status", json!({"job_id": job.id}));
    assert_eq!(record["status"], "running", "{record}");
    let reply = ok_call(witness, "dispatch_cancel", json!({"job_id": job.id}));
    assert_eq!(reply["outcome"], "running", "{reply}");
    let pgid = job_claude.invocations()[0].pgid;
    wait_until(
        "the orphaned claude to be killed with its server",
        HANG,
        || live_in_group(pgid).is_empty(),
    );
    assert_eq!(job_file(sandbox, &job.id)["status"], "running");
    age_job_record(&jobs_dir(sandbox), &job.id);
    let recovering = serve(sandbox, claude_dir);
    wait_until("stale recovery", HANG, || {
        job_file(sandbox, &job.id)["status"] == "failed"
    });
    let record = ok_call(witness, "dispatch_status", json!({"job_id": job.id}));
    let error = record["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("Abandoned in 'running'"), "{record}");
    recovering
}

/// One of ten servers is SIGKILLed while its async job runs: the others
/// and the CLI writers carry on unharmed, and the job keeps its documented
/// fate: a readable record left `running` (nobody may kill or finish
/// another server's job), failed by stale recovery once it looks an hour
/// old at the next server start. Its claude dies with its server (the
/// kernel's parent-death signal), though it would otherwise run for ages.
#[test]
fn a_server_sigkilled_mid_job_among_ten_leaves_its_job_to_stale_recovery() {
    let started = Instant::now();
    let sandbox = Arc::new(Sandbox::new());
    let seeded = seed(&sandbox);
    let fake = FakeClaude::new(&[ECHO, LONG_JOB]);
    // The victim's claude would sleep far longer than the test waits: only
    // the parent-death signal set at spawn can end it in time.
    let victim_fake = FakeClaude::new(&[ECHO, ("FAKE_CLAUDE_SLEEP", "3600")]);
    let (mut victim, victim_job, victim_edits) = start_victim(&sandbox, &victim_fake);
    let (mut worked, cli) = run_fleet(&sandbox, &fake, 1..SERVERS, || {
        // Killed mid-flight: once another server's claude has run.
        wait_until("another server's dispatch", HANG, || {
            !fake.invocations().is_empty()
        });
        victim.child.kill().unwrap();
        victim.child.wait().unwrap();
    });

    let recovering = recover_orphaned_job(
        &sandbox,
        &mut worked[0].server,
        &victim_job,
        &victim_fake,
        fake.dir.path(),
    );

    let (mut servers, work) = split(worked);
    servers.push(recovering);
    close_all(servers);
    let mut expected = Expected::of(&seeded, &work, &cli);
    expected.edits.push(&victim_edits);
    expected.jobs.push((&victim_job, "failed"));
    // The victim's run is not journaled: its server died first.
    assert_aftermath(&sandbox, &fake, &expected);
    let victim_run = (victim_job.task.clone(), sandbox.project("victim"));
    assert_runs(&victim_fake, &HashMap::from([victim_run]));
    assert_no_claude_left(&victim_fake);
    eprintln!(
        "load: 1 of {SERVERS} servers SIGKILLed mid-job among {CLI_WRITERS} CLI writers: {}; its job recovered as failed; {:.1}s",
        expected.summary(),
        started.elapsed().as_secs_f64()
    );
}
