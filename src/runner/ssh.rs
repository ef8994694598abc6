//! Running an agent's CLI on another machine through the system OpenSSH
//! client. The local `Launch` a backend built becomes one remote command:
//! every word POSIX-single-quoted, the project directory entered there,
//! the dispatch depth (and any variable the backend sets) exported
//! there. On the host a small `sh` script starts the CLI as the leader of a
//! process group of its own (`setsid`, else perl's `setpgrp`), prints that
//! group's id as the first line of stdout, waits for it, and kills what is
//! left of the group when the leader exits. A run we stop (timeout,
//! cancellation, server exit) kills the group there too, over the shared
//! connection (`ControlMaster`, sockets in our own 0700 directory).

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::backend::OutputReader;
use super::cancel::CancelToken;
use super::command::{Refused, fits};
use super::process::{self, Launch, StdoutSink};
use super::result::{DispatchResult, ErrorType};
use super::verdict::{Captured, Context, Exit, Verdict};
use crate::config::Agent;
use crate::config::remote::{RemoteProblem, SshTarget};
use crate::shell;

/// The first line of a remote run's own on stdout: `<MARK> <pgid>`.
const MARK: &str = "agent-dispatch-pgid";
/// How much a host may print before that line (a login shell's greeting)
/// before we stop looking for it.
const HEAD_LIMIT: usize = 64 * 1024;

/// Exit statuses of the remote script itself (no CLI ran).
const NO_DIRECTORY: i32 = 97;
const NO_PROCESS_GROUP: i32 = 96;

/// The script that runs on the host; `$1` is the project directory, then
/// come `NAME=value` words to export up to `--`, then the command. `$$` of
/// the inner `sh` is the group's leader.
const SCRIPT: &str = r#"d=$1; shift
case $d in "~") d=$HOME;; "~/"*) d=$HOME/${d#"~/"};; esac
cd "$d" 2>/dev/null || exit 97
while [ "$1" != -- ]; do export "$1"; shift; done
shift
lead='echo "agent-dispatch-pgid $$"; exec "$@"'
if command -v setsid >/dev/null 2>&1; then
  setsid sh -c "$lead" agent "$@" </dev/null &
elif command -v perl >/dev/null 2>&1; then
  perl -e 'setpgrp(0, 0); exec @ARGV or exit 127' sh -c "$lead" agent "$@" </dev/null &
else
  exit 96
fi
pg=$!
wait "$pg"
st=$?
kill -s KILL -- "-$pg" 2>/dev/null
exit "$st""#;

/// How long killing a remote group may take before we give up on it.
const KILL_BUDGET: Duration = Duration::from_secs(5);

/// How long a first connection may take, unless the agent says otherwise.
const CONNECT_TIMEOUT_SECS: u32 = 10;

/// Whether an ssh run may open the shared connection or only use one.
#[derive(Debug, Clone, Copy)]
enum Sharing {
    OpenOrUse,
    UseOnly,
}

/// Where and how to reach an agent's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub target: SshTarget,
    /// Checked `Key=Value` options.
    pub options: Vec<String>,
}

impl Remote {
    /// The remote side of `agent`, `None` for a local agent. The values
    /// were checked when the config was read; they are parsed again here
    /// rather than trusted.
    pub fn of(agent: &Agent) -> Option<Result<Remote, RemoteProblem>> {
        let host = agent.host.as_deref()?;
        Some(SshTarget::parse(host).and_then(|target| {
            let options = agent
                .ssh_options
                .iter()
                .map(|option| crate::config::remote::ssh_option(option))
                .collect::<Result<_, _>>()?;
            Ok(Remote { target, options })
        }))
    }

    /// ssh's own arguments up to and including the destination: no tty,
    /// never a password prompt, one shared connection per host, the
    /// agent's options, then `--` so the destination is never an option.
    pub fn ssh_args(&self, control_dir: &Path) -> Vec<OsString> {
        self.ssh_args_sharing(control_dir, Sharing::OpenOrUse)
    }

