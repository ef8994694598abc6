//! agent-dispatch: hand a task from one Claude Code session to a Claude Code
//! session running in another project's directory. This crate is both the
//! CLI (`cli`) and, in later modules, the MCP stdio server. Layers, top to
//! bottom: `cli` (surface) → `views`, `config` (services) → `state`
//! (file primitives) → the OS.

pub mod cli;
pub mod config;
pub mod ids;
pub mod pyfmt;
pub mod runner;
pub mod state;
pub mod views;
