//! Where an agent's process runs. A backend builds its command line
//! without knowing; the transport decides how the `Launch` is started and
//! supervised. Today every agent is local.

use std::io;
use std::time::Instant;

use super::cancel::CancelToken;
use super::process::{self, Launch, StdoutSink, Supervised};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A child process of ours, in the agent's project directory.
    Local,
}

impl Transport {
    /// Runs `launch` until completion, `deadline` or cancellation, feeding
    /// stdout to `sink` (see `process::run`).
    pub fn run<S: StdoutSink>(
        self,
        launch: &Launch,
        deadline: Instant,
        cancel: &CancelToken,
        sink: S,
    ) -> io::Result<Supervised<S>> {
        match self {
            Transport::Local => process::run(launch, deadline, cancel, sink),
        }
    }
}