    fn ssh_args_sharing(&self, control_dir: &Path, sharing: Sharing) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["-T".into()];
        let mut option = |value: String| {
            args.push("-o".into());
            args.push(value.into());
        };
        // ssh takes the first value given for a key: the agent's options
        // first, so they win over our defaults; BatchMode is not theirs.
        option("BatchMode=yes".into());
        for value in &self.options {
            option(value.clone());
        }
        option(
            match sharing {
                Sharing::OpenOrUse => "ControlMaster=auto",
                Sharing::UseOnly => "ControlMaster=no",
            }
            .into(),
        );
        option(format!(
            "ControlPath={}/{}-%C",
            control_dir.display(),
            self.options_tag()
        ));
        option("ControlPersist=60".into());
        option(format!("ConnectTimeout={CONNECT_TIMEOUT_SECS}"));
        if let Some(port) = self.target.port {
            args.push("-p".into());
            args.push(port.to_string().into());
        }
        args.push("--".into());
        args.push(self.target.destination().into());
        args
    }

    /// Eight hex digits of the agent's ssh options, in the socket's name:
    /// ssh's `%C` hashes only host, port and user, and an agent must never
    /// ride on a connection opened with another agent's key, jump host or
    /// known-hosts file.
    fn options_tag(&self) -> String {
        let digest = Sha256::digest(self.options.join("\n").as_bytes());
        digest[..4]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// `ssh_args` asking the shared connection's master for `operation`
    /// (`check`, `exit`) instead of running a command.
    pub fn control_args(&self, control_dir: &Path, operation: &str) -> Vec<OsString> {
        let mut args = self.ssh_args(control_dir);
        let destination = args.split_off(args.len() - 2);
        args.extend(["-O".into(), operation.into()]);
        args.extend(destination);
        args
    }

    /// The local launch of `ssh` that runs `inner` (the CLI's name or path
    /// on the host, its arguments, the project directory there as `cwd`,
    /// variables to set) on the host.
    pub fn wrap(&self, ssh: &Path, control_dir: &Path, inner: &Launch) -> Launch {
        remember(self, ssh, control_dir);
        let mut args = self.ssh_args(control_dir);
        args.push(remote_command(inner).into());
        Launch {
            program: ssh.to_path_buf(),
            args,
            cwd: std::env::temp_dir(),
            env: Vec::new(),
        }
    }
}

/// The one command the host's shell runs for `inner` (the CLI and the
/// project directory as they are there): the fixed script, then every
/// word single-quoted.
fn remote_command(inner: &Launch) -> String {
    let mut words: Vec<String> = vec![
        "exec".into(),
        "sh".into(),
        "-c".into(),
        SCRIPT.into(),
        "agent-dispatch".into(),
        inner.cwd.to_string_lossy().into_owned(),
    ];
    words.extend(
        inner
            .env
            .iter()
            .map(|(key, value)| format!("{}={}", key.to_string_lossy(), value.to_string_lossy())),
    );
    words.push("--".into());
    words.push(inner.program.to_string_lossy().into_owned());
    words.extend(
        inner
            .args
            .iter()
            .map(|arg| arg.to_string_lossy().into_owned()),
    );
    shell::command_line(&words)
}

/// Whether `inner` fits in the one argument its remote command is, to the
/// local ssh and to the host's shell.
pub fn command_fits(inner: &Launch) -> Result<(), Refused> {
    fits(
        "remote command (task, instructions and the agent's argv, quoted for ssh)",
        &remote_command(inner),
    )
}

impl Remote {
    /// Runs `command` (one shell word list, already quoted) on the host over
    /// the shared connection, waiting at most `budget`.
    pub fn run_command(
        &self,
        ssh: &Path,
        control_dir: &Path,
        command: &str,
        budget: Duration,
    ) -> io::Result<process::Supervised<process::CollectAll>> {
        remember(self, ssh, control_dir);
        self.run_sharing(ssh, control_dir, command, budget, Sharing::OpenOrUse)
    }

    fn run_sharing(
        &self,
        ssh: &Path,
        control_dir: &Path,
        command: &str,
        budget: Duration,
        sharing: Sharing,
    ) -> io::Result<process::Supervised<process::CollectAll>> {
        let mut args = self.ssh_args_sharing(control_dir, sharing);
        args.push(command.into());
        let launch = Launch {
            program: ssh.to_path_buf(),
            args,
            cwd: std::env::temp_dir(),
            env: Vec::new(),
        };
        process::run(
            &launch,
            Instant::now() + budget,
            &CancelToken::new(),
            process::CollectAll::default(),
        )
    }

