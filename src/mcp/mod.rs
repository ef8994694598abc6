//! The MCP stdio server (`agent-dispatch serve`): JSON-RPC framing
//! (`jsonrpc`), the server loop and lifecycle (`server`), the shared state
//! (`state`), progress notifications (`progress`), the worker pool
//! (`pool`), the single stdout writer (`writer`), stderr logs (`log`) and
//! the tools (`tools`, one file per family).

pub mod jsonrpc;
pub mod log;
pub mod pool;
pub mod progress;
pub mod server;
pub mod state;
pub mod tools;
pub mod writer;
