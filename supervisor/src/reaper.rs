//! The daemon as child subreaper: every process it spawns is tracked so that its exit
//! status reaches whoever waits for it, and every other child that ends under us (pod
//! apps re-parented to the subreaper) is reaped so no zombie is left.

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, Semaphore};

/// Spawns tracked children and reaps every child.
#[derive(Debug)]
pub struct Reaper {
    state: Mutex<State>,
    /// Bounds the spawns in flight in [`Reaper::run`].
    slots: Semaphore,
}

/// The bookkeeping behind the reaper's lock.
#[derive(Debug, Default)]
struct State {
    /// Exit code receivers of tracked children, by pid.
    waiters: HashMap<i32, oneshot::Sender<i32>>,
    /// Spawns under way (forked, maybe not yet registered).
    spawning: usize,
    /// Exits reaped while a spawn was under way: one may be that spawn's child.
    early: HashMap<i32, i32>,
}

impl Default for Reaper {
    fn default() -> Self {
        Reaper {
            state: Mutex::default(),
            slots: Semaphore::new(SPAWN_SLOTS),
        }
    }
}

/// Spawns at once in [`Reaper::run`]: each waits for its child's exec, which on a
/// saturated machine takes a scheduler round, so they overlap; the bound keeps the
/// threads few.
const SPAWN_SLOTS: usize = 16;

/// Why [`Reaper::run`] has no exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The command could not be started.
    #[error("{0}")]
    Spawn(std::io::Error),
    /// The command outlived its deadline and was killed.
    #[error("timed out")]
    Timeout,
}

/// What one call to [`Reaper::reap`] collected.
#[derive(Debug, Default)]
pub struct Reaped {
    /// Untracked children that ended (re-parented pod apps; also, rarely, a tracked
    /// child that ended before its spawn returned).
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
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Spawns `cmd` and returns its pid and a receiver for its exit code.
    pub fn spawn(&self, cmd: &mut Command) -> std::io::Result<(i32, oneshot::Receiver<i32>)> {
        // Not under the lock: a spawn waits for the child's exec, and reaping (the
        // daemon's loop) must not wait for that. A fast exit reaped meanwhile is kept
        // in `early` until the spawn has its pid.
        self.lock().spawning += 1;
        let spawned = cmd.spawn();
        let mut st = self.lock();
        st.spawning -= 1;
        let out = spawned.map(|child| {
            let pid = child.id() as i32;
            let (tx, rx) = oneshot::channel();
            match st.early.remove(&pid) {
                Some(code) => {
                    let _ = tx.send(code);
                }
                None => {
                    st.waiters.insert(pid, tx);
                }
            }
            (pid, rx)
        });
        if st.spawning == 0 {
            st.early.clear();
        }
        out
    }

    /// Runs `cmd` off the caller's thread and waits for its exit code; past `deadline`
    /// it is killed.
    pub async fn run(
        self: Arc<Self>,
        mut cmd: Command,
        deadline: Duration,
    ) -> Result<i32, RunError> {
        let permit = self.slots.acquire().await;
        let me = Arc::clone(&self);
        let spawned = tokio::task::spawn_blocking(move || me.spawn(&mut cmd))
            .await
            .map_err(|e| RunError::Spawn(std::io::Error::other(e)))?;
        drop(permit);
        let (pid, rx) = spawned.map_err(RunError::Spawn)?;
        match tokio::time::timeout(deadline, rx).await {
            Ok(Ok(code)) => Ok(code),
            _ => {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                Err(RunError::Timeout)
            }
        }
    }

    /// Reaps every ended child without blocking.
    pub fn reap(&self) -> Reaped {
        let mut st = self.lock();
        let mut out = Reaped::default();
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) => {
                    let Some((pid, c)) = code(status) else {
                        continue;
                    };
                    match st.waiters.remove(&pid) {
                        Some(tx) => {
                            let _ = tx.send(c);
                            out.tracked.push(pid);
                        }
                        None => {
                            if st.spawning > 0 {
                                st.early.insert(pid, c);
                            }
                            out.untracked.push(pid);
                        }
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
