//! Spawns an agent CLI as the leader of its own session (so its process group
//! is its whole tree) and supervises it until it and its pipes are done. It
//! knows nothing about MCP or about what the output means.
//!
//! The rules that make this safe:
//! - stdin is `/dev/null`; stdout and stderr are drained concurrently by
//!   their own threads, so a chatty child never blocks on a full pipe.
//! - Completion is the leader's exit, then stdout EOF (or an answer that
//!   explains the outcome) within `LINGER_AFTER_LEADER` — never stderr EOF:
//!   a stdio MCP server the agent started may inherit stdout or stderr
//!   and outlive it.
//! - Whatever is left of the group when the run ends is killed, whether
//!   the run succeeded, failed, timed out or was cancelled.
//! - The leader's exit is observed with `waitid(…, WNOWAIT)`, which leaves it
//!   unreaped. While it is unreaped its pid cannot be recycled, so
//!   `killpg(pid, SIGKILL)` can only ever hit our own group. The leader is
//!   reaped once, at the very end.
//! - After a kill, cleanup is bounded: a descendant that moved to its own
//!   session cannot be killed and may hold a pipe open; its reader is
//!   abandoned rather than waited for.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::cancel::CancelToken;
use super::verdict::{Captured, Exit, Kill};

/// stderr beyond this is drained but not kept.
pub const STDERR_KEEP_BYTES: usize = 64 * 1024;
/// stdout beyond this is drained but not kept: far above any real answer
/// (a model writes a few hundred KB at most), low enough that a runaway
/// child cannot exhaust our memory, and the bound on the agent output one
/// reply carries. Whatever is cut is marked (`truncated`), never silent.
pub const STDOUT_KEEP_BYTES: usize = 16 * 1024 * 1024;

/// How long to wait for stderr after completion when stdout already
/// explains the outcome, and when stderr is the only explanation.
const STDERR_GRACE_SHORT: Duration = Duration::from_millis(200);
const STDERR_GRACE_LONG: Duration = Duration::from_secs(5);
/// How long a descendant may hold stdout open after the leader exited.
const LINGER_AFTER_LEADER: Duration = Duration::from_secs(1);
/// The one window for everything after a timeout or cancel kill: leader
/// exit and pipe EOFs. After a normal exit the short grace serves.
const CLEANUP_WINDOW: Duration = Duration::from_secs(1);

/// What to run.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    /// Variables set (or replaced) on top of our own environment.
    pub env: Vec<(OsString, OsString)>,
}

/// Receives stdout as it arrives, on the reader thread.
pub trait StdoutSink: Send + 'static {
    fn chunk(&mut self, bytes: &[u8]);
    /// Called at end of file, or when the supervisor stops listening; may be
    /// called twice if the two coincide.
    fn end(&mut self) {}
    /// True when what arrived so far explains the outcome on its own, so a
    /// lingering stderr deserves only a short wait.
    fn explains_outcome(&self) -> bool;
}

/// Keeps stdout whole (up to `STDOUT_KEEP_BYTES`).
#[derive(Debug, Default)]
pub struct CollectAll {
    pub bytes: Vec<u8>,
    /// Some of stdout was dropped at the bound.
    pub cut: bool,
}

impl StdoutSink for CollectAll {
    fn chunk(&mut self, bytes: &[u8]) {
        self.cut |= append_bounded(&mut self.bytes, bytes, STDOUT_KEEP_BYTES);
    }
    fn explains_outcome(&self) -> bool {
        !self.bytes.is_empty()
    }
}

/// Appends as much of `bytes` as fits under `cap` bytes in all; the rest is
/// dropped (it was drained, so the child never blocks on it). Returns
/// whether anything was dropped.
pub fn append_bounded(kept: &mut Vec<u8>, bytes: &[u8], cap: usize) -> bool {
    let room = cap.saturating_sub(kept.len());
    let taken = bytes.len().min(room);
    kept.extend_from_slice(&bytes[..taken]);
    taken < bytes.len()
}

/// A process that ran, plus its stdout sink (whatever reached it).
pub struct Supervised<S> {
    pub captured: Captured,
    pub sink: Arc<Mutex<S>>,
}

#[derive(Default)]
struct Progress {
    stdout_done: bool,
    stderr_done: bool,
    leader_exited: bool,
    /// The stdout sink explains the outcome on its own (see
    /// `StdoutSink::explains_outcome`).
    explained: bool,
    /// Set when we stop listening: readers then discard what they read.
    abandoned: bool,
}

struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Progress> {
        // A reader that panicked cannot leave Progress half-updated (all
        // fields are plain flags), so a poisoned lock is still usable.
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, change: impl FnOnce(&mut Progress)) {
        change(&mut self.lock());
        self.changed.notify_all();
    }

    /// Waits until `done` holds or `until` passes; returns whether it holds.
    fn wait_until(
        &self,
        until: Instant,
        cancel: Option<&CancelToken>,
        done: impl Fn(&Progress) -> bool,
    ) -> bool {
        let mut progress = self.lock();
        loop {
            if done(&progress) {
                return true;
            }
            let now = Instant::now();
            if now >= until || cancel.is_some_and(CancelToken::is_cancelled) {
                return false;
            }
            // A cancel wakes us through the run's subscription (see `run`).
            progress = self
                .changed
                .wait_timeout(progress, until - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }
}

/// Runs `launch` until completion, `deadline`, or cancellation, feeding
/// stdout to `sink`. Returns `Err` only when the process could not be
/// started (nothing is left running in that case).
pub fn run<S: StdoutSink>(
    launch: &Launch,
    deadline: Instant,
    cancel: &CancelToken,
    sink: S,
) -> io::Result<Supervised<S>> {
    let mut command = Command::new(&launch.program);
    command
        .args(&launch.args)
        .current_dir(&launch.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in &launch.env {
        command.env(key, value);
    }
    let supervisor = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
    // SAFETY: setsid and getppid (and `die_with_supervisor`'s prctl) are
    // async-signal-safe and touch no memory of ours.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            die_with_supervisor()?;
            // We died before that took effect: do not start at all.
            if libc::getppid() != supervisor {
                // No allocation between fork and exec: a plain errno.
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    let leader = Leader::new(&child);
    let shared = Arc::new(Shared {
        progress: Mutex::new(Progress::default()),
        changed: Condvar::new(),
    });
    let sink = Arc::new(Mutex::new(sink));
    let stderr_keep = Arc::new(Mutex::new(Vec::new()));

    let started = (|| -> io::Result<()> {
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("stdout pipe missing"))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| io::Error::other("stderr pipe missing"))?;
        spawn_stdout_reader(stdout, Arc::clone(&sink), Arc::clone(&shared))?;
        spawn_stderr_reader(stderr, Arc::clone(&stderr_keep), Arc::clone(&shared))?;
        spawn_leader_watch(leader.pid, Arc::clone(&shared))?;
        Ok(())
    })();
    if let Err(err) = started {
        // Without its helpers the child cannot be supervised: end it now.
        leader.kill_group();
        shared.update(|p| p.abandoned = true);
        leader.release();
        let _ = child.wait();
        return Err(err);
    }

    let _woken_on_cancel = cancel.subscribe({
        let shared = Arc::clone(&shared);
        Arc::new(move || shared.update(|_| {}))
    });
    let leader_done = shared.wait_until(deadline, Some(cancel), |p| p.leader_exited);
    let (killed, cleanup) = if leader_done {
        // The leader wrote its whole answer before exiting; a descendant
        // that still holds stdout can only delay us, never add to it. One
        // budget covers the wait for stdout and a quiet stderr.
        let budget = deadline.min(Instant::now() + LINGER_AFTER_LEADER);
        shared.wait_until(budget, Some(cancel), |p| p.stdout_done || p.explained);
        let stderr_until = if shared.lock().explained {
            budget.min(Instant::now() + STDERR_GRACE_SHORT)
        } else {
            // stderr is all that can explain the outcome: worth a while.
            deadline.min(Instant::now() + STDERR_GRACE_LONG)
        };
        // A descendant may hold stderr (e.g. an MCP server).
        shared.wait_until(stderr_until, Some(cancel), |p| p.stderr_done);
        (None, STDERR_GRACE_SHORT)
    } else if cancel.is_cancelled() {
        (Some(Kill::Cancel), CLEANUP_WINDOW)
    } else {
        (Some(Kill::Timeout), CLEANUP_WINDOW)
    };
    // Nothing of a finished dispatch stays alive, successful or not: the
    // leader is still unreaped, so its group id is still ours to kill.
    leader.kill_group();
    shared.wait_until(Instant::now() + cleanup, None, |p| {
        p.leader_exited && p.stdout_done && p.stderr_done
    });
    let (leader_exited, stdout_done) = {
        let mut progress = shared.lock();
        progress.abandoned = true;
        (progress.leader_exited, progress.stdout_done)
    };
    if !stdout_done {
        // A descendant outside the group still holds stdout: what arrived
        // is all we will get, including a final line without its newline.
        lock_sink(&sink).end();
    }
    leader.release();
    let exit = if leader_exited {
        exit_of(child.wait())
    } else {
        // SIGKILLed yet still not exited (stuck in the kernel): reap it
        // whenever it goes, without holding the caller.
        let _ = thread::Builder::new()
            .name("reap".into())
            .spawn(move || child.wait());
        Exit::Unknown
    };
    let stderr = std::mem::take(&mut *stderr_keep.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(Supervised {
        captured: Captured {
            stdout: Vec::new(),
            stderr,
            exit,
            killed,
        },
        sink,
    })
}

/// In the child, before exec: if we are SIGKILLed, nothing of ours can end
/// the child, so have the kernel do it when the thread that spawned it
/// (which supervises it to the end) dies. Its descendants are not covered;
/// the leader dying closes their pipes.
#[cfg(target_os = "linux")]
fn die_with_supervisor() -> io::Result<()> {
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// macOS has no parent-death signal: a child outlives a SIGKILLed
/// supervisor (see SECURITY.md). Every other way we stop kills it.
#[cfg(not(target_os = "linux"))]
fn die_with_supervisor() -> io::Result<()> {
    Ok(())
}

/// Locks a sink; a sink whose reader panicked mid-chunk still holds every
/// complete chunk before it, which is worth returning.
pub fn lock_sink<S>(sink: &Arc<Mutex<S>>) -> MutexGuard<'_, S> {
    sink.lock().unwrap_or_else(|p| p.into_inner())
}

fn exit_of(status: io::Result<std::process::ExitStatus>) -> Exit {
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            _ => Exit::Unknown,
        },
        Err(_) => Exit::Unknown,
    }
}

