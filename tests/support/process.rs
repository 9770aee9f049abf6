//! Processes: running a command with a deadline (and a memory cap), a kill-on-drop
//! guard, signals, and scans of `/proc`.

use super::{alive, lcc_bin};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What a bounded run of a command gave.
#[derive(Debug)]
pub struct Bounded {
    /// How it ended.
    pub status: ExitStatus,
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

    /// Stdout as text.
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
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
        status,
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

/// A child process killed (SIGKILL) and reaped on drop.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SIGKILL to a pid.
pub fn kill9(pid: i32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .output();
}

/// Sends `sig` (e.g. "STOP") to one process.
pub fn signal(sig: &str, pid: i32) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .output();
}

/// Sends `sig` (e.g. "STOP") to a process group.
pub fn kill_group(sig: &str, pgid: i32) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), "--", &format!("-{pgid}")])
        .output();
}

/// Field `n` (1-based) of `/proc/PID/stat`.
pub fn stat_field(pid: i32, n: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit(')').next()?;
    rest.split_whitespace().nth(n - 3)?.parse().ok()
}

/// When `pid` started (field 22 of `/proc/PID/stat`, clock ticks since boot): a pid
/// and its start time name one process, even once the kernel has reused the pid.
pub fn start_time(pid: i32) -> Option<u64> {
    stat_field(pid, 22)
}

/// A live process seen in /proc.
#[derive(Debug, Clone)]
pub struct Proc {
    /// Its pid.
    pub pid: i32,
    /// Its process group.
    pub pgid: i32,
    /// When it started (see [`start_time`]).
    pub start: u64,
    /// Its environment.
    pub env: Vec<(String, String)>,
    /// Its working directory.
    pub cwd: PathBuf,
}

impl Proc {
    /// The value of an environment variable.
    pub fn var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every live, non-zombie process we may read.
pub fn procs() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| alive(pid))
        .filter_map(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            let env = raw
                .split(|&b| b == 0)
                .filter_map(|kv| {
                    let kv = String::from_utf8_lossy(kv);
                    let (k, v) = kv.split_once('=')?;
                    Some((k.to_string(), v.to_string()))
                })
                .collect();
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
            let pgid = stat_field(pid, 5)? as i32;
            let start = start_time(pid)?;
            Some(Proc {
                pid,
                pgid,
                start,
                env,
                cwd,
            })
        })
        .collect()
}
