//! A hostile client against one real `agent-dispatch serve`: 10,000 lines of
//! malformed, adversarial and randomly mutated JSON-RPC, each checked against
//! what the protocol says it must produce (one answer carrying its id, one
//! error with id null, or nothing), then a final ping, a bound on the
//! server's peak memory, and a clean exit on stdin EOF.
//!
//! The lines come in phases. A lockstep phase sends one line at a time and
//! waits for its outcome, so an error with id null is pinned to the line
//! that caused it (a line that must get no answer is followed by a sentinel
//! ping). A flood phase writes thousands of lines at once from a writer
//! thread while this thread reads, matching answers by id and errors with
//! id null by count per code.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

#[path = "support/fake.rs"]
mod fake;
mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use agent_dispatch::mcp::jsonrpc::{MAX_LINE_BYTES, MAX_LINE_VALUES};
use fake::FakeClaude;
use serde_json::{Map, Value, json};
use support::Sandbox;

/// Hostile lines sent, not counting sentinel pings and the final ping.
const TOTAL_LINES: usize = 10_000;
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;
/// Hang detectors, not speed assertions: a step (one lockstep line, or a
/// whole flood) and the exit after stdin EOF normally take well under a
/// second.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Once a problem is recorded, what is still owed is likely never coming:
/// a quiet spell this long ends the wait instead of the hang timeout.
const QUIET_AFTER_A_PROBLEM: Duration = Duration::from_secs(2);
/// Far past serde_json's recursion limit (128).
const NEST_DEPTH: usize = 20_000;
/// Peak RSS allowed, in bytes: see `memory_bound`.
const MEMORY_CEILING: u64 = 256 * 1024 * 1024;

// JSON-RPC's error codes, spelled out here rather than taken from the
// server so that the test states the protocol independently.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const UNPARSEABLE: &[i64] = &[PARSE_ERROR];
const INVALID: &[i64] = &[INVALID_REQUEST];
/// A line too deep for the parser may also be over the value bound, which
/// is checked first: refused either way, with id null.
const TOO_DEEP: &[i64] = &[PARSE_ERROR, INVALID_REQUEST];

#[test]
fn ten_thousand_hostile_lines_are_each_answered_per_the_protocol() {
    let started = Instant::now();
    let sandbox = sandbox_with_agents();
    let fake = FakeClaude::new(&[]);
    let mut serve = Serve::start(&sandbox, &fake);
    let tools = serve.handshake();
    let phases = plan(&tools, &mut Rng(SEED));
    let sent: usize = phases.iter().map(|phase| phase.probes.len()).sum();
    assert_eq!(sent, TOTAL_LINES, "the plan must add up");
    let tallies: Vec<String> = phases.iter().map(Phase::tally).collect();

    let (lines, checks) = into_steps(phases);
    let sentinels = lines.iter().flatten().count() - TOTAL_LINES - 1;
    let (ack, acks) = mpsc::channel();
    let writer = spawn_writer(serve.stdin.take().expect("stdin"), lines, acks);
    let mut ledger = Ledger::default();
    let mut peaks = Vec::new();
    for (phase, steps) in checks {
        let last = steps.len() - 1;
        for (n, step) in steps.into_iter().enumerate() {
            ledger.owe(step);
            if let Err(owed) = ledger.settle(&serve.responses, STEP_TIMEOUT) {
                panic!(
                    "phase {phase}: gave up waiting (server alive: {}); still owed: {owed}\nproblems so far: {:#?}\nserver log: {}",
                    serve.alive(),
                    ledger.problems,
                    serve.log_tail()
                );
            }
            // Measured before the last ack: the writer closes stdin after
            // it, and the server exits.
            if n == last {
                assert!(serve.alive(), "the server died during phase {phase}");
                peaks.push((phase, serve.status("VmHWM") * 1024, serve.status("Threads")));
            }
            // The writer is gone only if it failed; its join says why.
            let _ = ack.send(());
        }
    }
    writer
        .join()
        .expect("writer thread")
        .expect("every line written");
    ledger.expect_no_more(&serve.responses);
    let status = serve.wait_exit();

    let peak = peaks.iter().map(|(_, bytes, _)| *bytes).max().unwrap_or(0);
    eprintln!(
        "mcp_hostile: {TOTAL_LINES} hostile lines (+{sentinels} sentinel pings, 1 final ping) in {:.1?}",
        started.elapsed()
    );
    for tally in &tallies {
        eprintln!("  {tally}");
    }
    eprintln!("  {}", ledger.tally());
    eprintln!("  stand-in claude runs: {}", fake.invocations().len());
    for (phase, bytes, threads) in &peaks {
        eprintln!(
            "  after {phase}: peak RSS {} KiB, {threads} threads",
            bytes / 1024
        );
    }
    eprintln!("  memory bound: {} KiB", memory_bound() / 1024);
    assert!(
        ledger.problems.is_empty(),
        "{} problems, the first ones: {:#?}\nserver log: {}",
        ledger.problems.len(),
        &ledger.problems[..ledger.problems.len().min(40)],
        serve.log_tail()
    );
    assert_eq!(
        status,
        Some(true),
        "serve did not exit cleanly on stdin EOF"
    );
    assert!(
        peak <= memory_bound(),
        "peak RSS {} KiB is over the bound of {} KiB",
        peak / 1024,
        memory_bound() / 1024
    );
}

/// The most memory the server may hold, in bytes. Two things grow it. One
/// line: at most `MAX_LINE_BYTES` in the reader's buffer (whose doubling
/// can reach twice that), its parsed value, and the copies an answer that
/// echoes it makes (measured: +18 MiB for the 4 MiB lines, about 4.5 line
/// sizes; allowed: 8). And the worker threads a burst of tool calls starts:
/// measured ~190 KiB each in a debug build, 170-220 of them after the
/// flood; the pool stops at 512 (~100 MiB). Measured peak: 64-70 MiB; the
/// bound at 4 MiB lines is 128 + 32 = 160 MiB, over twice that.
fn memory_bound() -> u64 {
    const IDLE_AND_WORKERS: u64 = 128 * 1024 * 1024;
    (IDLE_AND_WORKERS + 8 * MAX_LINE_BYTES as u64).min(MEMORY_CEILING)
}

// ---------------------------------------------------------------------------
// The plan: every line with what it must produce.

