//! Process entry point: hands argv to the CLI and turns its verdict into
//! the exit code.

fn main() {
    // A CLI whose reader went away (`agent-dispatch list | head -1`) should
    // end quietly, as Unix tools do, rather than report a write error.
    // SAFETY: resetting a signal disposition before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    std::process::exit(agent_dispatch::cli::main(args));
}