/// Process groups of runs still supervised in this process, by leader pid.
/// A pid is listed only while its leader is unreaped, so killing every
/// listed group can only ever hit our own.
static LIVE_GROUPS: Mutex<Vec<libc::pid_t>> = Mutex::new(Vec::new());

fn live_groups() -> MutexGuard<'static, Vec<libc::pid_t>> {
    // A plain list of pids: a panic elsewhere cannot leave it half-updated.
    LIVE_GROUPS.lock().unwrap_or_else(|p| p.into_inner())
}

/// SIGKILLs every process group this process still supervises, members
/// and leaders alike. For a server that is going away: its supervisors may
/// not get the chance to do it themselves.
pub fn kill_all_groups() {
    for &pid in live_groups().iter() {
        kill_group(pid);
    }
}

fn kill_group(pid: libc::pid_t) {
    // killpg(0) would signal our own group.
    if pid > 0 {
        // SAFETY: plain syscall on a group whose leader is ours and
        // unreaped; errors (ESRCH) are fine.
        unsafe {
            libc::killpg(pid, libc::SIGKILL);
        }
    }
}

/// The session leader, identified by a pid that stays ours while unreaped.
struct Leader {
    pid: libc::pid_t,
}

impl Leader {
    /// Lists the leader's group in `LIVE_GROUPS` until `release`.
    fn new(child: &Child) -> Leader {
        let pid = libc::pid_t::try_from(child.id()).unwrap_or(0);
        if pid > 0 {
            live_groups().push(pid);
        }
        Leader { pid }
    }

    /// SIGKILLs the whole process group. Only called before the leader is
    /// reaped, so the group id cannot have been recycled.
    fn kill_group(&self) {
        kill_group(self.pid);
    }

    /// Unlists the group; must happen before the leader is reaped.
    fn release(self) {
        live_groups().retain(|&pid| pid != self.pid);
    }
}

fn spawn_stdout_reader<S: StdoutSink>(
    mut pipe: ChildStdout,
    sink: Arc<Mutex<S>>,
    shared: Arc<Shared>,
) -> io::Result<()> {
    thread::Builder::new()
        .name("agent-stdout".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let mut explained = false;
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        // The sink lock is held across the check, so once
                        // the supervisor has abandoned us and flushed the
                        // sink, no later chunk can reach it.
                        let mut sink = lock_sink(&sink);
                        if !shared.lock().abandoned {
                            sink.chunk(&buf[..n]);
                            if !explained && sink.explains_outcome() {
                                explained = true;
                                shared.update(|p| p.explained = true);
                            }
                        }
                    }
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            {
                let mut sink = lock_sink(&sink);
                if !shared.lock().abandoned {
                    sink.end();
                }
            }
            shared.update(|p| p.stdout_done = true);
        })?;
    Ok(())
}

fn spawn_stderr_reader(
    mut pipe: ChildStderr,
    keep: Arc<Mutex<Vec<u8>>>,
    shared: Arc<Shared>,
) -> io::Result<()> {
    thread::Builder::new()
        .name("agent-stderr".into())
        .spawn(move || {
            let mut buf = vec![0u8; 8192];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let mut kept = keep.lock().unwrap_or_else(|p| p.into_inner());
                        // stderr only explains failures; its head suffices.
                        append_bounded(&mut kept, &buf[..n], STDERR_KEEP_BYTES);
                    }
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            shared.update(|p| p.stderr_done = true);
        })?;
    Ok(())
}

/// Blocks in `waitid(WEXITED | WNOWAIT)` until the leader exits, leaving it
/// unreaped, then reports.
fn spawn_leader_watch(pid: libc::pid_t, shared: Arc<Shared>) -> io::Result<()> {
    thread::Builder::new()
        .name("agent-leader".into())
        .spawn(move || {
            loop {
                // SAFETY: an all-zero siginfo_t is a valid out-parameter.
                let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
                // SAFETY: waitid writes only into `info`.
                let rc = unsafe {
                    libc::waitid(
                        libc::P_PID,
                        libc::id_t::try_from(pid).unwrap_or(0),
                        &mut info,
                        libc::WEXITED | libc::WNOWAIT,
                    )
                };
                if rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                    // Exited, or no such child (already gone): either way done.
                    break;
                }
            }
            shared.update(|p| p.leader_exited = true);
        })?;
    Ok(())
}
