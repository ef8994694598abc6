//! A remote agent's project as discovery sees it: its top-level entries and
//! the few files discovery reads (the CLI's instruction file, README.md,
//! the MCP configs), fetched in one ssh round trip and kept for a minute.
//! A host that does not answer within a short bound is `UNREACHABLE`; the
//! survey goes on in the background and fills the cache for the next call,
//! so a dead host never holds a listing up for longer than that bound.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::config::Agent;
use crate::config::project::{AgentFiles, Health, RemoteListing};
use crate::ids;
use crate::runner::environment::find_on_path;
use crate::runner::ssh::{self, Remote};
use crate::runner::verdict::Exit;
use crate::shell;

/// How long a survey's answer is reused.
const TTL: Duration = Duration::from_secs(60);
/// How long a listing waits for a host before calling it unreachable.
pub const WAIT: Duration = Duration::from_secs(3);
/// How long one survey may run in the background.
const SURVEY_LIMIT: Duration = Duration::from_secs(20);
/// The most of one file a survey brings back.
const MAX_FILE_BYTES: usize = 64 * 1024;

/// What a survey found.
#[derive(Debug, Clone)]
pub enum Found {
    Project(RemoteListing),
    Missing,
    Unreachable(String),
}

impl Found {
    pub fn health(&self) -> Health {
        match self {
            Found::Project(_) => Health::Ok,
            Found::Missing => Health::Missing,
            Found::Unreachable(why) => Health::Unreachable(why.clone()),
        }
    }
}

/// The survey of one (host, options, directory, files): its last answer
/// and when it came, and when the one in progress started.
#[derive(Default)]
struct Slot {
    found: Option<(Found, Instant)>,
    running_since: Option<Instant>,
}

struct Surveys {
    slots: Mutex<HashMap<String, Slot>>,
    changed: Condvar,
}

fn surveys() -> &'static Surveys {
    static SURVEYS: OnceLock<Surveys> = OnceLock::new();
    SURVEYS.get_or_init(|| Surveys {
        slots: Mutex::new(HashMap::new()),
        changed: Condvar::new(),
    })
}

/// Starts the survey of each remote agent of `config` that has no fresh
/// answer, so a view that then asks for them one by one (agents, groups,
/// doctor) waits for them all at once, not one `WAIT` after another.
pub fn start_all(config: &crate::config::Config) {
    for agent in config.agents.values().filter(|agent| agent.is_remote()) {
        let files = crate::runner::backends::of(agent, &config.settings).project_files();
        survey_until(agent, &files, Some(Instant::now()));
    }
}

/// Why a remote agent's directory could not be confirmed on its host.
#[derive(Debug, Clone, PartialEq)]
pub enum DirectoryCheck {
    NotThere {
        directory: String,
        host: String,
    },
    /// ssh's reason, or that no answer came in time.
    Unreachable(String),
}

impl fmt::Display for DirectoryCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirectoryCheck::NotThere { directory, host } => {
                write!(f, "{directory} is not a directory on {host}")
            }
            DirectoryCheck::Unreachable(why) => write!(f, "its host could not be asked: {why}"),
        }
    }
}

/// How long `add` waits for a remote directory's survey.
const CHECK_WAIT: Duration = Duration::from_secs(30);

/// Whether remote `agent`'s directory is there on its host: the check
/// `add` makes, by the survey a listing makes (so the listing has it).
pub fn check_directory(agent: &Agent, files: &AgentFiles) -> Result<(), DirectoryCheck> {
    match survey_until(agent, files, Some(Instant::now() + CHECK_WAIT)) {
        Found::Project(_) => Ok(()),
        Found::Missing => Err(DirectoryCheck::NotThere {
            directory: agent.directory.display().to_string(),
            host: agent.host.clone().unwrap_or_default(),
        }),
        Found::Unreachable(why) => Err(DirectoryCheck::Unreachable(why)),
    }
}

/// The project of remote `agent`: a fresh answer, else the survey's answer
/// if it comes within `WAIT` of the survey's start (the last answer, or
/// `Unreachable`, if not: the survey goes on and the next call has it).
pub fn survey(agent: &Agent, files: &AgentFiles) -> Found {
    survey_until(agent, files, None)
}

