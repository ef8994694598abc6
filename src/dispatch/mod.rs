//! The one dispatch path above the runner, used by every surface that runs
//! an agent — the MCP dispatch tools, the async job worker and CLI `test`:
//! the result cache (when the request may use it), a limiter slot, the run
//! itself (`runner::dispatch`), the offer of a timeout measured from the
//! agent's recent runs, the usage journal, and storing a clean answer. It
//! takes a neutral `Request` and gives back a `DispatchResult`; it knows
//! nothing of MCP or of the CLI.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::cache::{KeyInputs, ResultCache, cache_key};
use crate::limiter::Limiter;
use crate::live::{LiveBoard, Running};
use crate::pyfmt::repr_str;
use crate::runner::{self, CancelToken, Dispatch, DispatchResult, ErrorType};
use crate::usage::{self, Profiles};

/// What the services of one process share for running dispatches.
#[derive(Clone)]
pub struct Dispatcher {
    limiter: Arc<Limiter>,
    /// `None` where nothing is cached (the CLI).
    cache: Option<Arc<ResultCache>>,
    journal: PathBuf,
    profiles: Arc<Profiles>,
    /// Where running dispatches are published for `ps`.
    live: LiveBoard,
}

/// One dispatch to run.
pub struct Request<'a> {
    pub dispatch: Dispatch<'a>,
    /// What started it, as `ps` shows it: a tool name, `job <id>`, `test`.
    pub what: &'a str,
    /// Whether a stored answer may stand in for the run, and a clean answer
    /// be stored (one-shot JSON dispatches only).
    pub cached: bool,
    /// Receives the agent's steps as they happen (stream mode).
    pub progress: Option<runner::Progress>,
}

/// A dispatch's result, and whether the cache gave it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub result: DispatchResult,
    pub cached: bool,
}

impl Dispatcher {
    pub fn new(
        limiter: Arc<Limiter>,
        cache: Option<Arc<ResultCache>>,
        journal: PathBuf,
        profiles: Arc<Profiles>,
        live: LiveBoard,
    ) -> Dispatcher {
        Dispatcher {
            limiter,
            cache,
            journal,
            profiles,
            live,
        }
    }

    /// Takes this process's running dispatches off `ps` at once: for a
    /// process about to exit.
    pub fn withdraw_from_ps(&self) {
        self.live.withdraw();
    }

    /// Runs `request` to its answer. Cancelled while waiting for a slot, it
    /// answers that the dispatch never started.
    pub fn run(&self, request: Request, cancel: &CancelToken) -> Answer {
        let agent = request.dispatch.agent_name;
        // `start` always agrees here, so there is always an answer.
        self.run_then(request, cancel, || true)
            .unwrap_or_else(|| Answer {
                result: not_started(agent),
                cached: false,
            })
    }

