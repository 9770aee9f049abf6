//! One daemon per cluster: an exclusive flock on `.lcc/daemon.lock`, and `daemon.pid`
//! saying who holds it.

use lcc_core::atomic::write_atomic;
use lcc_core::layout::Layout;
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
    lcc_core::layout::make_private_dir(&layout.state)
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

/// The pid of the daemon holding the lock: the kernel's word (`/proc/locks`) first, since
/// `daemon.pid` can be stale or corrupted; else the pid in `daemon.pid`, if any.
pub fn holder_pid(layout: &Layout) -> Option<i32> {
    flock_holder(&layout.lock()).or_else(|| {
        std::fs::read_to_string(layout.daemon_pid())
            .ok()?
            .trim()
            .parse()
            .ok()
    })
}

/// The pid holding a flock on `path`, from `/proc/locks` lines such as
/// `1: FLOCK  ADVISORY  WRITE 4242 00:2f:1234 0 EOF` (device in hex, then the inode).
fn flock_holder(path: &std::path::Path) -> Option<i32> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    let dev = nix::sys::stat::major(meta.dev()) << 32 | nix::sys::stat::minor(meta.dev());
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&"FLOCK") {
            return None;
        }
        let mut id = fields.get(5)?.split(':');
        let major = u64::from_str_radix(id.next()?, 16).ok()?;
        let minor = u64::from_str_radix(id.next()?, 16).ok()?;
        let inode: u64 = id.next()?.parse().ok()?;
        let same_file = (major << 32 | minor) == dev && inode == meta.ino();
        same_file.then(|| fields.get(4)?.parse().ok())?
    })
}

/// Whether a live daemon holds the lock. A daemon killed a moment ago may hold it still
/// (a zombie whose other threads are exiting): that one is waited out for up to `wait`
/// rather than taken for a running daemon.
pub fn held_by_live_daemon(layout: &Layout, wait: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + wait;
    let dying = || holder_pid(layout).is_none_or(dying);
    while is_held(layout) && dying() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    is_held(layout)
}

/// Whether `pid` is on its way out: gone, a zombie, exiting (`PF_EXITING` in its stat
/// flags), or with a SIGKILL pending. Right after `kill -9` the state is still R or D
/// for a moment, and only the pending signal tells.
fn dying(pid: i32) -> bool {
    const PF_EXITING: u64 = 0x4;
    const SIGKILL_BIT: u64 = 1 << (9 - 1);
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return true;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first().copied().unwrap_or("X");
    let flags: u64 = fields.get(6).and_then(|f| f.parse().ok()).unwrap_or(0);
    if matches!(state, "Z" | "X" | "x") || flags & PF_EXITING != 0 {
        return true;
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().any(|line| {
        let pending = line
            .strip_prefix("ShdPnd:")
            .or_else(|| line.strip_prefix("SigPnd:"));
        pending
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .is_some_and(|mask| mask & SIGKILL_BIT != 0)
    })
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

    #[test]
    fn the_holder_is_found_even_with_a_garbage_pid_file() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let _held = DaemonLock::acquire(&layout).unwrap();
        std::fs::write(layout.daemon_pid(), "garbage\n").unwrap();
        assert_eq!(holder_pid(&layout), Some(std::process::id() as i32));
    }
}
