//! Jobs: work that outlives one tool call. `record` is the persistent shape
//! of a job (the original's JSON, field for field); `store` owns the jobs
//! directory — creation, the guarded transitions, stale recovery and
//! garbage collection under `.jobs.lock`. The surfaces (`cli`, `mcp`) call
//! into them; neither knows about the surfaces.

pub mod record;
pub mod store;
pub mod worker;

pub use record::{Job, ProgressTail, Status, now};
pub use store::{CancelOutcome, JobStore, StoreError};
