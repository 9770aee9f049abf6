//! Shared helpers of the fault-injection suite (tests/faults_*.rs): running the real
//! binaries with a deadline and a memory cap, raw HTTP over std sockets, and bounded waits.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
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
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a bounded run of a command gave.
#[derive(Debug)]
pub struct Bounded {
    /// Exit code; None when killed by a signal (or by the deadline).
    pub code: Option<i32>,
    /// Whether the deadline killed it.
    pub timed_out: bool,
    /// Captured stdout.
    pub stdout: Vec<u8>,
    /// Captured stderr.
    pub stderr: Vec<u8>,
    /// Wall time taken.
    pub took: Duration,
}

impl Bounded {
    /// Stderr as text.
    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs `lcc ARGS` in `cwd` under a virtual-memory cap (`ulimit -v`, KiB) and a wall
/// deadline, so that a runaway input cannot take the machine or the suite with it.
pub fn lcc_bounded(cwd: &Path, args: &[&str], mem_kib: u64, deadline: Duration) -> Bounded {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {mem_kib}; exec \"$0\" \"$@\""))
        .arg(lcc_bin())
        .args(args)
        .current_dir(cwd);
    run_with_deadline(cmd, deadline)
}

/// Spawns `cmd` with piped output and kills it if it outlives `deadline`.
pub fn run_with_deadline(mut cmd: Command, deadline: Duration) -> Bounded {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out_reader = drain(child.stdout.take());
    let err_reader = drain(child.stderr.take());
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if start.elapsed() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Bounded {
        code: status.code(),
        timed_out,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
        took: start.elapsed(),
    }
}

/// Reads a pipe to its end on a thread.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}

/// Runs `lcc ARGS` in `cwd` and waits (for quick commands).
pub fn lcc(cwd: &Path, args: &[&str]) -> Output {
    Command::new(lcc_bin())
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run lcc")
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

/// A child process killed (SIGKILL) and reaped on drop.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends raw `bytes` to `addr` and reads what comes back until EOF, `read_timeout`
/// of silence, or 1 MiB; returns the bytes and whether the peer closed.
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8], read_timeout: Duration) -> (Vec<u8>, bool) {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return (Vec::new(), true);
    };
    let _ = stream.set_read_timeout(Some(read_timeout));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    // A server may cut us off mid-write: that is an allowed answer.
    let _ = stream.write_all(bytes);
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() > (1 << 20) {
                    break false;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (got, closed)
}

/// The status code of the first HTTP response in `bytes`, if any.
pub fn status_of(bytes: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next()?;
    let mut parts = line.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// `GET path` with `Connection: close`: the status and body, or None if no answer.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, Vec<u8>)> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let (bytes, _) = raw_exchange(addr, req.as_bytes(), Duration::from_secs(3));
    let status = status_of(&bytes)?;
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((status, bytes[split + 4..].to_vec()))
}