    /// Kills process group `pgid` on the host. Through the shared
    /// connection when there is one, but never opening one: a kill at the
    /// end of a server's life must not leave a new master behind it.
    fn kill_group(&self, ssh: &Path, control_dir: &Path, pgid: u32) {
        let command = format!("kill -s KILL -- -{pgid} 2>/dev/null; exit 0");
        let _ = self.run_sharing(ssh, control_dir, &command, KILL_BUDGET, Sharing::UseOnly);
    }
}

/// Our directory for ssh's connection sockets: `$XDG_RUNTIME_DIR` (else
/// the temp dir) `/agent-dispatch-ssh-<uid>`, created 0700 and used only
/// when it is a real directory of ours that nobody else may enter.
pub fn control_dir() -> io::Result<PathBuf> {
    // SAFETY: getuid cannot fail and touches no memory.
    let uid = unsafe { libc::getuid() };
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(std::env::temp_dir, PathBuf::from);
    let mut dir = base.join(format!("agent-dispatch-ssh-{uid}"));
    // A socket path has 104 bytes on macOS (108 on Linux): ours is the
    // directory, `/`, the options tag and `-`, 40 hex digits, and ssh's
    // temporary suffix of ~20.
    if dir.as_os_str().len() + 70 > 104 {
        dir = PathBuf::from("/tmp").join(format!("agent-dispatch-ssh-{uid}"));
    }
    match fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(err),
    }
    let meta = fs::symlink_metadata(&dir)?;
    if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
        return Err(io::Error::other(format!(
            "{} is not a private directory of ours (a symlink, another owner, or open to others); remove it",
            dir.display()
        )));
    }
    Ok(dir)
}

/// Remote groups of runs in progress, for a server that is going away.
struct LiveRemote {
    id: u64,
    remote: Remote,
    ssh: PathBuf,
    control_dir: PathBuf,
    pgid: u32,
}

static LIVE_REMOTE: Mutex<Vec<LiveRemote>> = Mutex::new(Vec::new());
static NEXT_ID: Mutex<u64> = Mutex::new(0);

fn live_remote() -> MutexGuard<'static, Vec<LiveRemote>> {
    LIVE_REMOTE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Kills every remote group of a run still in progress, all at once,
/// within `KILL_BUDGET`, then closes every shared connection this process
/// opened (their masters would otherwise linger for `ControlPersist`). For
/// a server that is going away.
pub fn kill_all_remote_groups() {
    let live: Vec<LiveRemote> = std::mem::take(&mut *live_remote());
    std::thread::scope(|scope| {
        for group in &live {
            scope.spawn(|| {
                group
                    .remote
                    .kill_group(&group.ssh, &group.control_dir, group.pgid)
            });
        }
    });
    close_connections();
}

/// Closes every shared connection this process opened (their masters
/// would otherwise linger for `ControlPersist`).
pub fn close_connections() {
    let used: Vec<Connection> = std::mem::take(&mut *connections());
    std::thread::scope(|scope| {
        for connection in &used {
            scope.spawn(|| connection.close());
        }
    });
}

/// A shared connection this process may have opened.
#[derive(PartialEq, Eq)]
struct Connection {
    remote: Remote,
    ssh: PathBuf,
    control_dir: PathBuf,
}

impl Connection {
    /// Asks its master to exit (`ssh -O exit`); nothing if there is none.
    fn close(&self) {
        let launch = Launch {
            program: self.ssh.clone(),
            args: self.remote.control_args(&self.control_dir, "exit"),
            cwd: std::env::temp_dir(),
            env: Vec::new(),
        };
        let _ = process::run(
            &launch,
            Instant::now() + KILL_BUDGET,
            &CancelToken::new(),
            process::CollectAll::default(),
        );
    }
}

static CONNECTIONS: Mutex<Vec<Connection>> = Mutex::new(Vec::new());

fn connections() -> MutexGuard<'static, Vec<Connection>> {
    CONNECTIONS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Notes a connection to close when this process goes away.
fn remember(remote: &Remote, ssh: &Path, control_dir: &Path) {
    let connection = Connection {
        remote: remote.clone(),
        ssh: ssh.to_path_buf(),
        control_dir: control_dir.to_path_buf(),
    };
    let mut used = connections();
    if !used.contains(&connection) {
        used.push(connection);
    }
}

