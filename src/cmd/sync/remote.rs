//! Talking to a host for a sync, over one connection: the system `ssh` (the command
//! line from lcc-sync, every remote word quoted) running `lcc --version && lcc
//! sync-state DIR --session`, or that command as a child process for the `local` host.
//! The host prints its state and `end`; the operator answers with its request and the
//! files' tar stream (from a thread); everything bounded by the host's deadline.

use lcc_compiler::hosts::HostSpec;
use lcc_sync::ssh::{self, Target};
use std::io::{BufRead, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Writes a command's stdin (a tar stream); runs on its own thread.
pub type Feed = Box<dyn FnOnce(ChildStdin) + Send>;

/// How a host is reached.
#[derive(Debug, Clone)]
pub enum Remote {
    /// This machine: `lcc` is this executable.
    Local,
    /// Over ssh; `lcc` is `ssh.lcc` (a path, or `lcc` on the login's PATH).
    Ssh {
        /// Address and login.
        target: Target,
        /// The host's `lcc`.
        lcc: String,
    },
}

/// What a finished run gave.
#[derive(Debug)]
pub struct Output {
    /// Exit code (None: killed by a signal).
    pub code: Option<i32>,
    /// Its stderr.
    pub stderr: String,
}

impl Remote {
    /// How to reach `host`.
    pub fn of(host: &HostSpec) -> Remote {
        if host.is_local() {
            return Remote::Local;
        }
        Remote::Ssh {
            target: Target {
                address: host.address.clone(),
                user: host.ssh.user.clone(),
                port: host.ssh.port,
                identity_file: host.ssh.identity_file.clone(),
                jump_host: host.ssh.jump_host.clone(),
                options: host.ssh.options.clone(),
            },
            lcc: host.ssh.lcc.clone(),
        }
    }

    /// The host's `lcc`, for messages.
    pub fn lcc(&self) -> String {
        match self {
            Remote::Local => "this lcc".to_string(),
            Remote::Ssh { lcc, .. } => lcc.clone(),
        }
    }

    /// Opens a sync session with the host, one connection for all of it: `lcc
    /// --version` (over ssh), then `lcc sync-state DIR --session`, whose state is read
    /// with [`Session::state`] and whose request is sent with [`Session::finish`].
    pub fn session(&self, host_dir: &str, deadline: Instant) -> Result<Session, String> {
        let state = ["sync-state", host_dir, "--session"];
        let mut cmd = match self {
            Remote::Ssh { target, lcc } => {
                let version = [lcc.as_str(), "--version"];
                let session: Vec<&str> = std::iter::once(lcc.as_str()).chain(state).collect();
                let left = deadline.saturating_duration_since(Instant::now());
                let connect = left.as_secs().clamp(1, 10);
                let mut cmd = Command::new("ssh");
                cmd.args(ssh::args_all(target, connect, &[&version, &session]));
                cmd
            }
            Remote::Local => {
                let exe = std::env::current_exe().map_err(|e| format!("cannot find lcc: {e}"))?;
                let mut cmd = Command::new(exe);
                cmd.args(state);
                cmd
            }
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take();
        std::thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = read_all(child.stderr.take());
        Ok(Session {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr: Some(stderr),
            deadline,
        })
    }
}

/// A running `lcc sync-state --session` on a host.
#[derive(Debug)]
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Its stdout, line by line.
    lines: Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
    deadline: Instant,
}

/// What the host printed before its state, and the state's lines.
#[derive(Debug)]
pub struct Reported {
    /// The first line when it is `lcc VERSION` (over ssh).
    pub version: Option<String>,
    /// The state's text.
    pub state: String,
}

impl Session {
    /// Reads the host's report up to `end`; when the command ends first, its output.
    pub fn state(&mut self) -> Result<Reported, Failure> {
        let mut version = None;
        let mut state = String::new();
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line == "end" => return Ok(Reported { version, state }),
                Ok(line) if line.starts_with("lcc ") && version.is_none() && state.is_empty() => {
                    version = Some(line)
                }
                Ok(line) => {
                    state.push_str(&line);
                    state.push('\n');
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.kill();
                    return Err(Failure::TimedOut);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let out = self.wait();
                    return Err(match out {
                        Ok(out) => Failure::Ended { version, out },
                        Err(f) => f,
                    });
                }
            }
        }
    }

    /// Sends the request (`None`: nothing to do) and the files' stream, then waits for
    /// the host to finish.
    pub fn finish(mut self, request: String, feed: Option<Feed>) -> Result<Output, Failure> {
        let stdin = self.stdin.take();
        let writer = std::thread::spawn(move || {
            let Some(mut stdin) = stdin else { return };
            if stdin.write_all(request.as_bytes()).is_err() {
                return; // the host went away: its exit code tells why
            }
            if let Some(feed) = feed {
                feed(stdin);
            }
        });
        let out = self.wait();
        let _ = writer.join();
        out
    }

    /// Waits for the command to end (killing it at the deadline); its output.
    fn wait(&mut self) -> Result<Output, Failure> {
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= self.deadline => {
                    self.kill();
                    return Err(Failure::TimedOut);
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(Failure::Other(format!("cannot wait for ssh: {e}"))),
            }
        };
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        Ok(Output {
            code: status.code(),
            stderr,
        })
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // a session given up (refused host, panic): its process must not outlive it
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// Why a session gave no state or no result.
#[derive(Debug)]
pub enum Failure {
    /// The host's deadline passed.
    TimedOut,
    /// The command ended before its state's end (ssh failed, no or an old `lcc`).
    Ended {
        /// The `lcc --version` line, if it came.
        version: Option<String>,
        /// Its output.
        out: Output,
    },
    /// Something else, said.
    Other(String),
}

/// A pipe read to its end on a thread.
fn read_all(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}
