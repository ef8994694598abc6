//! agent-dispatch: hand a task from one Claude Code session to a Claude Code
//! session running in another project's directory. This crate is both the
//! CLI (`cli`) and the MCP stdio server (`mcp`). Layers, top to bottom: the
//! surfaces `cli` and `mcp` → the one dispatch path `dispatch` → the
//! services `runner`, `jobs`, `limiter`, `cache`, `views`, `config` → the
//! file primitives `state` → the OS.

/// This build's version, as every surface reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod cache;
pub mod chars;
pub mod cli;
pub mod config;
pub mod dispatch;
pub mod doctor;
pub mod ids;
pub mod jobs;
pub mod limiter;
pub mod live;
pub mod log;
pub mod mcp;
pub mod panics;
pub mod pyfmt;
pub mod pyvalue;
pub mod registry;
pub mod runner;
pub mod shell;
pub mod state;
pub mod tunables;
pub mod usage;
pub mod views;
