//! The MCP stdio server (`agent-dispatch serve`): JSON-RPC framing
//! (`jsonrpc`), the server loop and lifecycle (`server`), the shared state
//! (`state`), progress notifications (`progress`), the worker pool
//! (`pool`), the single stdout writer (`writer`) and the tools (`tools`,
//! one file per family). Logs go to stderr through `crate::log`.

pub mod jsonrpc;
pub mod pool;
pub mod progress;
pub mod server;
pub mod state;
pub mod tools;
pub mod writer;
