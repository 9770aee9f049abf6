//! The lock a sync takes on a host: a file created exclusively, holding who took it
//! and when. A sync killed without releasing it must not block the host forever, so a
//! lock older than a bound is stale and may be taken over.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another sync holds it.
    #[error(
        "host is locked by another sync ({holder}, {age_s}s ago); it is stale after {stale_s}s"
    )]
    Held {
        /// What the lock file says.
        holder: String,
        /// Its age in seconds.
        age_s: u64,
        /// The staleness bound.
        stale_s: u64,
    },
    /// The lock file could not be made or read.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Whether a lock taken at `taken_s` is stale at `now_s` (Unix seconds). A lock from
/// the future (a clock set back) stays fresh until `now_s` passes its time by the
/// bound, so that a clock jump alone never breaks a live lock.
pub fn is_stale(now_s: u64, taken_s: u64, stale_after_s: u64) -> bool {
    now_s.saturating_sub(taken_s) > stale_after_s
}

/// A held lock; released (its file removed) on drop.
#[derive(Debug)]
pub struct Lock {
    /// The lock file.
    path: PathBuf,
    /// Who holds it (written again by [`Lock::refresh`]).
    holder: String,
}

impl Lock {
    /// Takes the lock at `path`, taking over a stale one. `holder` is written into it
    /// for the message another sync shows.
    pub fn take(
        path: &Path,
        holder: &str,
        now_s: u64,
        stale_after_s: u64,
    ) -> Result<Lock, LockError> {
        let io = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        // two attempts: the second after removing a stale lock
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut file) => {
                    writeln!(file, "{now_s} {holder}").map_err(io)?;
                    return Ok(Lock {
                        path: path.to_path_buf(),
                        holder: holder.to_string(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(path).unwrap_or_default();
                    let (taken, who) = text.trim().split_once(' ').unwrap_or(("0", ""));
                    let taken_s = taken.parse().unwrap_or(0);
                    if !is_stale(now_s, taken_s, stale_after_s) {
                        return Err(LockError::Held {
                            holder: who.to_string(),
                            age_s: now_s.saturating_sub(taken_s),
                            stale_s: stale_after_s,
                        });
                    }
                    std::fs::remove_file(path).map_err(io)?;
                }
                Err(e) => return Err(io(e)),
            }
        }
        Err(LockError::Held {
            holder: "another sync took it over".to_string(),
            age_s: 0,
            stale_s: stale_after_s,
        })
    }
}

impl Lock {
    /// Writes `now_s` into the held lock (a temp file renamed over it), so that a sync
    /// that works longer than the staleness bound is not taken over.
    pub fn refresh(&self, now_s: u64) -> Result<(), LockError> {
        lcc_core::atomic::write_atomic(&self.path, format!("{now_s} {}\n", self.holder).as_bytes())
            .map_err(|source| LockError::Io {
                path: self.path.clone(),
                source,
            })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staleness() {
        let table = [
            (100, 100, 60, false),
            (160, 100, 60, false),
            (161, 100, 60, true),
            (50, 100, 60, false), // taken "in the future": fresh
            (u64::MAX, 0, 60, true),
        ];
        for (now, taken, bound, stale) in table {
            assert_eq!(is_stale(now, taken, bound), stale, "{now} {taken} {bound}");
        }
    }

    #[test]
    fn a_held_lock_refuses_a_stale_one_is_taken_over_and_drop_releases() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sync.lock");
        let first = Lock::take(&path, "op@a", 1000, 60).expect("first");
        let err = Lock::take(&path, "op@b", 1010, 60).expect_err("held");
        assert_eq!(
            err.to_string(),
            "host is locked by another sync (op@a, 10s ago); it is stale after 60s"
        );
        first.refresh(1050).expect("refresh");
        let err = Lock::take(&path, "op@b", 1100, 60).expect_err("refreshed: held");
        assert!(err.to_string().contains("(op@a, 50s ago)"), "{err}");
        std::mem::forget(first); // a killed sync leaves its lock behind
        let second = Lock::take(&path, "op@b", 1111, 60).expect("stale lock taken over");
        drop(second);
        assert!(!path.exists(), "released on drop");
    }
}