    /// Like `run`, but once a slot is held `start` decides whether the run
    /// still happens (an async job cancelled while it was queued does not);
    /// `None` when it declined.
    pub fn run_then(
        &self,
        mut request: Request,
        cancel: &CancelToken,
        start: impl FnOnce() -> bool,
    ) -> Option<Answer> {
        // A call that asks for no format gets the agent's schema, if any:
        // one place, so every surface and the cache key agree.
        let d = &mut request.dispatch;
        if d.ask.response_format.is_empty()
            && let Some(schema) = d.agent.json_schema.as_deref()
        {
            d.ask.response_format = schema;
        }
        let d = &request.dispatch;
        let cache = (self.cache.as_deref())
            .filter(|_| request.cached)
            .map(|cache| (cache, key_of(d)));
        if let Some((cache, key)) = &cache
            && let Some(hit) = cache.get(key, &d.settings.cache)
        {
            if d.settings.usage_log {
                usage::append(
                    &self.journal,
                    &usage::Record::cache_hit(d.agent_name, d.ask.caller),
                );
            }
            return Some(Answer {
                result: hit,
                cached: true,
            });
        }
        let started = Instant::now();
        // Cancelled while queued: not a run, so nothing is journaled.
        let Some(slot) = self.limiter.acquire(cancel) else {
            return Some(Answer {
                result: not_started(d.agent_name),
                cached: false,
            });
        };
        if !start() {
            return None;
        }
        let shown = Arc::new(self.live.start(Running {
            agent: d.agent_name.to_owned(),
            backend: d.backend.program().to_owned(),
            what: request.what.to_owned(),
            started_at: crate::jobs::now(),
            last_step: None,
        }));
        let progress = request.progress.map(|report| {
            let shown = Arc::clone(&shown);
            Arc::new(move |message: &str| {
                shown.step(message);
                report(message);
            }) as runner::Progress
        });
        // The slot is held until the runner returns, i.e. until its process
        // has been reaped.
        let mut result = runner::dispatch(d, cancel, progress);
        drop(slot);
        drop(shown);
        // Measured before this run is journaled, from the runs before it.
        runner::offer_measured_timeout(&mut result, d, || {
            usage::measured_timeout(&self.profiles, &self.journal, d.agent_name)
        });
        // A run the caller (or the server's exit) stopped says so rather
        // than counting as the agent's failure.
        if d.settings.usage_log {
            let wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let mut record = usage::Record::from_result(&result, wall_ms, d.ask.caller);
            if !result.success && cancel.is_cancelled() {
                record.mark_cancelled();
            }
            usage::append(&self.journal, &record);
        }
        if let Some((cache, key)) = &cache {
            cache.put(key, d.agent_name, &result, &d.settings.cache);
        }
        Some(Answer {
            result,
            cached: false,
        })
    }
}

/// The cache key of `d`, taken once before the run, so an answer produced
/// under an old config cannot fill the entry of an edited one.
fn key_of(d: &Dispatch) -> crate::cache::CacheKey {
    cache_key(&KeyInputs {
        agent_name: d.agent_name,
        agent: d.agent,
        settings: d.settings,
        task: d.ask.task,
        context: d.ask.context,
        caller: d.ask.caller,
        goal: d.ask.goal,
        response_format: d.ask.response_format,
        timeout_override: d.timeout_secs,
    })
}

fn not_started(agent: &str) -> DispatchResult {
    DispatchResult::failure(
        agent,
        ErrorType::CliError,
        format!(
            "Dispatch to agent {} was cancelled before it started.",
            repr_str(agent)
        ),
    )
}

#[cfg(test)]
mod tests {
    //! A stand-in second backend, a different argv and a different output
    //! format, run as a real process through the whole dispatch path: the
    //! seam carries everything a backend decides.

    use std::ffi::OsString;
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    use serde_json::Value;

    use super::*;
    use crate::config::project::AgentFiles;
    use crate::config::{Agent, BackendName, Settings};
    use crate::runner::backend::{Abilities, Backend, Cli, LoginCheck, OutputReader};
    use crate::runner::command::{CommandLine, OutputMode, Refused};
    use crate::runner::stream_sink::{EventStream, Progress, StreamSink};
    use crate::runner::verdict::{Captured, Context, Verdict};
    use crate::runner::{Ask, Outcome};

    /// A CLI that takes `ask --format lines -- PROMPT` and answers in lines
    /// of `{"kind": "note"|"answer", "text": …}`.
    struct LineCli {
        script: PathBuf,
    }

    impl LineCli {
        fn in_dir(dir: &Path) -> LineCli {
            let script = dir.join("line-cli");
            std::fs::write(
                &script,
                "#!/bin/sh\n\
                 [ \"$1 $2 $3 $4\" = 'ask --format lines --' ] || exit 64\n\
                 printf '{\"kind\":\"note\",\"text\":\"reading the code\"}\\n'\n\
                 printf '{\"kind\":\"answer\",\"text\":\"%s args, in %s\"}\\n' \"$#\" \"$(basename \"$PWD\")\"\n",
            )
            .unwrap();
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
            LineCli { script }
        }
    }

