//! The MCP stdio server (`agent-dispatch serve`): JSON-RPC framing
//! (`jsonrpc`), the server loop and lifecycle (`server`), the shared state
//! (`state`), progress notifications (`progress`), the worker pools
//! (`pool`), the single stdout writer (`writer`), why and how it stops
//! (`stop`, `signals`) and the tools (`tools`, one file per family). Logs go
//! to stderr through `crate::log`.

pub mod jsonrpc;
pub mod modern;
pub mod pool;
pub mod progress;
pub mod server;
pub mod signals;
pub mod state;
pub mod stop;
pub mod subscriptions;
pub mod tasks;
pub mod tools;
pub mod writer;
