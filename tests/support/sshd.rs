#![allow(dead_code)]
// each test crate uses a different subset
// Test support: a failed setup step should fail the test on the spot.
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A real OpenSSH server on 127.0.0.1 for the tests of remote agents,
//! started by `scripts/test-sshd` with keys of its own and stopped when
//! dropped. The "remote" directories are directories on this machine.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-sshd")
}

impl Sshd {
    pub fn start() -> Sshd {
        // Short: ssh's control sockets live under paths of this length.
        let dir = tempfile::Builder::new()
            .prefix("sshd")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let out = Command::new(script())
            .arg(dir.path())
            .output()
            .expect("run scripts/test-sshd");
        assert!(
            out.status.success(),
            "scripts/test-sshd failed (is openssh-server installed? .ci/run installs it):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        Sshd { dir, port }
    }

    pub fn user() -> String {
        let out = Command::new("id").arg("-un").output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `host` for an agent on this server.
    pub fn host(&self) -> String {
        format!("{}@127.0.0.1:{}", Sshd::user(), self.port)
    }

    /// The `ssh_options` an agent needs to log in here: this server's key
    /// and known host, as ssh reads `~/.ssh` from the passwd home only.
    pub fn options(&self) -> Vec<String> {
        let dir = self.dir.path().display();
        vec![
            format!("IdentityFile={dir}/client_key"),
            format!("UserKnownHostsFile={dir}/known_hosts"),
            "StrictHostKeyChecking=yes".into(),
            "IdentitiesOnly=yes".into(),
        ]
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