/// The reader of a remote run's stdout: takes the group-id line, then
/// hands everything else to the backend's reader. It judges what the
/// backend cannot: ssh failing to connect or log in, the directory or the
/// CLI missing on the host.
pub struct RemoteReader {
    inner: Box<dyn OutputReader>,
    head: Vec<u8>,
    pgid: Option<u32>,
    registered: Option<u64>,
    remote: Remote,
    ssh: PathBuf,
    control_dir: PathBuf,
    program: String,
    directory: String,
    /// No group-id line within `HEAD_LIMIT` bytes: stop looking.
    gave_up: bool,
}

impl RemoteReader {
    /// `launch` is the run as it is on the host (its CLI and directory).
    pub fn new(
        inner: Box<dyn OutputReader>,
        remote: Remote,
        ssh: &Path,
        control_dir: &Path,
        launch: &Launch,
    ) -> RemoteReader {
        RemoteReader {
            inner,
            head: Vec::new(),
            pgid: None,
            registered: None,
            remote,
            ssh: ssh.to_path_buf(),
            control_dir: control_dir.to_path_buf(),
            program: launch.program.to_string_lossy().into_owned(),
            directory: launch.cwd.to_string_lossy().into_owned(),
            gave_up: false,
        }
    }

    fn register(&mut self, pgid: u32) {
        let id = {
            let mut next = NEXT_ID.lock().unwrap_or_else(|p| p.into_inner());
            *next += 1;
            *next
        };
        live_remote().push(LiveRemote {
            id,
            remote: self.remote.clone(),
            ssh: self.ssh.clone(),
            control_dir: self.control_dir.clone(),
            pgid,
        });
        self.pgid = Some(pgid);
        self.registered = Some(id);
    }

    /// Ends the run's group on the host, when it may still be there, and
    /// forgets it.
    /// `ended_early`: we killed the local ssh, or it died of something
    /// else (a signal, a dropped connection): the group may live on there.
    /// Killed before it is forgotten, so a server going away meanwhile
    /// still finds it.
    pub fn settle(&mut self, ended_early: bool) {
        if let Some(id) = self.registered.take() {
            if ended_early && let Some(pgid) = self.pgid {
                self.remote.kill_group(&self.ssh, &self.control_dir, pgid);
            }
            live_remote().retain(|group| group.id != id);
        }
    }
}

/// A run dropped before it was judged may have left its group behind.
impl Drop for RemoteReader {
    fn drop(&mut self) {
        self.settle(true);
    }
}

impl StdoutSink for RemoteReader {
    /// Lines before the group-id line (a login shell's greeting, say) are
    /// handed on in order; so is everything once the line came, or once
    /// `HEAD_LIMIT` bytes passed without it.
    fn chunk(&mut self, bytes: &[u8]) {
        if self.pgid.is_some() || self.gave_up {
            return self.inner.chunk(bytes);
        }
        self.head.extend_from_slice(bytes);
        while let Some(end) = self.head.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.head.drain(..=end).collect();
            match group_id(&String::from_utf8_lossy(&line)) {
                Some(pgid) => {
                    self.register(pgid);
                    let rest = std::mem::take(&mut self.head);
                    if !rest.is_empty() {
                        self.inner.chunk(&rest);
                    }
                    return;
                }
                None => self.inner.chunk(&line),
            }
        }
        if self.head.len() > HEAD_LIMIT {
            self.gave_up = true;
            let head = std::mem::take(&mut self.head);
            self.inner.chunk(&head);
        }
    }

    fn end(&mut self) {
        if !self.head.is_empty() {
            let head = std::mem::take(&mut self.head);
            self.inner.chunk(&head);
        }
        self.inner.end();
    }

    fn explains_outcome(&self) -> bool {
        self.inner.explains_outcome()
    }
}

impl OutputReader for RemoteReader {
    fn lost_to_cut(&self) -> bool {
        self.inner.lost_to_cut()
    }

