//! Running `claude` for one dispatch and turning what it printed into a
//! `DispatchResult`. The interpretation layer is pure: `preflight` holds the
//! results of checks made before spawning, `interpret` reads a finished
//! run's captured output (both output modes) with the help of
//! `lenient_json` (decoding), `status_line` (the agent's STATUS marker and
//! JSON answers) and `classify` (error types and every hint text), and
//! `result` defines the answer's wire shape. Nothing in these modules
//! spawns, waits on or kills a process.

mod classify;
pub mod interpret;
pub mod lenient_json;
pub mod preflight;
pub mod result;
mod status_line;

pub use result::{DispatchResult, ErrorType, Outcome};
