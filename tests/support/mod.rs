//! The harness every integration test shares: the binaries under test, bounded polling,
//! /proc liveness, one cluster builder ([`Cluster`]) with its manifest builders, port
//! blocks below the ephemeral range ([`ports`]), bounded command runs and /proc scans
//! ([`process`]), raw HTTP ([`http`]), hosts as network namespaces with sshd
//! ([`hosts`]), and the helpers of the pod and site tests
//! ([`pod`], [`site`]).
//!
//! Every test of the crate runs in one process, in parallel threads: nothing here (nor
//! in a test) changes the process's environment, working directory or signal handling;
//! a command gets its own through `Command::env` and `Command::current_dir`.

pub mod api;
pub mod browser;
pub mod cluster;
pub mod demo;
pub mod hosts;
pub mod http;
pub mod manifest;
pub mod pebble;
pub mod peers;
pub mod pod;
pub mod ports;
pub mod process;
pub mod rng;
pub mod sharing;
pub mod site;
pub mod squatter;
pub mod tools;

pub use cluster::Cluster;
pub use http::{http_get, raw_exchange, status_of};
pub use manifest::{gateway, group, http_app, http_app_under_faults, instance, shell_app, sleeper};
pub use ports::free_port;
pub use process::{
    kill9, kill_group, lcc_bounded, procs, run_with_deadline, signal, Bounded, KillOnDrop,
};
pub use rng::Rng;
pub use squatter::Squatter;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The `lcc` binary under test.
pub fn lcc_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lcc"))
}

/// The `lcc-proxy` binary, built next to `lcc` by `cargo build --workspace`.
pub fn proxy_bin() -> PathBuf {
    lcc_bin().with_file_name("lcc-proxy")
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `pid` runs and is not a zombie (state field of `/proc/PID/stat`).
pub fn alive(pid: i32) -> bool {
    proc_state(pid).is_some_and(|s| s != 'Z' && s != 'X')
}

/// Field 3 of `/proc/PID/stat`.
fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

/// Whether `pid` has exited completely: reaped, or a zombie whose other threads are
/// gone too (only then are its file descriptors, and so its flock, released).
pub fn gone(pid: i32) -> bool {
    if alive(pid) {
        return false;
    }
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(true, |d| d.count() <= 1)
}

/// Captured output bytes as (lossy) text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every `*.json` file in `dir` that parses (the status files of a cluster).
pub fn json_files(dir: &Path) -> Vec<serde_json::Value> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .collect()
}

/// Every file under `dir`, relative, sorted (to prove that nothing was written).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        out.push(rel);
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir {
            walk(root, &path, out);
        }
    }
}

/// Every entry under `dir` (itself as ""): kind and mode, and the bytes of a file or the
/// target of a symlink. Two equal snapshots mean nothing was changed, added or removed.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, (String, u32, Vec<u8>)> {
    let mut out = std::collections::BTreeMap::new();
    snap(dir, dir, &mut out);
    out
}

fn snap(
    root: &Path,
    path: &Path,
    out: &mut std::collections::BTreeMap<String, (String, u32, Vec<u8>)>,
) {
    let rel = path
        .strip_prefix(root)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::symlink_metadata(path).expect("stat");
    let m = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).expect("readlink");
        out.insert(
            rel,
            (
                "link".into(),
                m,
                target.into_os_string().into_encoded_bytes(),
            ),
        );
    } else if meta.file_type().is_socket() {
        // The API's socket: its mode counts, it has no content to read.
        out.insert(rel, ("socket".into(), m, Vec::new()));
    } else if meta.is_dir() {
        out.insert(rel, ("dir".into(), m, Vec::new()));
        for e in std::fs::read_dir(path).expect("read_dir").flatten() {
            snap(root, &e.path(), out);
        }
    } else {
        out.insert(rel, ("file".into(), m, std::fs::read(path).expect("read")));
    }
}
