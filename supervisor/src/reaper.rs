//! The daemon as child subreaper: every process it spawns is tracked so that its exit
//! status reaches whoever waits for it, and every other child that ends under us (pod
//! apps re-parented to the subreaper) is reaped so no zombie is left.

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::process::Command;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// Spawns tracked children and reaps every child.
#[derive(Debug, Default)]
pub struct Reaper {
    waiters: Mutex<HashMap<i32, oneshot::Sender<i32>>>,
}

/// What one call to [`Reaper::reap`] collected.
#[derive(Debug, Default)]
pub struct Reaped {
    /// Untracked children that ended (re-parented pod apps).
    pub untracked: Vec<i32>,
    /// Tracked children that ended.
    pub tracked: Vec<i32>,
}

/// Makes this process a child subreaper, so orphaned pod apps become our children.
pub fn become_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// Exit code of a wait status: the code, or 128 + signal like a shell.
fn code(status: WaitStatus) -> Option<(i32, i32)> {
    match status {
        WaitStatus::Exited(pid, c) => Some((pid.as_raw(), c)),
        WaitStatus::Signaled(pid, sig, _) => Some((pid.as_raw(), 128 + sig as i32)),
        _ => None,
    }
}

impl Reaper {
    /// Spawns `cmd` and returns its pid and a receiver for its exit code.
    pub fn spawn(&self, cmd: &mut Command) -> std::io::Result<(i32, oneshot::Receiver<i32>)> {
        // Hold the lock across spawn and insert so that a fast exit is never reaped unseen.
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        let child = cmd.spawn()?;
        let pid = child.id() as i32;
        let (tx, rx) = oneshot::channel();
        waiters.insert(pid, tx);
        Ok((pid, rx))
    }

    /// Reaps every ended child without blocking.
    pub fn reap(&self) -> Reaped {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Reaped::default();
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) => {
                    let Some((pid, c)) = code(status) else {
                        continue;
                    };
                    match waiters.remove(&pid) {
                        Some(tx) => {
                            let _ = tx.send(c);
                            out.tracked.push(pid);
                        }
                        None => out.untracked.push(pid),
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracked_exit_code_is_delivered() {
        let r = Reaper::default();
        let (_pid, mut rx) = r.spawn(Command::new("sh").args(["-c", "exit 3"])).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            r.reap();
            if let Ok(c) = rx.try_recv() {
                assert_eq!(c, 3);
                break;
            }
            assert!(std::time::Instant::now() < deadline, "child never reaped");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
