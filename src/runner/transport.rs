//! Where an agent's process runs. A backend builds its command line
//! without knowing; the transport decides how the `Launch` is started and
//! supervised: here as a child of ours, or on the agent's host through
//! ssh (`ssh`), where the reader also learns the remote process group.

use std::io;
use std::path::PathBuf;
use std::time::Instant;

use super::backend::OutputReader;
use super::cancel::CancelToken;
use super::process::{self, Launch, Supervised};
use super::ssh::{Remote, RemoteReader};

pub enum Transport {
    /// A child process of ours, in the agent's project directory.
    Local,
    /// The agent CLI on the agent's host, through the local `ssh`.
    Ssh {
        remote: Remote,
        ssh: PathBuf,
        control_dir: PathBuf,
    },
}

impl Transport {
    /// Runs `launch` until completion, `deadline` or cancellation, feeding
    /// stdout to `reader` (see `process::run`). For ssh, `launch` names the
    /// CLI and the project directory as they are on the host.
    pub fn run(
        &self,
        launch: &Launch,
        deadline: Instant,
        cancel: &CancelToken,
        reader: Box<dyn OutputReader>,
    ) -> io::Result<Supervised<Box<dyn OutputReader>>> {
        match self {
            Transport::Local => process::run(launch, deadline, cancel, reader),
            Transport::Ssh {
                remote,
                ssh,
                control_dir,
            } => {
                let wrapped = remote.wrap(ssh, control_dir, launch);
                let reader = RemoteReader::new(reader, remote.clone(), ssh, control_dir, launch);
                process::run(
                    &wrapped,
                    deadline,
                    cancel,
                    Box::new(reader) as Box<dyn OutputReader>,
                )
            }
        }
    }
}