fn survey_until(agent: &Agent, files: &AgentFiles, deadline: Option<Instant>) -> Found {
    let remote = match Remote::of(agent) {
        Some(Ok(remote)) => remote,
        Some(Err(problem)) => return Found::Unreachable(problem.to_string()),
        None => return Found::Missing,
    };
    let paths = wanted(files);
    let key = format!(
        "{}\0{}\0{}\0{}",
        remote.target,
        remote.options.join("\0"),
        agent.directory.display(),
        paths.join("\0")
    );
    let directory = agent.directory.to_string_lossy().into_owned();
    let shared = surveys();
    let mut slots = shared.slots.lock().unwrap_or_else(|p| p.into_inner());
    let slot = slots.entry(key.clone()).or_default();
    if let Some((found, at)) = &slot.found
        && at.elapsed() < TTL
    {
        return found.clone();
    }
    let started = match slot.running_since {
        Some(started) => started,
        None => match begin(key.clone(), remote, directory, paths) {
            Ok(()) => *slot.running_since.insert(Instant::now()),
            // No thread: that is the answer, until the next try.
            Err(err) => {
                let found = Found::Unreachable(format!("the survey could not start: {err}"));
                slot.found = Some((found.clone(), Instant::now()));
                return found;
            }
        },
    };
    let deadline = deadline.unwrap_or(started + WAIT);
    loop {
        let slot = slots.entry(key.clone()).or_default();
        let fresh = slot.found.as_ref().filter(|(_, at)| at.elapsed() < TTL);
        if let Some((found, _)) = fresh {
            return found.clone();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return match &slot.found {
                Some((found, _)) => found.clone(),
                None => Found::Unreachable(format!(
                    "no answer within {} s",
                    deadline.saturating_duration_since(started).as_secs()
                )),
            };
        }
        slots = shared
            .changed
            .wait_timeout(slots, left)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

/// Runs one survey in the background; its answer lands in its slot.
fn begin(key: String, remote: Remote, directory: String, paths: Vec<String>) -> io::Result<()> {
    let finish = |found: Found, key: String| {
        let shared = surveys();
        let mut slots = shared.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = slots.entry(key).or_default();
        slot.found = Some((found, Instant::now()));
        slot.running_since = None;
        shared.changed.notify_all();
    };
    std::thread::Builder::new()
        .name("remote-survey".into())
        .spawn(move || finish(run_survey(&remote, &directory, &paths), key))
        .map(drop)
}

/// The files a survey brings back.
fn wanted(files: &AgentFiles) -> Vec<String> {
    [files.instructions, "README.md"]
        .into_iter()
        .chain(files.mcp_configs.iter().map(|config| config.path()))
        .map(str::to_owned)
        .collect()
}

/// Lists the directory and prints each wanted file that is a regular file
/// and no symlink, between boundary lines only this survey knows.
const SCRIPT: &str = r#"b=$1; d=$2; shift 2
case $d in "~") d=$HOME;; "~/"*) d=$HOME/${d#"~/"};; esac
cd "$d" 2>/dev/null || { echo "$b missing"; exit 0; }
echo "$b entries"
ls -A1p
for f in "$@"; do
  if [ -f "$f" ] && [ ! -L "$f" ]; then echo "$b file $f"; head -c 65536 "$f"; echo; fi
done
echo "$b end""#;

fn run_survey(remote: &Remote, directory: &str, paths: &[String]) -> Found {
    let Some(ssh) = find_on_path("ssh") else {
        return Found::Unreachable("the OpenSSH client (ssh) is not on PATH".into());
    };
    let control_dir = match ssh::control_dir() {
        Ok(dir) => dir,
        Err(err) => return Found::Unreachable(err.to_string()),
    };
    let boundary = format!(
        "@@{}",
        ids::uuid_v4().unwrap_or_else(|_| "agent-dispatch".into())
    );
    let mut words = vec!["sh", "-c", SCRIPT, "survey", &boundary, directory];
    words.extend(paths.iter().map(String::as_str));
    let command = shell::command_line(&words);
    let run = match remote.run_command(&ssh, &control_dir, &command, SURVEY_LIMIT) {
        Ok(run) => run,
        Err(err) => return Found::Unreachable(format!("ssh could not be started: {err}")),
    };
    let stdout =
        String::from_utf8_lossy(&crate::runner::process::lock_sink(&run.sink).bytes).into_owned();
    if run.captured.exit != Exit::Code(0) {
        let stderr = String::from_utf8_lossy(&run.captured.stderr);
        let why = ssh::reason(&stderr).unwrap_or("no answer");
        return Found::Unreachable(why.to_owned());
    }
    parse(&stdout, &boundary)
}

/// Reads a survey's output.
fn parse(stdout: &str, boundary: &str) -> Found {
    let mut listing = RemoteListing::default();
    let mut file: Option<(String, String)> = None;
    let mut in_entries = false;
    for line in stdout.split('\n') {
        if let Some(marker) = line.strip_prefix(boundary).map(str::trim_start) {
            if let Some((name, text)) = file.take() {
                let text = text.strip_suffix('\n').unwrap_or(&text);
                let cut = crate::chars::prefix(text, MAX_FILE_BYTES).to_owned();
                listing.files.push((name, cut));
            }
            in_entries = false;
            match marker {
                "missing" => return Found::Missing,
                "entries" => in_entries = true,
                "end" => return Found::Project(listing),
                other => {
                    if let Some(name) = other.strip_prefix("file ") {
                        file = Some((name.to_owned(), String::new()));
                    }
                }
            }
        } else if let Some((_, text)) = file.as_mut() {
            text.push_str(line);
            text.push('\n');
        } else if in_entries && !line.is_empty() {
            listing.entries.push(line.to_owned());
        }
    }
    Found::Unreachable("the survey's answer ended early".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_survey_answer_is_read_back_into_entries_and_files() {
        let out = "@@b entries\nAGENTS.md\nprisma/\ngo.mod\n@@b file AGENTS.md\n# rules\nline\n\n@@b file opencode.json\n{\"mcp\": {\"db\": {}}}\n\n@@b end\n";
        let Found::Project(listing) = parse(out, "@@b") else {
            panic!("not a project");
        };
        assert_eq!(listing.entries, ["AGENTS.md", "prisma/", "go.mod"]);
        assert_eq!(
            listing.files[0],
            ("AGENTS.md".into(), "# rules\nline\n".into())
        );
        assert!(matches!(parse("@@b missing\n", "@@b"), Found::Missing));
        assert!(matches!(
            parse("@@b entries\nx\n", "@@b"),
            Found::Unreachable(_)
        ));
    }
}
