//! Process entry point: hands argv to the CLI and turns its verdict into
//! the exit code.

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    std::process::exit(agent_dispatch::cli::main(args));
}
