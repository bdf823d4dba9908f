//! The repository lock: a second writer fails with the holder's pid; --wait blocks.

use std::time::{Duration, Instant};

use kodiak::repo::{LockWait, RepoLock, RepoPaths};

use crate::common::TestEnv;

fn hold_lock(env: &TestEnv) -> RepoLock {
    let paths = RepoPaths::new(&env.path("demo"));
    RepoLock::acquire(&paths.lock_path(), LockWait::No).expect("taking the lock in the test")
}

fn blob(env: &TestEnv) -> String {
    let repo = env.open_repo(&env.path("demo"));
    let id = repo
        .store()
        .put(&kodiak::object::Blob {
            data: b"x".to_vec(),
        })
        .unwrap();
    repo.close().unwrap();
    id.to_hex()
}

#[test]
fn second_writer_fails_with_the_holders_pid() {
    let env = TestEnv::new();
    env.init_demo();
    let id = blob(&env);
    let lock = hold_lock(&env);
    let err = env.fails(&["-C", "demo", "update-ref", "refs/heads/main", &id], 1);
    assert_eq!(
        err,
        format!(
            "error: repository is locked by another kodiak process (pid {})\nhint: wait for the other command to finish, or pass --wait to block until the lock is free\n",
            std::process::id()
        )
    );
    drop(lock);
    env.ok(&["-C", "demo", "update-ref", "refs/heads/main", &id]);
}

#[test]
fn wait_blocks_until_the_lock_is_released() {
    let env = TestEnv::new();
    env.init_demo();
    let id = blob(&env);
    let lock = hold_lock(&env);
    let mut child = env
        .std_cmd(&["-C", "demo", "--wait", "update-ref", "refs/heads/main", &id])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        child.try_wait().unwrap().is_none(),
        "--wait returned while the lock was held"
    );
    drop(lock);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        env.ok(&["-C", "demo", "show-ref", "refs/heads/"]),
        format!("refs/heads/main {id}\n")
    );
}

#[test]
fn readers_retry_briefly() {
    let env = TestEnv::new();
    env.init_demo();
    let lock = hold_lock(&env);
    let child = env
        .std_cmd(&["-C", "demo", "show-ref"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    drop(lock);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "HEAD -> refs/heads/main (unborn)\n"
    );
}