    fn finish(&mut self, ctx: &Context, ended: Captured) -> Verdict {
        let died = matches!(
            ended.exit,
            Exit::Code(255) | Exit::Signal(_) | Exit::Unknown
        );
        self.settle(ended.killed.is_some() || died);
        let host = self.remote.target.to_string();
        let stderr = String::from_utf8_lossy(&ended.stderr).trim().to_owned();
        let failure = |error_type, error: String| {
            Verdict::Done(DispatchResult::failure(ctx.agent, error_type, error))
        };
        if ended.killed.is_none() && self.pgid.is_none() {
            match ended.exit {
                Exit::Code(255) => return ssh_failure(ctx, &host, &stderr),
                Exit::Code(NO_DIRECTORY) => {
                    return failure(
                        ErrorType::NotFound,
                        format!("Directory {} does not exist on {host}", self.directory),
                    );
                }
                Exit::Code(NO_PROCESS_GROUP) => {
                    return failure(
                        ErrorType::CliError,
                        format!(
                            "{host} has neither setsid nor perl, so the agent cannot run there as a process group of its own (which is how it is stopped)"
                        ),
                    );
                }
                _ => {}
            }
        }
        // 127: the shell could not find the CLI to run.
        let missing = stderr.contains("not found") || stderr.contains("No such file");
        if ended.exit == Exit::Code(127) && missing && !self.inner.explains_outcome() {
            let program = &self.program;
            return failure(
                ErrorType::NotFound,
                format!(
                    "{program} was not found on {host} (a non-interactive ssh session often lacks the login PATH). Set its path there: agent-dispatch update {} --remote-cli /path/to/{program}",
                    ctx.agent
                ),
            );
        }
        self.inner.finish(ctx, ended)
    }
}

/// ssh's own reason for a failure: the last line it printed.
pub fn reason(stderr: &str) -> Option<&str> {
    stderr.lines().map(str::trim).rfind(|line| !line.is_empty())
}

/// ssh itself failed (exit 255 before the remote command started).
fn ssh_failure(ctx: &Context, host: &str, stderr: &str) -> Verdict {
    let lower = stderr.to_lowercase();
    let detail = reason(stderr).unwrap_or("ssh failed").to_owned();
    let auth = [
        "permission denied",
        "host key verification failed",
        "remote host identification has changed",
        "no matching host key",
        "too many authentication failures",
    ];
    let (error_type, hint) = if auth.iter().any(|p| lower.contains(p)) {
        (
            ErrorType::SshAuth,
            format!(
                "ssh could not log in to {host} or trust its host key. Check the agent's ssh_options (IdentityFile, UserKnownHostsFile) and run `ssh {host} true` once by hand. This is ssh's login, not the agent CLI's."
            ),
        )
    } else {
        (
            ErrorType::Unreachable,
            format!(
                "{host} could not be reached over ssh. Check that it is up and that `ssh {host} true` works from this machine."
            ),
        )
    };
    Verdict::Done(DispatchResult::failure(
        ctx.agent,
        error_type,
        format!("ssh to {host} failed: {detail}\n\nHint: {hint}"),
    ))
}

/// The group id a `MARK` line reports. 0 and 1 would make the kill reach
/// our own group or every process of the user there: never a group a run
/// leads, so never taken.
fn group_id(line: &str) -> Option<u32> {
    line.trim_end()
        .strip_prefix(MARK)
        .and_then(|n| n.trim().parse().ok())
        .filter(|pgid: &u32| *pgid > 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(options: &[&str]) -> Remote {
        let mut agent = Agent::new(PathBuf::from("/srv/api"));
        agent.host = Some("me@build:2222".into());
        agent.ssh_options = options.iter().map(|o| (*o).to_owned()).collect();
        Remote::of(&agent).unwrap().unwrap()
    }

    fn control_path(remote: &Remote) -> String {
        let args = remote.ssh_args(Path::new("/run/ad"));
        args.iter()
            .filter_map(|arg| arg.to_str())
            .find_map(|arg| arg.strip_prefix("ControlPath="))
            .unwrap()
            .to_owned()
    }

    #[test]
    fn agents_with_other_ssh_options_never_share_a_connection() {
        let plain = control_path(&remote(&[]));
        let keyed = control_path(&remote(&["IdentityFile=~/.ssh/other"]));
        assert!(
            plain.starts_with("/run/ad/") && plain.ends_with("-%C"),
            "{plain}"
        );
        assert_ne!(plain, keyed);
        assert_eq!(keyed, control_path(&remote(&["IdentityFile=~/.ssh/other"])));
    }

    #[test]
    fn only_a_real_group_id_is_taken_from_the_mark_line() {
        assert_eq!(group_id("agent-dispatch-pgid 4242\n"), Some(4242));
        for line in [
            "agent-dispatch-pgid 1",
            "agent-dispatch-pgid 0",
            "agent-dispatch-pgid -1",
            "agent-dispatch-pgid x",
            "welcome, agent-dispatch-pgid 77",
        ] {
            assert_eq!(group_id(line), None, "{line}");
        }
    }
}
