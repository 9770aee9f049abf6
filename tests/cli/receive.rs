//! `lcc receive`, the host's side of a sync: a real `tar` stream on stdin lands in the
//! cluster directory and the commit is recorded; an unsafe stream changes nothing.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `lcc receive DIR --commit C ARGS` started, its stdin, stdout and stderr piped.
fn spawn_receive(dir: &Path, commit: &str, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_lcc"))
        .args(["receive", dir.to_str().expect("utf-8"), "--commit", commit])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lcc receive")
}

/// `lcc receive DIR --commit C` with `stream` on stdin.
fn receive(dir: &Path, commit: &str, stream: &[u8]) -> Output {
    let mut child = spawn_receive(dir, commit, &[]);
    let mut stdin = child.stdin.take().expect("stdin");
    // a refused stream may be dropped before it is all read
    let _ = stdin.write_all(stream);
    drop(stdin);
    child.wait_with_output().expect("wait for lcc receive")
}

/// A tar stream of `files` under `root`, made by the system `tar`.
fn tar_of(root: &Path, files: &[&str]) -> Vec<u8> {
    let out = Command::new("tar")
        .arg("-C")
        .arg(root)
        .arg("-cf")
        .arg("-")
        .args(files)
        .output()
        .expect("run tar");
    assert!(
        out.status.success(),
        "tar: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn files_land_and_the_commit_is_recorded_last() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    let dir = tmp.path().join("cluster");
    std::fs::create_dir_all(src.join("apps")).expect("mkdir");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(src.join("hosts.yaml"), "kind: Storage\nname: s\n").expect("write");
    std::fs::write(src.join("apps/web.yaml"), "kind: Storage\nname: w\n").expect("write");
    let out = receive(&dir, "0123abcd", &tar_of(&src, &["hosts.yaml", "apps"]));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "received 2 files at 0123abcd\n"
    );
    assert_eq!(out.status.code(), Some(0));
    let commit = std::fs::read_to_string(dir.join(".lcc/sync/commit")).expect("commit");
    assert_eq!(commit, "0123abcd\n");
    assert!(dir.join("apps/web.yaml").is_file());
    assert!(!dir.join(".lcc/sync/lock").exists(), "lock released");
}

#[test]
fn a_stream_reaching_outside_or_into_lcc_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    let dir = tmp.path().join("cluster");
    std::fs::create_dir_all(src.join(".lcc")).expect("mkdir");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(src.join("a.yaml"), "x").expect("write");
    std::fs::write(src.join(".lcc/daemon.pid"), "1").expect("write");
    std::os::unix::fs::symlink("/etc", src.join("etc")).expect("symlink");
    let cases = [
        (
            vec!["a.yaml", ".lcc/daemon.pid"],
            "lcc: refused tar entry `.lcc/daemon.pid`: the host's `.lcc/` is not synced\n",
        ),
        (
            vec!["a.yaml", "etc"],
            "lcc: refused tar entry `etc`: only plain files and directories are accepted\n",
        ),
    ];
    for (files, message) in cases {
        let out = receive(&dir, "0123abcd", &tar_of(&src, &files));
        assert_eq!(String::from_utf8_lossy(&out.stderr), message);
        assert_eq!(out.status.code(), Some(1));
        assert!(!dir.join("a.yaml").exists(), "nothing moved in");
        assert!(!dir.join(".lcc/sync/commit").exists(), "no commit recorded");
    }
}

#[test]
fn a_commit_that_is_not_hex_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = receive(tmp.path(), "$(reboot)", b"");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "lcc: invalid commit `$(reboot)`: expected 4-64 hex digits\n"
    );
    assert_eq!(out.status.code(), Some(1));
}

/// A link cut mid-stream leaves `lcc receive` waiting for bytes that never come (TCP
/// alone gives up only after hours): once the stream is silent for half the lock's
/// staleness bound it gives up, releases the lock and moves nothing in; the next
/// receive clears what it had extracted.
#[test]
fn a_stream_that_goes_silent_gives_up_and_releases_the_lock() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    let dir = tmp.path().join("cluster");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(src.join("a.yaml"), "kind: Storage\nname: a\n").expect("write");
    std::fs::write(src.join("big.yaml"), "#".repeat(8192)).expect("write");
    let stream = tar_of(&src, &["a.yaml", "big.yaml"]);
    let mut child = spawn_receive(&dir, "0123abcd", &["--lock-stale-s", "2"]);
    let mut stdin = child.stdin.take().expect("stdin");
    // a.yaml whole, then part of big.yaml; the pipe stays open, as a cut link's would
    let started = std::time::Instant::now();
    stdin
        .write_all(&stream[..3072])
        .expect("part of the stream");
    stdin.flush().expect("flush");
    let deadline = started + std::time::Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("lcc receive still waits after 20s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let waited = started.elapsed();
    let out = child.wait_with_output().expect("output");
    drop(stdin);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "lcc: no data from the operator for 1s: gave up\n"
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        waited >= std::time::Duration::from_millis(900),
        "{waited:?}"
    );
    assert!(!dir.join(".lcc/sync/lock").exists(), "lock released");
    assert!(!dir.join("a.yaml").exists(), "nothing moved in");
    assert!(!dir.join(".lcc/sync/commit").exists(), "no commit recorded");

    let out = receive(&dir, "0123abcd", &stream);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
    assert!(dir.join("big.yaml").is_file());
    assert!(!dir.join(".lcc/sync/incoming").exists(), "staging cleared");
}
