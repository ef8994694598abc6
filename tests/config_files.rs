//! What the config file goes through on disk: private modes, symlinks,
//! concurrent writers in separate processes, a writer killed mid-way, and a
//! lock held by someone else.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails on the spot

mod support;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use agent_dispatch::config::store;
use agent_dispatch::state::flock::{LOCK_WAIT, lock_exclusive};
use support::{Run, Sandbox, path_str};

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_new_config_is_0600_in_a_0700_directory() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("p");
    sandbox.run(&["add", "p", path_str(&dir), "-d", "x"]).ok();
    assert_eq!(mode(&sandbox.config()), 0o600);
    assert_eq!(mode(sandbox.config().parent().unwrap()), 0o700);
    assert_eq!(mode(&sandbox.config().with_extension("yaml.lock")), 0o600);
}

#[test]
fn a_symlinked_config_stays_a_symlink() {
    let sandbox = Sandbox::new();
    let real = sandbox.dir.path().join("dotfiles/agents.yaml");
    fs::create_dir_all(real.parent().unwrap()).unwrap();
    fs::write(&real, "agents: {}\n").unwrap();
    fs::create_dir_all(sandbox.config().parent().unwrap()).unwrap();
    symlink(&real, sandbox.config()).unwrap();
    let dir = sandbox.project("p");
    sandbox.run(&["add", "p", path_str(&dir), "-d", "x"]).ok();
    assert!(
        fs::symlink_metadata(sandbox.config())
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(fs::read_to_string(&real).unwrap().contains("  p:\n"));
}

fn spawn_adds(sandbox: &Sandbox, prefix: &str, count: usize) -> Child {
    let dir = sandbox.project("shared");
    let script = format!(
        "for i in $(seq 1 {count}); do \"$0\" add {prefix}-$i '{}' -d \"agent $i\" || exit 1; done",
        dir.display()
    );
    std::process::Command::new("sh")
        .args(["-c", &script, support::BIN])
        .env("AGENT_DISPATCH_CONFIG", sandbox.config())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn two_processes_adding_fifty_agents_each_lose_none() {
    let sandbox = Sandbox::new();
    let mut first = spawn_adds(&sandbox, "a", 50);
    let mut second = spawn_adds(&sandbox, "b", 50);
    assert!(first.wait().unwrap().success());
    assert!(second.wait().unwrap().success());
    let config = store::load(&sandbox.config()).unwrap();
    assert_eq!(config.agents.len(), 100);
    for prefix in ["a", "b"] {
        for i in 1..=50 {
            assert!(
                config.agents.contains_key(&format!("{prefix}-{i}")),
                "{prefix}-{i} lost"
            );
        }
    }
    let leftovers: Vec<_> = fs::read_dir(sandbox.config().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temp files left behind: {leftovers:?}"
    );
}

/// A config big enough that rendering and writing it takes a while.
fn write_large_config(sandbox: &Sandbox, dir: &std::path::Path) {
    let mut text = String::from("agents:\n");
    for i in 0..3000 {
        text.push_str(&format!(
            "  agent-{i}:\n    directory: {}\n    description: {}\n",
            dir.display(),
            "d".repeat(200)
        ));
    }
    sandbox.write_config(&text);
}

fn spawn_quiet_add(sandbox: &Sandbox, name: &str, dir: &std::path::Path) -> Child {
    sandbox
        .command()
        .args(["add", name, path_str(dir), "-d", "x"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn temp_files(sandbox: &Sandbox) -> Vec<String> {
    fs::read_dir(sandbox.config().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect()
}

#[test]
fn a_writer_killed_while_writing_its_temp_file_leaves_the_old_config() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("p");
    write_large_config(&sandbox, &dir);
    let mut before = sandbox.read_config();
    let mut interrupted = 0;
    for round in 0..5 {
        let mut child = spawn_quiet_add(&sandbox, &format!("new-{round}"), &dir);
        // Kill the writer the moment its temp file appears, i.e. mid-write.
        let deadline = Instant::now() + Duration::from_secs(30);
        while temp_files(&sandbox).is_empty() && Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
        }
        let _ = child.kill();
        child.wait().unwrap();
        let leftovers = temp_files(&sandbox);
        let now = sandbox.read_config();
        if now != before {
            // The kill came after the rename: the new file must be whole.
            let config = store::load(&sandbox.config()).expect("a replaced config must parse");
            assert!(
                config.agents.contains_key(&format!("new-{round}")),
                "round {round}"
            );
            before = now;
        }
        if !leftovers.is_empty() {
            interrupted += 1;
        }
        for name in leftovers {
            fs::remove_file(sandbox.config().parent().unwrap().join(name)).unwrap();
        }
    }
    assert!(
        interrupted > 0,
        "no round was killed while its temp file existed"
    );
}

#[test]
fn a_writer_killed_at_any_moment_leaves_a_complete_config() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("p");
    write_large_config(&sandbox, &dir);
    // Time one uninterrupted add, then kill later runs at points sweeping
    // from early in the run to past its usual end.
    let started = Instant::now();
    sandbox
        .run(&["add", "timing", path_str(&dir), "-d", "x"])
        .ok();
    let full = started.elapsed();
    let baseline = store::load(&sandbox.config()).unwrap().agents.len();
    let mut added = 0;
    // Ten kill points over the same sweep (0.4× to 1.84× the run).
    for round in 0..10u32 {
        let mut child = spawn_quiet_add(&sandbox, &format!("new-{round}"), &dir);
        std::thread::sleep(full.mul_f64(0.4 + 0.16 * f64::from(round)));
        let _ = child.kill();
        child.wait().unwrap();
        let config = store::load(&sandbox.config()).expect("config must always parse");
        let now = config.agents.len() - baseline;
        assert!(
            now == added || now == added + 1,
            "round {round}: {now} added, expected {added} or one more"
        );
        added = now;
    }
    assert!(added < 10, "no run was interrupted");
}

#[test]
fn a_held_lock_makes_a_mutation_fail_cleanly_instead_of_writing_unlocked() {
    let sandbox = Sandbox::new();
    let dir = sandbox.project("p");
    sandbox.run(&["add", "p", path_str(&dir), "-d", "x"]).ok();
    let before = sandbox.read_config();
    let lock_path = sandbox.config().with_extension("yaml.lock");
    let held = lock_exclusive(&lock_path, LOCK_WAIT).unwrap();
    let started = Instant::now();
    // The 10 s wait, shortened to 1 s for the test.
    let err = Run(sandbox
        .command()
        .env("AGENT_DISPATCH_TEST_LOCK_WAIT_MS", "1000")
        .args(["update", "p", "-d", "changed"])
        .output()
        .unwrap())
    .fails(1);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "gave up too early"
    );
    assert!(
        err.contains("config is locked") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(sandbox.read_config(), before);
    drop(held);
    sandbox.run(&["update", "p", "-d", "changed"]).ok();
    // Readers never wait for the lock.
    assert!(sandbox.run(&["list"]).ok().contains("desc: changed"));
}
