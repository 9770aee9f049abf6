//! One daemon per cluster: an exclusive flock on `.lcc/daemon.lock`, and `daemon.pid`
//! saying who holds it.

use crate::atomic::write_atomic;
use crate::layout::Layout;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;

/// Errors taking the daemon lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another daemon holds it.
    #[error("cluster {dir} is already up: daemon pid {pid}")]
    Held {
        /// The cluster directory.
        dir: String,
        /// The holder's pid, or `?` if unknown.
        pid: String,
    },
    /// The lock file could not be opened.
    #[error("{path}: {source}")]
    Io {
        /// The lock file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DaemonLock {
    _lock: Flock<File>,
}

fn open(layout: &Layout) -> Result<File, LockError> {
    let path = layout.lock();
    std::fs::create_dir_all(&layout.state)
        .and_then(|_| {
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
        })
        .map_err(|source| LockError::Io {
            path: path.display().to_string(),
            source,
        })
}

impl DaemonLock {
    /// Takes the lock without waiting and records our pid in `daemon.pid`.
    pub fn acquire(layout: &Layout) -> Result<DaemonLock, LockError> {
        let file = open(layout)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => {
                let pid = std::process::id();
                let path = layout.daemon_pid();
                write_atomic(&path, format!("{pid}\n").as_bytes()).map_err(|source| {
                    LockError::Io {
                        path: path.display().to_string(),
                        source,
                    }
                })?;
                Ok(DaemonLock { _lock: lock })
            }
            Err(_) => Err(LockError::Held {
                dir: layout.root.display().to_string(),
                pid: holder_pid(layout).map_or("?".into(), |p| p.to_string()),
            }),
        }
    }
}

/// The pid in `daemon.pid`, if any.
pub fn holder_pid(layout: &Layout) -> Option<i32> {
    std::fs::read_to_string(layout.daemon_pid())
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether some process holds the lock now (a running daemon).
pub fn is_held(layout: &Layout) -> bool {
    let Ok(file) = open(layout) else { return false };
    Flock::lock(file, FlockArg::LockExclusiveNonblock).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_with_pid() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let held = DaemonLock::acquire(&layout).unwrap();
        assert!(is_held(&layout));
        let err = DaemonLock::acquire(&layout).unwrap_err().to_string();
        assert!(
            err.contains(&format!("daemon pid {}", std::process::id())),
            "{err}"
        );
        drop(held);
        assert!(!is_held(&layout));
    }
}