/// What one line must produce.
#[derive(Debug, Clone)]
enum Expect {
    /// Exactly one response carrying this id, judged by `Accept`.
    Reply(Value, Accept),
    /// Exactly one error with id null and one of these codes.
    NullError(&'static [i64]),
    /// Nothing at all.
    Silence,
}

/// What a response to a request with a usable id may be.
#[derive(Debug, Clone)]
enum Accept {
    /// A `result` (ping, tools/list).
    Result,
    /// A JSON-RPC error with this code.
    Error(i64),
    /// -32602 whose message names this argument.
    BadArgument(String),
    /// -32602, or a tool result with `isError` and an `"error"` field.
    Refusal,
    /// -32602 or any well-formed tool result: the call may succeed.
    Answer,
}

struct Probe {
    line: Vec<u8>,
    expect: Expect,
}

impl Probe {
    fn new(line: impl Into<Vec<u8>>, expect: Expect) -> Probe {
        Probe {
            line: line.into(),
            expect,
        }
    }
}

struct Phase {
    name: &'static str,
    /// One line at a time (else: all at once).
    lockstep: bool,
    probes: Vec<Probe>,
}

impl Phase {
    /// "name  N lines: a answered by id, b id-null error [codes], c unanswered".
    fn tally(&self) -> String {
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for probe in &self.probes {
            let kind = match &probe.expect {
                Expect::Reply(..) => "answered by id".to_owned(),
                Expect::NullError(codes) => format!("id-null error {codes:?}"),
                Expect::Silence => "unanswered".to_owned(),
            };
            *kinds.entry(kind).or_default() += 1;
        }
        let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        format!(
            "{:<9} {:>5} lines: {}",
            self.name,
            self.probes.len(),
            kinds.join(", ")
        )
    }
}

fn plan(tools: &[Value], rng: &mut Rng) -> Vec<Phase> {
    let lockstep = |name, probes| Phase {
        name,
        lockstep: true,
        probes,
    };
    let mut phases = vec![
        lockstep("ids", id_probes()),
        lockstep("shapes", shape_probes()),
        lockstep("encoding", encoding_probes()),
        lockstep("nesting", nesting_probes()),
        lockstep("huge", huge_probes()),
    ];
    let mut ids = Ids::default();
    let schema = schema_probes(tools, &mut ids);
    let so_far: usize = phases.iter().map(|p| p.probes.len()).sum::<usize>() + schema.len();
    let mutations = mutation_probes(rng, TOTAL_LINES - so_far, &mut ids);
    for (name, probes) in [("schema", schema), ("mutations", mutations)] {
        phases.push(Phase {
            name,
            lockstep: false,
            probes,
        });
    }
    phases
}

/// A line and the check of its outcome.
struct Check {
    preview: String,
    expect: Expect,
}

type Step = Vec<Check>;
/// What the writer sends: each step's lines.
type Lines = Vec<Vec<Vec<u8>>>;
/// What the reader checks: each phase's name and steps.
type Checks = Vec<(&'static str, Vec<Step>)>;

/// Splits the phases into what the writer sends (lines, step by step) and
/// what the reader checks (per phase, step by step). A lockstep phase has a
/// step per line, and a line that must stay unanswered is followed by a
/// sentinel ping: its answer shows that the line was handled. A flood is one
/// step. A final ping ends the run.
fn into_steps(phases: Vec<Phase>) -> (Lines, Checks) {
    let mut lines = Vec::new();
    let mut checks = Vec::new();
    let mut sentinels = 0;
    for phase in phases {
        let mut steps = Vec::new();
        let groups: Vec<Vec<Probe>> = if phase.lockstep {
            phase.probes.into_iter().map(|probe| vec![probe]).collect()
        } else {
            vec![phase.probes]
        };
        for group in groups {
            let mut step_lines = Vec::new();
            let mut step = Vec::new();
            for probe in group {
                let silent = matches!(probe.expect, Expect::Silence);
                step.push(Check {
                    preview: preview(&probe.line),
                    expect: probe.expect,
                });
                step_lines.push(probe.line);
                if silent && phase.lockstep {
                    sentinels += 1;
                    let id = json!(format!("sentinel-{sentinels}"));
                    step_lines.push(ping(&id));
                    step.push(Check {
                        preview: format!("sentinel ping {id}"),
                        expect: Expect::Reply(id, Accept::Result),
                    });
                }
            }
            lines.push(step_lines);
            steps.push(step);
        }
        checks.push((phase.name, steps));
    }
    let id = json!("final-ping");
    lines.push(vec![ping(&id)]);
    checks.push((
        "final ping",
        vec![vec![Check {
            preview: "final ping".to_owned(),
            expect: Expect::Reply(id, Accept::Result),
        }]],
    ));
    (lines, checks)
}

fn ping(id: &Value) -> Vec<u8> {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#).into_bytes()
}

fn request(id: &Value, method: &str, params: &str) -> Vec<u8> {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":{},"params":{params}}}"#,
        json!(method)
    )
    .into_bytes()
}

fn tool_call(id: &Value, tool: &str, arguments: &str) -> Vec<u8> {
    let params = format!(r#"{{"name":{},"arguments":{arguments}}}"#, json!(tool));
    request(id, "tools/call", &params)
}

/// Every JSON type as an id, in requests that must be answered (ping, an
/// unknown method, an unknown tool), in one that is invalid for another
/// reason (`jsonrpc` "1.0"), in an unparseable line and in a client
/// response. Only a string or an integer is echoed; any other id gets null.
fn id_probes() -> Vec<Probe> {
    let megabyte = json!("i".repeat(1 << 20)).to_string();
    let ids: Vec<(&str, bool)> = vec![
        (r#""""#, true),
        (r#""a""#, true),
        (r#""ünï\u0000\n""#, true),
        (&megabyte, true),
        ("0", true),
        ("1", true),
        ("-1", true),
        ("9223372036854775807", true),
        ("-9223372036854775808", true),
        ("18446744073709551615", true),
        // Not integers once parsed: too big for 64 bits, or written as a
        // fraction or an exponent (even when whole), and -0, which
        // serde_json reads as the float -0.0.
        ("18446744073709551616", false),
        ("1.5", false),
        ("1.0", false),
        ("1e2", false),
        ("1e308", false),
        ("-0", false),
        ("null", false),
        ("true", false),
        ("false", false),
        ("[]", false),
        ("[1]", false),
        ("{}", false),
        (r#"{"id":1}"#, false),
    ];
    let mut probes = Vec::new();
    for (raw, usable) in ids {
        let id: Value = serde_json::from_str(raw).expect("ids are JSON");
        let answer = |accept| {
            if usable {
                Expect::Reply(id.clone(), accept)
            } else {
                Expect::NullError(INVALID)
            }
        };
        let line = |body: &str| format!(r#"{{"jsonrpc":"2.0","id":{raw},{body}}}"#);
        probes.extend([
            Probe::new(line(r#""method":"ping""#), answer(Accept::Result)),
            Probe::new(
                line(r#""method":"no/such/method""#),
                answer(Accept::Error(METHOD_NOT_FOUND)),
            ),
            Probe::new(
                line(r#""method":"tools/call","params":{"name":"no_such_tool"}"#),
                answer(Accept::Error(INVALID_PARAMS)),
            ),
            Probe::new(
                format!(r#"{{"jsonrpc":"1.0","id":{raw},"method":"ping"}}"#),
                answer(Accept::Error(INVALID_REQUEST)),
            ),
            Probe::new(
                format!(r#"{{"jsonrpc":"2.0","id":{raw},"method":"ping""#),
                Expect::NullError(UNPARSEABLE),
            ),
            Probe::new(line(r#""result":{}"#), Expect::Silence),
        ]);
    }
    probes
}

/// Wrong JSON-RPC shapes, notifications and client responses (never
/// answered), batches (refused: this session negotiated 2025-06-18), and
/// malformed `tools/call` params.
fn shape_probes() -> Vec<Probe> {
    let id = json!(7);
    let answer = |accept| Expect::Reply(json!(7), accept);
    let mut probes = Vec::new();
    for top in [
        "42",
        r#""ping""#,
        r#""""#,
        "null",
        "true",
        "false",
        "-1.5e3",
    ] {
        probes.push(Probe::new(top, Expect::NullError(INVALID)));
    }
    let invalid_with_id = [
        r#"{"id":7,"method":"ping"}"#,
        r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0 ","id":7,"method":"ping"}"#,
        r#"{"jsonrpc":2.0,"id":7,"method":"ping"}"#,
        r#"{"jsonrpc":null,"id":7,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":7}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":5}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":null}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":["ping"]}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":{}}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"ping","params":"x"}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"ping","params":5}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"ping","params":true}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"ping","params":null}"#,
        r#"{"id":7,"result":{}}"#,
    ];
    for line in invalid_with_id {
        probes.push(Probe::new(line, answer(Accept::Error(INVALID_REQUEST))));
    }
    let long_method = "m".repeat(64 * 1024);
    for method in [
        "resources/list",
        "",
        "PING",
        "tools/list/",
        "server/discover",
        "notifications/initialized",
        "pïng\u{0}",
        &long_method,
    ] {
        probes.push(Probe::new(
            request(&id, method, "{}"),
            answer(Accept::Error(METHOD_NOT_FOUND)),
        ));
    }
    probes.push(Probe::new(
        request(&id, "ping", "[1,2]"),
        answer(Accept::Result),
    ));
    // Never answered: client responses and notifications, garbage and all.
    // One of them asks to initialize 2025-03-26 (the batch version): the
    // batches below show it changed nothing.
    for line in [
        r#"{"jsonrpc":"2.0","id":7,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":7,"error":{"code":1,"message":"x"}}"#,
        r#"{"jsonrpc":"2.0","id":null,"result":1}"#,
        r#"{"jsonrpc":"2.0","id":1.5,"error":null}"#,
        r#"{"jsonrpc":"2.0","result":{}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/whatever"}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/whatever","params":{"a":[1,{"b":null}]}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/whatever","params":[1,2]}"#,
        r#"{"jsonrpc":"2.0","method":"ping"}"#,
        r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"dispatch","arguments":5}}"#,
        r#"{"jsonrpc":"2.0","method":"initialize","params":{"protocolVersion":"2025-03-26"}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled"}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":99999}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":{"a":[]}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1}}"#,
    ] {
        probes.push(Probe::new(line, Expect::Silence));
    }
    // Not a valid notification either: answered as an invalid request.
    for line in [
        r#"{"jsonrpc":"2.0","method":"notifications/whatever","params":5}"#,
        r#"{"jsonrpc":"1.0","method":"notifications/whatever"}"#,
        r#"{"method":"notifications/whatever"}"#,
    ] {
        probes.push(Probe::new(line, Expect::NullError(INVALID)));
    }
    for batch in [
        "[]",
        r#"[{"jsonrpc":"2.0","id":7,"method":"ping"}]"#,
        "[1,2]",
        "[[]]",
        r#"[{"jsonrpc":"2.0","id":8,"method":"initialize","params":{"protocolVersion":"2025-03-26"}}]"#,
        r#"[{"jsonrpc":"2.0","id":7,"method":"ping"}]"#,
    ] {
        probes.push(Probe::new(batch, Expect::NullError(INVALID)));
    }
    for params in [
        "{}",
        "[]",
        r#"["list_agents"]"#,
        r#"{"name":5}"#,
        r#"{"name":null}"#,
        r#"{"name":""}"#,
        r#"{"name":"no_such_tool"}"#,
        r#"{"name":"LIST_AGENTS"}"#,
        r#"{"name":"list_agents\u0000"}"#,
        r#"{"name":"list_agents","arguments":"{}"}"#,
    ] {
        probes.push(Probe::new(
            request(&id, "tools/call", params),
            answer(Accept::Error(INVALID_PARAMS)),
        ));
    }
    for params in [
        r#"{"name":"list_agents","arguments":{},"extra":1}"#,
        r#"{"name":"list_agents","_meta":5}"#,
        r#"{"name":"list_agents","_meta":{"progressToken":[1]}}"#,
    ] {
        probes.push(Probe::new(
            request(&id, "tools/call", params),
            answer(Accept::Answer),
        ));
    }
    probes
}

/// Bytes that are not UTF-8 or not JSON, escapes that are JSON text but
/// not Unicode (lone surrogates: serde_json refuses them, so a parse
/// error), NUL, CR, BOM, and lines of only whitespace (never answered).
fn encoding_probes() -> Vec<Probe> {
    let ping_with = |text: &[u8]| {
        [
            br#"{"jsonrpc":"2.0","id":7,"method":"ping","params":{"s":""#.as_slice(),
            text,
            br#""}}"#,
        ]
        .concat()
    };
    let answered = || Expect::Reply(json!(7), Accept::Result);
    let mut probes = Vec::new();
    for bytes in [
        b"\xff".as_slice(),
        b"\xc0\x80",
        b"\0",
        b"\x0b",
        b"\xef\xbb\xbf",
    ] {
        probes.push(Probe::new(bytes, Expect::NullError(UNPARSEABLE)));
    }
    for text in [
        b"\xc0\x80".as_slice(),
        b"\xe2\x82",
        b"\xed\xa0\x80",
        b"\xff\xfe",
        b"a\0b",
        b"tab\tinside",
        br"\ud800",
        br"\udc00x",
        br"\ud800\u0041",
        br"\x41",
    ] {
        probes.push(Probe::new(ping_with(text), Expect::NullError(UNPARSEABLE)));
    }
    for text in [
        br"\ud83d\ude00".as_slice(),
        br"\u0000",
        "é\u{10ffff}".as_bytes(),
    ] {
        probes.push(Probe::new(ping_with(text), answered()));
    }
    let ping = ping(&json!(7));
    let around = |before: &[u8], after: &[u8]| [before, &ping, after].concat();
    probes.extend([
        Probe::new(around(b"", b"\r"), answered()),
        Probe::new(around(b" \t", b" "), answered()),
        Probe::new(around(b"\xef\xbb\xbf", b""), Expect::NullError(UNPARSEABLE)),
        Probe::new(around(b"\0", b""), Expect::NullError(UNPARSEABLE)),
        Probe::new(around(b"", b"\0"), Expect::NullError(UNPARSEABLE)),
        Probe::new(around(b"", &ping), Expect::NullError(UNPARSEABLE)),
        Probe::new(around(b"", b" x"), Expect::NullError(UNPARSEABLE)),
        Probe::new(
            br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"inspect_agent","arguments":{"name":"\u0000"}}}"#,
            Expect::Reply(json!(7), Accept::Refusal),
        ),
    ]);
    for blank in [b"".as_slice(), b"\r", b"   ", b"\t \t", b" \r", b"\x0c"] {
        probes.push(Probe::new(blank, Expect::Silence));
    }
    probes
}

/// Nesting far past the parser's recursion limit, as a whole line and
/// inside params and arguments: refused with id null, never a crash. A
/// shallower nesting the parser accepts is answered normally.
fn nesting_probes() -> Vec<Probe> {
    let arrays = |depth: usize| "[".repeat(depth) + &"]".repeat(depth);
    let objects = |depth: usize| r#"{"a":"#.repeat(depth) + "1" + &"}".repeat(depth);
    let id = json!(7);
    let deep = [
        arrays(NEST_DEPTH).into_bytes(),
        objects(NEST_DEPTH).into_bytes(),
        "[".repeat(NEST_DEPTH).into_bytes(),
        r#"[{"a":"#.repeat(NEST_DEPTH / 2).into_bytes(),
        request(
            &id,
            "ping",
            &format!(r#"{{"deep":{}}}"#, arrays(NEST_DEPTH)),
        ),
        tool_call(
            &id,
            "inspect_agent",
            &format!(r#"{{"name":{}}}"#, objects(NEST_DEPTH)),
        ),
    ];
    let mut probes: Vec<Probe> = deep
        .into_iter()
        .map(|line| Probe::new(line, Expect::NullError(TOO_DEEP)))
        .collect();
    probes.extend([
        Probe::new(
            request(&id, "ping", &format!(r#"{{"deep":{}}}"#, objects(100))),
            Expect::Reply(id.clone(), Accept::Result),
        ),
        Probe::new(
            tool_call(
                &id,
                "inspect_agent",
                &format!(r#"{{"name":{}}}"#, arrays(100)),
            ),
            Expect::Reply(id.clone(), Accept::BadArgument("name".into())),
        ),
    ]);
    probes
}

/// Multi-MB lines around `MAX_LINE_BYTES` and `MAX_LINE_VALUES`: at the
/// byte bound exactly and one byte over, a giant string, giant arrays of
/// numbers under and over the value bound, megabytes of padding inside a
/// valid request, a line of nothing but whitespace, and raw garbage over
/// the bound. Each multi-MB line reaches the server in many pipe-sized
/// pieces with its newline only at the end.
fn huge_probes() -> Vec<Probe> {
    let id = json!(7);
    let answered = |accept| Expect::Reply(json!(7), accept);
    let inspect = |len: usize| {
        let head = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"inspect_agent","arguments":{"name":""#;
        padded(head, r#""}}}"#, b'n', len)
    };
    let dispatch_head = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"dispatch","arguments":{"agent":"api","task":""#;
    // Wide numbers make the array megabytes long while under the bound.
    let wide = "1234567890123456";
    let under = (MAX_LINE_VALUES / 2).min(MAX_LINE_BYTES / (wide.len() + 1) - 1024);
    let numbers = |count: usize, number: &str| format!("[{}]", vec![number; count].join(","));
    let mega = 3 * 1024 * 1024;
    vec![
        // The bound is inclusive: a line of exactly MAX_LINE_BYTES is read.
        Probe::new(inspect(MAX_LINE_BYTES), answered(Accept::Refusal)),
        Probe::new(inspect(MAX_LINE_BYTES + 1), Expect::NullError(INVALID)),
        // Longer than one command-line argument may be: refused, nothing
        // spawned.
        Probe::new(
            padded(dispatch_head, r#""}}}"#, b't', MAX_LINE_BYTES - 1),
            answered(Accept::Refusal),
        ),
        Probe::new(
            padded("\"", "\"", b'x', MAX_LINE_BYTES),
            Expect::NullError(INVALID),
        ),
        Probe::new(
            tool_call(
                &id,
                "list_agents",
                &format!(r#"{{"numbers":{}}}"#, numbers(under, wide)),
            ),
            answered(Accept::BadArgument("numbers".into())),
        ),
        Probe::new(
            numbers(MAX_LINE_VALUES + 1, "0"),
            Expect::NullError(INVALID),
        ),
        Probe::new(
            padded(
                r#"{"jsonrpc":"2.0","id":7,"#,
                r#""method":"ping"}"#,
                b' ',
                mega,
            ),
            answered(Accept::Result),
        ),
        Probe::new(vec![b' '; mega], Expect::Silence),
        Probe::new(
            vec![0xff; MAX_LINE_BYTES + mega],
            Expect::NullError(INVALID),
        ),
    ]
}

/// `head` + `fill` bytes + `tail`, exactly `len` bytes long.
fn padded(head: &str, tail: &str, fill: u8, len: usize) -> Vec<u8> {
    let fill = vec![fill; len - head.len() - tail.len()];
    [head.as_bytes(), &fill, tail.as_bytes()].concat()
}

/// Unique ids for the flood, where answers are matched by id.
#[derive(Default)]
struct Ids {
    next: u64,
    used: HashSet<String>,
}

impl Ids {
    /// An id not handed out before, alternately an integer and a string.
    fn fresh(&mut self) -> Value {
        self.next += 1;
        if self.next.is_multiple_of(2) {
            json!(1_000_000 + self.next)
        } else {
            json!(format!("f{}", self.next))
        }
    }

    /// Reserves `id`; false when a line of the flood already uses it.
    fn claim(&mut self, id: &Value) -> bool {
        self.used.insert(id.to_string())
    }
}

/// Values to try for every parameter, as raw JSON text. Some are not JSON
/// (NaN, Infinity, 1e400, which serde_json refuses as out of range): the
/// whole line is then a parse error.
const HOSTILE_VALUES: &[&str] = &[
    "null",
    "true",
    "false",
    "0",
    "-1",
    "7",
    "-0",
    "1.5",
    "5.0",
    "1e308",
    "-1e308",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    r#""""#,
    r#"" ""#,
    r#"" 42 ""#,
    r#""\t7\n""#,
    r#""-1""#,
    r#""1.5""#,
    r#""1e3""#,
    r#""0x10""#,
    r#""NaN""#,
    r#""Infinity""#,
    r#""1e400""#,
    r#""true""#,
    r#""TRUE""#,
    r#""abc""#,
    r#""a\u0000b""#,
    r#""line\nbreak""#,
    r#""\ud83d\ude00""#,
    "[]",
    "[1,2]",
    "[null]",
    "{}",
    r#"{"a":1}"#,
];

/// For every tool in the live `tools/list` and every parameter in its
/// inputSchema: the hostile values, the call without each required
/// argument, with unknown arguments, and with arguments that are not an
/// object. The required arguments not under test get harmless values that
/// name nothing that exists (no agent, directory, job), so no call starts
/// work: a value the schema refuses must give -32602 naming its argument,
/// and any other value a refusal (or, for a tool with no required argument,
/// any answer).
fn schema_probes(tools: &[Value], ids: &mut Ids) -> Vec<Probe> {
    let long = json!("y".repeat(4096)).to_string();
    let values: Vec<&str> = HOSTILE_VALUES
        .iter()
        .copied()
        .chain([long.as_str()])
        .collect();
    let mut probes = Vec::new();
    for tool in tools {
        let name = tool["name"].as_str().expect("tool name");
        let schema = &tool["inputSchema"];
        let params: Vec<(&str, &str)> = schema["properties"]
            .as_object()
            .map(|props| {
                props
                    .iter()
                    .map(|(key, spec)| (key.as_str(), spec["type"].as_str().unwrap_or("")))
                    .collect()
            })
            .unwrap_or_default();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let base: Map<String, Value> = params
            .iter()
            .filter(|(key, _)| required.contains(key))
            .map(|(key, ty)| (key.to_string(), harmless(key, ty)))
            .collect();
        let fallback = if required.is_empty() {
            Accept::Answer
        } else {
            Accept::Refusal
        };
        let mut push = |arguments: String, accept: Accept| {
            let id = ids.fresh();
            ids.claim(&id);
            let line = tool_call(&id, name, &arguments);
            let expect = match serde_json::from_slice::<Value>(&line) {
                Ok(_) => Expect::Reply(id, accept),
                Err(_) => Expect::NullError(UNPARSEABLE),
            };
            probes.push(Probe::new(line, expect));
        };
        push(Value::Object(base.clone()).to_string(), fallback.clone());
        for raw in ["null", r#""{}""#, "5", "[1]", "true"] {
            let accept = match (raw, required.is_empty()) {
                ("null", true) => Accept::Answer,
                _ => Accept::Error(INVALID_PARAMS),
            };
            push(raw.to_owned(), accept);
        }
        for key in &required {
            let mut without = base.clone();
            without.remove(*key);
            push(
                Value::Object(without).to_string(),
                Accept::BadArgument(key.to_string()),
            );
        }
        let mut unknown = vec![
            "no_such_argument".to_owned(),
            String::new(),
            "\0".to_owned(),
        ];
        unknown.extend(params.first().map(|(key, _)| key.to_uppercase()));
        for key in unknown {
            push(with_member(&base, &key, "1"), Accept::BadArgument(key));
        }
        for (key, ty) in &params {
            for raw in &values {
                let accept = match serde_json::from_str::<Value>(raw) {
                    Ok(value) => match judge_value(&value, ty, required.contains(key)) {
                        Some(false) => Accept::BadArgument(key.to_string()),
                        Some(true) => fallback.clone(),
                        None => Accept::Answer,
                    },
                    // The line will not parse; `push` expects that.
                    Err(_) => Accept::Answer,
                };
                let mut others = base.clone();
                others.remove(*key);
                push(with_member(&others, key, raw), accept);
            }
        }
    }
    probes
}

/// A value for a required argument that passes its type and names nothing
/// that exists.
fn harmless(key: &str, ty: &str) -> Value {
    match ty {
        "integer" | "number" => json!(0),
        "boolean" => json!(false),
        _ => json!(format!("no-such-{key}")),
    }
}

/// `members` as a JSON object with `key: raw` appended (raw JSON text,
/// maybe not valid).
fn with_member(members: &Map<String, Value>, key: &str, raw: &str) -> String {
    let mut text = Value::Object(members.clone()).to_string();
    text.pop();
    if !members.is_empty() {
        text.push(',');
    }
    format!("{text}{}:{raw}}}", json!(key))
}

/// Whether an argument of schema type `ty` accepts `value` under the
/// documented coercion (numeric strings, trimmed, and whole floats for
/// integers; numeric strings for numbers; "true"/"false" for booleans;
/// null as absent), or `None` for a type this test does not know. Whole
/// floats count only when small: the server's exact cut-off near 2^53 is
/// not probed (the values tried are 5.0 and 1e308).
fn judge_value(value: &Value, ty: &str, required: bool) -> Option<bool> {
    Some(match (ty, value) {
        (_, Value::Null) => !required,
        ("string", value) => value.is_string(),
        ("integer", Value::Number(n)) => {
            n.is_i64()
                || n.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.abs() < 1e15)
        }
        ("integer", Value::String(text)) => text.trim().parse::<i64>().is_ok(),
        ("number", Value::Number(_)) => true,
        ("number", Value::String(text)) => text.trim().parse::<f64>().is_ok_and(f64::is_finite),
        ("boolean", Value::Bool(_)) => true,
        ("boolean", Value::String(text)) => text == "true" || text == "false",
        ("integer" | "number" | "boolean", _) => false,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Random mutations of valid lines, judged by an oracle of the protocol.

/// Valid lines to mutate: (method, params). Notifications get no id.
const MUTATION_BASES: &[(&str, &str)] = &[
    ("ping", "{}"),
    ("tools/list", "{}"),
    ("tools/call", r#"{"name":"list_agents","arguments":{}}"#),
    (
        "tools/call",
        r#"{"name":"inspect_agent","arguments":{"name":"api","preview_lines":2}}"#,
    ),
    ("tools/call", r#"{"name":"list_groups"}"#),
    (
        "tools/call",
        r#"{"name":"inspect_group","arguments":{"name":"shop"}}"#,
    ),
    ("tools/call", r#"{"name":"cache_stats","arguments":{}}"#),
    (
        "tools/call",
        r#"{"name":"dispatch_jobs","arguments":{"limit":"3","status":"done"}}"#,
    ),
    (
        "tools/call",
        r#"{"name":"dispatch_status","arguments":{"job_id":"0123456789abcdef0123456789abcdef"}}"#,
    ),
    (
        "tools/call",
        r#"{"name":"fetch_result","arguments":{"ref":"nope","max_chars":10}}"#,
    ),
    (
        "tools/call",
        r#"{"name":"update_agent","arguments":{"name":"no-such-agent","description":"x"}}"#,
    ),
    ("no/such/method", r#"{"a":[1,2]}"#),
    ("notifications/initialized", "{}"),
];
/// A dispatch that runs the stand-in `claude` when a mutation leaves it
/// valid: mutated rarely, so only a few runs start.
const DISPATCH_BASE: (&str, &str) = (
    "tools/call",
    r#"{"name":"dispatch","arguments":{"agent":"api","task":"count rows","caller":"hostile"}}"#,
);
/// Strings for mutated values; some turn a value into another valid one
/// (a method, a tool that only reads, "2.0").
const STRINGS: &[&str] = &[
    "",
    " ",
    " 7 ",
    "2.0",
    "NaN",
    "true",
    "ping",
    "tools/list",
    "tools/call",
    "list_agents",
    "inspect_agent",
    "cache_stats",
    "no/such",
    "notifications/initialized",
    "\0",
    "\n",
    "\r\n",
    "\u{feff}",
    "\u{fffd}",
    "é",
    "\u{10ffff}",
    "\"",
    "\\",
    "[{",
    "x,y",
];
const KEYS: &[&str] = &[
    "id",
    "jsonrpc",
    "method",
    "params",
    "name",
    "arguments",
    "result",
    "error",
    "_meta",
    "",
    "no/such",
    "a~b",
    "\0",
];
/// Bytes spliced into lines.
const SPLICES: &[&[u8]] = &[
    b"\0",
    b"\xff",
    b"\xc0\x80",
    b"\xe2\x82",
    br"\ud800",
    b"\"",
    b",",
    b"{",
    b"]",
    b"\\",
    b"\r",
    b"\xef\xbb\xbf",
    b" ",
    b"\t",
    b"NaN",
];

fn mutation_probes(rng: &mut Rng, count: usize, ids: &mut Ids) -> Vec<Probe> {
    let mut probes = Vec::with_capacity(count);
    while probes.len() < count {
        let (method, params) = if rng.below(50) == 0 {
            DISPATCH_BASE
        } else {
            *rng.pick(MUTATION_BASES)
        };
        let base = if method.starts_with("notifications/") {
            format!(r#"{{"jsonrpc":"2.0","method":"{method}","params":{params}}}"#).into_bytes()
        } else {
            request(&ids.fresh(), method, params)
        };
        let line = mutate(rng, base);
        let Some(expect) = predict(&line) else {
            continue;
        };
        if let Expect::Reply(id, _) = &expect
            && !ids.claim(id)
        {
            continue;
        }
        probes.push(Probe::new(line, expect));
    }
    probes
}

/// What the protocol says `line` must produce in a 2025-06-18 session (no
/// batches), or `None` for a line the flood must not send: a valid
/// `initialize` (it would renegotiate the session) or a cancellation (it
/// would silence another line's call).
fn predict(line: &[u8]) -> Option<Expect> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Some(Expect::Silence);
    }
    let Ok(value) = serde_json::from_slice::<Value>(line) else {
        return Some(Expect::NullError(UNPARSEABLE));
    };
    let Value::Object(message) = value else {
        return Some(Expect::NullError(INVALID));
    };
    let id = message.get("id");
    let usable = id.filter(|id| id.is_string() || id.is_i64() || id.is_u64());
    let invalid = Some(match usable {
        Some(id) => Expect::Reply(id.clone(), Accept::Error(INVALID_REQUEST)),
        None => Expect::NullError(INVALID),
    });
    if message.get("jsonrpc") != Some(&json!("2.0")) {
        return invalid;
    }
    let method = match message.get("method") {
        Some(Value::String(method)) => method.as_str(),
        None if message.contains_key("result") || message.contains_key("error") => {
            return Some(Expect::Silence);
        }
        _ => return invalid,
    };
    if message
        .get("params")
        .is_some_and(|params| !params.is_object() && !params.is_array())
    {
        return invalid;
    }
    match (id, usable) {
        (None, _) => (method != "notifications/cancelled").then_some(Expect::Silence),
        (Some(_), None) => Some(Expect::NullError(INVALID)),
        (Some(_), Some(id)) => {
            let accept = match method {
                "initialize" => return None,
                "ping" | "tools/list" => Accept::Result,
                "tools/call" => Accept::Answer,
                _ => Accept::Error(METHOD_NOT_FOUND),
            };
            Some(Expect::Reply(id.clone(), accept))
        }
    }
}

/// One or two random edits: byte flips, truncations, spliced bytes,
/// duplicated keys, random values in random places, extra members.
fn mutate(rng: &mut Rng, mut line: Vec<u8>) -> Vec<u8> {
    let edits = 1 + usize::from(rng.below(4) == 0);
    for _ in 0..edits {
        line = match rng.below(6) {
            0 => flip_byte(rng, line),
            1 => truncate(rng, line),
            2 => splice(rng, line),
            3 => duplicate_key(rng, line),
            4 => replace_node(rng, line),
            _ => add_member(rng, line),
        };
    }
    line
}

fn flip_byte(rng: &mut Rng, mut line: Vec<u8>) -> Vec<u8> {
    if !line.is_empty() {
        let at = rng.below(line.len());
        // A newline would split the line in two.
        line[at] = match rng.next() as u8 {
            b'\n' => b'\r',
            byte => byte,
        };
    }
    line
}

fn truncate(rng: &mut Rng, mut line: Vec<u8>) -> Vec<u8> {
    line.truncate(rng.below(line.len() + 1));
    line
}

fn splice(rng: &mut Rng, mut line: Vec<u8>) -> Vec<u8> {
    let at = rng.below(line.len() + 1);
    let bytes = *rng.pick(SPLICES);
    line.splice(at..at, bytes.iter().copied());
    line
}

/// A second member with a key the object already has (first or last: the
/// parser keeps the last).
fn duplicate_key(rng: &mut Rng, line: Vec<u8>) -> Vec<u8> {
    let (Some(b'{'), Some(b'}')) = (line.first(), line.last()) else {
        return splice(rng, line);
    };
    let key = *rng.pick(&["id", "jsonrpc", "method", "params"]);
    let member = format!("{}:{}", json!(key), random_value(rng, 0));
    let inner = &line[1..line.len() - 1];
    if rng.below(2) == 0 {
        [b"{", member.as_bytes(), b",", inner, b"}"].concat()
    } else {
        [b"{", inner, b",", member.as_bytes(), b"}"].concat()
    }
}

/// Some value in the line, the whole line included, replaced by a random one.
fn replace_node(rng: &mut Rng, line: Vec<u8>) -> Vec<u8> {
    let Ok(mut value) = serde_json::from_slice::<Value>(&line) else {
        return flip_byte(rng, line);
    };
    let mut paths = Vec::new();
    pointers(&value, String::new(), &mut paths);
    let path = rng.pick(&paths).clone();
    let replacement = random_value(rng, 0);
    *value.pointer_mut(&path).expect("a collected path") = replacement;
    value.to_string().into_bytes()
}

/// A random member added to some object in the line.
fn add_member(rng: &mut Rng, line: Vec<u8>) -> Vec<u8> {
    let Ok(mut value) = serde_json::from_slice::<Value>(&line) else {
        return splice(rng, line);
    };
    let mut paths = Vec::new();
    pointers(&value, String::new(), &mut paths);
    paths.retain(|path| value.pointer(path).is_some_and(Value::is_object));
    if paths.is_empty() {
        return value.to_string().into_bytes();
    }
    let path = rng.pick(&paths).clone();
    let key = rng.pick(KEYS).to_string();
    let member = random_value(rng, 0);
    if let Some(Value::Object(object)) = value.pointer_mut(&path) {
        object.insert(key, member);
    }
    value.to_string().into_bytes()
}

/// JSON Pointers to every value inside `value`.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                pointers(item, format!("{at}/{index}"), out);
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                let key = key.replace('~', "~0").replace('/', "~1");
                pointers(member, format!("{at}/{key}"), out);
            }
        }
        _ => {}
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    // Shallow: the oracle and the server both parse these lines in full.
    let kinds = if depth >= 2 { 5 } else { 7 };
    match rng.below(kinds) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => rng
            .pick(&[
                json!(0),
                json!(-1),
                json!(7),
                json!(i64::MAX),
                json!(i64::MIN),
                json!(u64::MAX),
                json!(1.5),
                json!(5.0),
                json!(-0.0),
                json!(1e308),
            ])
            .clone(),
        3 => json!(rng.next()),
        4 => json!(rng.pick(STRINGS)),
        5 => (0..rng.below(4))
            .map(|_| random_value(rng, depth + 1))
            .collect(),
        _ => {
            let count = rng.below(4);
            let members: Map<String, Value> = (0..count)
                .map(|_| (rng.pick(KEYS).to_string(), random_value(rng, depth + 1)))
                .collect();
            Value::Object(members)
        }
    }
}

// ---------------------------------------------------------------------------
// Judging what comes back.

/// How a `tools/call` was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ToolOutcome {
    InvalidParams,
    IsError,
    Succeeded,
}

/// What the server still owes, and what went wrong so far.
#[derive(Default)]
struct Ledger {
    /// Answers owed, by id as JSON text (so 1 and "1" differ).
    replies: HashMap<String, (String, Accept)>,
    /// Errors with id null owed: the line's preview and the codes allowed.
    nulls: Vec<(String, &'static [i64])>,
    problems: Vec<String>,
    tool_outcomes: BTreeMap<ToolOutcome, usize>,
    progress_notifications: usize,
}

impl Ledger {
    fn owe(&mut self, step: Step) {
        for check in step {
            match check.expect {
                Expect::Reply(id, accept) => {
                    let previous = self.replies.insert(id.to_string(), (check.preview, accept));
                    assert!(previous.is_none(), "test bug: id {id} used twice at once");
                }
                Expect::NullError(codes) => self.nulls.push((check.preview, codes)),
                Expect::Silence => {}
            }
        }
    }

    /// Reads until nothing is owed; on timeout, says what still is.
    fn settle(
        &mut self,
        responses: &Receiver<Result<Value, String>>,
        timeout: Duration,
    ) -> Result<(), String> {
        let known = self.problems.len();
        let deadline = Instant::now() + timeout;
        while !self.replies.is_empty() || !self.nulls.is_empty() {
            let mut left = deadline.saturating_duration_since(Instant::now());
            if self.problems.len() > known {
                left = left.min(QUIET_AFTER_A_PROBLEM);
            }
            match responses.recv_timeout(left) {
                Ok(Ok(message)) => self.receive(&message),
                Ok(Err(problem)) => self.problems.push(problem),
                Err(_) => return Err(self.owed()),
            }
        }
        Ok(())
    }

    fn owed(&self) -> String {
        let replies = self.replies.values().map(|(line, _)| line);
        let nulls = self.nulls.iter().map(|(line, _)| line);
        let owed: Vec<&String> = replies.chain(nulls).take(8).collect();
        format!(
            "{} answers by id and {} id-null errors, e.g. to {owed:#?}",
            self.replies.len(),
            self.nulls.len()
        )
    }

    fn receive(&mut self, message: &Value) {
        if let Some(method) = message.get("method") {
            // Only progress may come unasked (for a dispatch a mutation
            // left valid and gave a token).
            if method == "notifications/progress" {
                self.progress_notifications += 1;
            } else {
                self.problems
                    .push(format!("unexpected server message: {}", brief(message)));
            }
            return;
        }
        if let Some(problem) = envelope_problem(message) {
            self.problems.push(format!(
                "malformed response ({problem}): {}",
                brief(message)
            ));
            return;
        }
        if message["id"].is_null() {
            self.receive_null_error(message);
            return;
        }
        let Some((line, accept)) = self.replies.remove(&message["id"].to_string()) else {
            self.problems.push(format!(
                "a response nothing asked for (or a second one): {}",
                brief(message)
            ));
            return;
        };
        match judge(&accept, message) {
            Ok(Some(outcome)) => *self.tool_outcomes.entry(outcome).or_default() += 1,
            Ok(None) => {}
            Err(why) => self
                .problems
                .push(format!("{line}: {why}; got {}", brief(message))),
        }
    }

    fn receive_null_error(&mut self, message: &Value) {
        let code = message["error"]["code"].as_i64().unwrap_or(0);
        match self
            .nulls
            .iter()
            .position(|(_, codes)| codes.contains(&code))
        {
            Some(at) => {
                self.nulls.remove(at);
            }
            None => self.problems.push(format!(
                "an error with id null no line called for: {}",
                brief(message)
            )),
        }
    }

    /// After stdin is closed: the server may still flush, but owes nothing.
    fn expect_no_more(&mut self, responses: &Receiver<Result<Value, String>>) {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match responses.recv_timeout(left) {
                Ok(Ok(message)) => self.problems.push(format!(
                    "a message after the final ping: {}",
                    brief(&message)
                )),
                Ok(Err(problem)) => self.problems.push(problem),
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.problems
                        .push("stdout stayed open after stdin EOF".to_owned());
                    return;
                }
            }
        }
    }

    fn tally(&self) -> String {
        format!(
            "tools/call answers: {:?}; progress notifications: {}",
            self.tool_outcomes, self.progress_notifications
        )
    }
}

/// Why `message` is not a JSON-RPC 2.0 response, if it is not.
fn envelope_problem(message: &Value) -> Option<&'static str> {
    if message["jsonrpc"] != "2.0" {
        return Some("jsonrpc is not \"2.0\"");
    }
    if message.get("id").is_none() {
        return Some("no id");
    }
    match (message.get("result"), message.get("error")) {
        (Some(_), None) => None,
        (None, Some(error)) if error["code"].is_i64() && error["message"].is_string() => None,
        _ => Some("not exactly one of a result and an error with code and message"),
    }
}

/// Checks a response against what its line allows; for a `tools/call`,
/// also says how it was answered.
fn judge(accept: &Accept, reply: &Value) -> Result<Option<ToolOutcome>, String> {
    let code = reply["error"]["code"].as_i64();
    match accept {
        Accept::Result if reply.get("result").is_some() => Ok(None),
        Accept::Error(want) if code == Some(*want) => Ok(None),
        Accept::BadArgument(name) => {
            let message = reply["error"]["message"].as_str().unwrap_or("");
            if code == Some(INVALID_PARAMS) && message.contains(&format!("'{name}'")) {
                Ok(Some(ToolOutcome::InvalidParams))
            } else {
                Err(format!("expected -32602 naming argument {name:?}"))
            }
        }
        Accept::Refusal => match tool_outcome(reply)? {
            ToolOutcome::Succeeded => Err("expected a refusal; the call succeeded".to_owned()),
            outcome => Ok(Some(outcome)),
        },
        Accept::Answer => tool_outcome(reply).map(Some),
        other => Err(format!("expected {other:?}")),
    }
}

/// How a `tools/call` was answered, or why the answer is malformed: -32602,
/// or `content[0].text` holding JSON and `isError`, true only with an
/// `"error"` field.
fn tool_outcome(reply: &Value) -> Result<ToolOutcome, String> {
    if reply["error"]["code"] == INVALID_PARAMS {
        return Ok(ToolOutcome::InvalidParams);
    }
    let result = reply.get("result").ok_or("neither a result nor -32602")?;
    let text = result["content"][0]["text"]
        .as_str()
        .ok_or("a tool result without text content")?;
    let payload: Value =
        serde_json::from_str(text).map_err(|err| format!("tool text is not JSON ({err})"))?;
    match result["isError"].as_bool() {
        Some(true) if payload["error"].is_string() => Ok(ToolOutcome::IsError),
        Some(true) => Err("isError without an \"error\" field".to_owned()),
        Some(false) => Ok(ToolOutcome::Succeeded),
        None => Err("a tool result without isError".to_owned()),
    }
}

fn brief(message: &Value) -> String {
    preview(message.to_string().as_bytes())
}

/// The start of `bytes`, lossily decoded, with the length when cut.
fn preview(bytes: &[u8]) -> String {
    const SHOWN: usize = 120;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(SHOWN)]);
    if bytes.len() > SHOWN {
        format!("{text:?}… ({} bytes)", bytes.len())
    } else {
        format!("{text:?}")
    }
}

// ---------------------------------------------------------------------------
// The server process, its reader and writer threads.

fn sandbox_with_agents() -> Sandbox {
    let sandbox = Sandbox::new();
    for (name, description) in [
        ("api", "Shop API"),
        ("web", "Shop front"),
        ("docs", "Manuals"),
    ] {
        sandbox.add_agent(name, description);
    }
    sandbox
        .run(&[
            "group", "add", "shop", "-d", "Shop", "--member", "api", "--member", "web",
        ])
        .ok();
    sandbox
}

/// One `serve` process; killed on drop (a failing test leaves nothing).
struct Serve {
    child: Child,
    stdin: Option<ChildStdin>,
    responses: Receiver<Result<Value, String>>,
    log: PathBuf,
}

impl Serve {
    /// Starts `serve` with the stand-in `claude` first on PATH and its
    /// stderr in a file (shown when the test fails).
    fn start(sandbox: &Sandbox, fake: &FakeClaude) -> Serve {
        let log = sandbox.dir.path().join("serve.log");
        let mut child = sandbox
            .command_with_claude(fake.dir.path())
            .current_dir(sandbox.dir.path())
            .arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).expect("log file"))
            .spawn()
            .expect("start serve");
        let responses = spawn_reader(child.stdout.take().expect("stdout"));
        let stdin = child.stdin.take();
        Serve {
            child,
            stdin,
            responses,
            log,
        }
    }

    /// Initializes a 2025-06-18 session and returns `tools/list`'s tools.
    fn handshake(&mut self) -> Vec<Value> {
        let stdin = self.stdin.as_mut().expect("stdin");
        for message in [
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "hostile", "version": "0"}}}),
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            json!({"jsonrpc": "2.0", "id": "tools", "method": "tools/list"}),
        ] {
            writeln!(stdin, "{message}").expect("write to serve");
        }
        let next = || {
            self.responses
                .recv_timeout(STEP_TIMEOUT)
                .expect("an answer to the handshake")
                .expect("a JSON answer")
        };
        let initialized = next();
        assert_eq!(
            initialized["result"]["protocolVersion"], "2025-06-18",
            "{initialized}"
        );
        let listed = next();
        assert_eq!(listed["id"], "tools", "{listed}");
        listed["result"]["tools"]
            .as_array()
            .expect("tools/list has tools")
            .clone()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// A number from the server's /proc status ("VmHWM" in KiB, "Threads").
    fn status(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc status"))
    }

    /// Waits for the exit after stdin EOF; `Some(success)`, or `None` if
    /// the server is still running.
    fn wait_exit(&mut self) -> Option<bool> {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status.success());
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(&log[log.len().saturating_sub(2000)..]).into_owned()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads stdout line by line on a thread; a line that is not JSON arrives
/// as `Err` so the test thread records it.
fn spawn_reader(stdout: ChildStdout) -> Receiver<Result<Value, String>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let parsed = match line.strip_suffix(b"\n") {
                Some(text) => serde_json::from_slice(text)
                    .map_err(|err| format!("stdout line is not JSON ({err}): {}", preview(text))),
                None => Err(format!("stdout ended inside a line: {}", preview(&line))),
            };
            if tx.send(parsed).is_err() {
                break;
            }
        }
    });
    rx
}

/// Writes each step's lines, then waits for the reader's ack before the
/// next step; closes stdin after the last. Writing from its own thread
/// means a full pipe in either direction never deadlocks the test.
fn spawn_writer(stdin: ChildStdin, steps: Lines, acks: Receiver<()>) -> JoinHandle<io::Result<()>> {
    thread::spawn(move || {
        let mut out = BufWriter::new(stdin);
        for lines in steps {
            for line in &lines {
                out.write_all(line)?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
            if acks.recv().is_err() {
                break;
            }
        }
        Ok(())
    })
}

/// xorshift64: a fixed seed makes every run send the same lines.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
