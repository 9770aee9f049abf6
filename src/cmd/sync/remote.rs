//! Running `lcc` on a host for a sync: through the system `ssh` (the command line from
//! lcc-sync, every remote word quoted), or as a child process for the `local` host;
//! each run bounded by the host's deadline, stdin fed from a thread.

use lcc_compiler::hosts::HostSpec;
use lcc_sync::ssh::{self, Target};
use std::io::Read;
use std::process::{ChildStdin, Command, Stdio};
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
    /// Its stdout.
    pub stdout: String,
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

    /// Runs the `lcc` commands (`args` after `lcc`) one after the other while each
    /// succeeds, on the host, until `deadline`; `feed` writes the first one's stdin.
    pub fn run(
        &self,
        commands: &[Vec<String>],
        feed: Option<Feed>,
        deadline: Instant,
    ) -> Result<Output, String> {
        match self {
            Remote::Ssh { target, lcc } => {
                let argvs: Vec<Vec<&str>> = commands
                    .iter()
                    .map(|args| {
                        std::iter::once(lcc.as_str())
                            .chain(args.iter().map(String::as_str))
                            .collect()
                    })
                    .collect();
                let refs: Vec<&[&str]> = argvs.iter().map(Vec::as_slice).collect();
                let left = deadline.saturating_duration_since(Instant::now());
                let connect = left.as_secs().clamp(1, 10);
                let mut cmd = Command::new("ssh");
                cmd.args(ssh::args_all(target, connect, &refs));
                bounded(cmd, feed, deadline)
            }
            Remote::Local => {
                let exe = std::env::current_exe().map_err(|e| format!("cannot find lcc: {e}"))?;
                let mut all = Output {
                    code: Some(0),
                    stdout: String::new(),
                    stderr: String::new(),
                };
                let mut feed = feed;
                for args in commands {
                    let mut cmd = Command::new(&exe);
                    cmd.args(args);
                    let out = bounded(cmd, feed.take(), deadline)?;
                    all.stdout.push_str(&out.stdout);
                    all.stderr.push_str(&out.stderr);
                    all.code = out.code;
                    if out.code != Some(0) {
                        break;
                    }
                }
                Ok(all)
            }
        }
    }
}

/// Runs `cmd` with `feed` on its stdin; kills it at `deadline`.
fn bounded(mut cmd: Command, feed: Option<Feed>, deadline: Instant) -> Result<Output, String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    let stdin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let (Some(stdin), Some(feed)) = (stdin, feed) {
            feed(stdin);
        } // else: stdin dropped, the command reads an empty stream
    });
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = writer.join();
                return Err("timed out".to_string());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("cannot wait for ssh: {e}")),
        }
    };
    let _ = writer.join();
    Ok(Output {
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}