    /// `name` only labels messages, which these tests do not read.
    const LINE_CLI: Cli = Cli {
        name: BackendName::Claude,
        program: "line-cli",
        abilities: Abilities::NONE,
        permission_modes: Some(&[]),
        files: AgentFiles {
            instructions: "LINES.md",
            mcp_configs: &[],
        },
        install: "nowhere",
        login_check: LoginCheck::Command(&[]),
        login_hint: "none",
    };

    impl Backend for LineCli {
        fn cli(&self) -> &'static Cli {
            &LINE_CLI
        }
        fn locate(&self) -> Option<PathBuf> {
            Some(self.script.clone())
        }
        fn arguments(&self, line: &CommandLine) -> Result<Vec<OsString>, Refused> {
            Ok(["ask", "--format", "lines", "--", line.prompt]
                .map(OsString::from)
                .to_vec())
        }
        fn reader(&self, _mode: OutputMode, progress: Option<Progress>) -> Box<dyn OutputReader> {
            Box::new(StreamSink::new(LineEvents::default(), progress))
        }
    }

    #[derive(Default)]
    struct LineEvents {
        answer: Option<String>,
    }

    impl EventStream for LineEvents {
        fn feed_line(&mut self, line: &[u8]) -> Vec<String> {
            let Ok(event) = serde_json::from_slice::<Value>(line) else {
                return Vec::new();
            };
            let text = event["text"].as_str().unwrap_or_default().to_owned();
            match event["kind"].as_str() {
                Some("answer") => {
                    self.answer = Some(text);
                    Vec::new()
                }
                _ => vec![text],
            }
        }
        fn has_result(&self) -> bool {
            self.answer.is_some()
        }
        fn finish(&mut self, ctx: &Context, ended: Captured) -> Verdict {
            Verdict::Done(match self.answer.take() {
                Some(answer) => DispatchResult {
                    result: answer,
                    outcome: Some(Outcome::Done),
                    ..DispatchResult::new(ctx.agent, true)
                },
                None => DispatchResult::failure(
                    ctx.agent,
                    ErrorType::CliError,
                    format!("no answer (exit {})", ended.exit),
                ),
            })
        }
    }

    #[test]
    fn a_second_backend_runs_end_to_end_through_the_dispatch_path() {
        let tmp = tempfile::tempdir().unwrap();
        let project = tmp.path().join("shop-api");
        std::fs::create_dir(&project).unwrap();
        let cli = LineCli::in_dir(tmp.path());
        let agent = Agent::new(project);
        let settings = Settings::default();
        let journal = tmp.path().join("usage.jsonl");
        let dispatcher = Dispatcher::new(
            Limiter::new(1),
            Some(Arc::new(ResultCache::new())),
            journal.clone(),
            Arc::new(Profiles::new()),
            LiveBoard::new(tmp.path()),
        );
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let progress_seen = Arc::clone(&seen);
        let progress: runner::Progress =
            Arc::new(move |message: &str| progress_seen.lock().unwrap().push(message.into()));
        let request = |progress: Option<runner::Progress>| Request {
            what: "test",
            dispatch: Dispatch {
                agent_name: "api",
                agent: &agent,
                backend: &cli,
                settings: &settings,
                ask: Ask {
                    task: "How many orders today?",
                    ..Ask::default()
                },
                resume: None,
                timeout_secs: Some(60),
                mode: OutputMode::Stream,
            },
            cached: true,
            progress,
        };

        let first = dispatcher.run(request(Some(progress)), &CancelToken::new());
        assert!(first.result.success, "{:?}", first.result);
        assert_eq!(first.result.result, "5 args, in shop-api");
        assert!(!first.cached);
        assert_eq!(*seen.lock().unwrap(), ["reading the code"]);
        let again = dispatcher.run(request(None), &CancelToken::new());
        assert!(again.cached, "the clean answer was stored");
        assert_eq!(again.result.result, first.result.result);
        let journaled = std::fs::read_to_string(&journal).unwrap();
        assert_eq!(journaled.lines().count(), 2, "{journaled}");
    }
}
