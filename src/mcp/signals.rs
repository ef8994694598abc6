//! Termination signals for `serve`: SIGTERM, SIGINT and SIGHUP are blocked
//! in every thread of the server and taken by one thread in `sigwait`, which
//! triggers the same stop as stdin EOF. Nothing runs in a signal handler, so
//! the shutdown path is ordinary code. Children do not inherit the mask:
//! std clears it between fork and exec.

use std::io;
use std::thread;

use super::stop::{Stop, StopReason};

const TERMINATION: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// Routes the termination signals to `stop`. Must run before the server
/// starts any other thread, so that every thread inherits the mask.
pub fn route_to(stop: &Stop) -> io::Result<()> {
    let set = termination_set()?;
    // SAFETY: `set` is an initialized sigset_t; the old mask is not wanted.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let stop = stop.clone();
    let started = thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            loop {
                let mut signal: libc::c_int = 0;
                // SAFETY: `set` is initialized; sigwait writes only `signal`.
                let rc = unsafe { libc::sigwait(&set, &mut signal) };
                if rc == 0 {
                    stop.trigger(StopReason::Signal(signal));
                    return;
                }
            }
        });
    if let Err(err) = started {
        // Nobody would take them: let the signals act as before.
        // SAFETY: as above; unblocking what this function blocked.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
        return Err(err);
    }
    Ok(())
}

fn termination_set() -> io::Result<libc::sigset_t> {
    // SAFETY: sigemptyset initializes the zeroed set before any other use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t.
    if unsafe { libc::sigemptyset(&mut set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    for signal in TERMINATION {
        // SAFETY: `set` is a valid, initialized sigset_t.
        if unsafe { libc::sigaddset(&mut set, signal) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(set)
}
