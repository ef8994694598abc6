//! Signals for CLI commands. Ctrl-C, SIGTERM or SIGHUP (the terminal
//! closed) during a long-running command cancels its dispatch, so the
//! `claude` process group we started — which lives in its own session and
//! does not see the terminal's signal — is killed too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use crate::runner::CancelToken;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Restores the default SIGPIPE action (std ignores it), so a command
/// whose output reader went away ends at once.
pub fn die_on_broken_pipe() {
    // SAFETY: setting a signal disposition; no handler of ours runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Routes SIGINT, SIGTERM and SIGHUP to `token` for the rest of the process.
pub fn cancel_on_interrupt(token: &CancelToken) {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe.
        unsafe {
            libc::signal(signal, on_signal as *const () as libc::sighandler_t);
        }
    }
    let token = token.clone();
    let _ = thread::Builder::new()
        .name("interrupt".into())
        .spawn(move || {
            while !INTERRUPTED.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(50));
            }
            token.cancel();
        });
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
