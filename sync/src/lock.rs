//! The lock a sync takes on a host: a file created exclusively, holding who took it
//! and when. A sync killed without releasing it must not block the host forever, so a
//! lock older than a bound is stale and may be taken over.
//!
//! Two receives may find the same stale lock at once, and a receive paused past the
//! bound may wake up after another took its lock over. So a stale lock is taken over
//! by renaming it to a name of the taker's own (only one rename of a given file can
//! succeed) and checking that what was renamed is the stale lock read, not a successor's
//! fresh one; and a lock is refreshed or released only while it still names its own
//! holder. That read-compare-write leaves one window of a few system calls: a taker
//! that finds this very lock stale between the read and the write (possible only when
//! the holder was itself paused past the bound) loses its lock to the refresh, and
//! finds it gone at its own next refresh.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why the lock could not be taken or kept.
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
    /// The lock held was taken over (it went stale) or removed.
    #[error("lost the lock {path}: another sync took it over")]
    Lost {
        /// The lock file.
        path: PathBuf,
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

/// A lock file's text: its time (0 when unreadable) and holder.
fn parse(text: &str) -> (u64, &str) {
    let (taken, who) = text.trim().split_once(' ').unwrap_or(("0", ""));
    (taken.parse().unwrap_or(0), who)
}

/// A name beside `path` that no other taker uses (this process's id and a counter).
fn aside(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.stale-{}-{n}", std::process::id()))
}

/// A held lock; released (its file removed, if still its own) on drop.
#[derive(Debug)]
pub struct Lock {
    /// The lock file.
    path: PathBuf,
    /// Who holds it (written again by [`Lock::refresh`], compared before each write).
    holder: String,
}

impl Lock {
    /// Takes the lock at `path`, taking over a stale one. `holder` is written into it
    /// for the message another sync shows, and must tell this taker from any other
    /// (a process id does).
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
        // three attempts: a stale lock taken over, or one that vanished, needs another
        for _ in 0..3 {
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
                    let text = match std::fs::read_to_string(path) {
                        Ok(text) => text,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(io(e)),
                    };
                    let (taken_s, who) = parse(&text);
                    let held = |who: &str, taken_s| LockError::Held {
                        holder: who.to_string(),
                        age_s: now_s.saturating_sub(taken_s),
                        stale_s: stale_after_s,
                    };
                    if !is_stale(now_s, taken_s, stale_after_s) {
                        return Err(held(who, taken_s));
                    }
                    take_over(path, &text).map_err(|e| match e {
                        TakeOver::Successor(text) => {
                            let (taken_s, who) = parse(&text);
                            held(who, taken_s)
                        }
                        TakeOver::Io(source) => io(source),
                    })?;
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

    /// Writes `now_s` into the held lock (a temp file renamed over it), so that a sync
    /// that works longer than the staleness bound is not taken over; refused with
    /// [`LockError::Lost`] when the lock no longer names this holder.
    pub fn refresh(&self, now_s: u64) -> Result<(), LockError> {
        if !self.is_own()? {
            return Err(LockError::Lost {
                path: self.path.clone(),
            });
        }
        lcc_core::atomic::write_atomic(&self.path, format!("{now_s} {}\n", self.holder).as_bytes())
            .map_err(|source| LockError::Io {
                path: self.path.clone(),
                source,
            })
    }

    /// Removes the lock if it still names this holder (a successor's is left alone).
    /// Done by drop too; releasing twice is harmless.
    pub fn release(&self) {
        if self.is_own().unwrap_or(false) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Whether the lock file names this holder.
    fn is_own(&self) -> Result<bool, LockError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(parse(&text).1 == self.holder),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(LockError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }
}

/// Why a stale lock was not taken over.
enum TakeOver {
    /// What was renamed was not the stale lock read but a successor's (its text),
    /// now put back.
    Successor(String),
    /// Renaming or reading failed.
    Io(std::io::Error),
}

/// Moves the stale lock `path`, read as `stale`, out of the way. Only one of several
/// takers can rename a given file; one that renames a successor's lock instead (the
/// stale one was taken over between its read and its rename) puts it back.
fn take_over(path: &Path, stale: &str) -> Result<(), TakeOver> {
    let moved = aside(path);
    match std::fs::rename(path, &moved) {
        Ok(()) => {}
        // another taker renamed it first: try to create it again
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(TakeOver::Io(e)),
    }
    let text = std::fs::read_to_string(&moved).map_err(TakeOver::Io)?;
    if text == stale {
        let _ = std::fs::remove_file(&moved);
        return Ok(());
    }
    // a link never replaces a lock a third taker made meanwhile
    let _ = std::fs::hard_link(&moved, path);
    let _ = std::fs::remove_file(&moved);
    Err(TakeOver::Successor(text))
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.release();
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
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("ls").count(),
            0,
            "nothing left beside it"
        );
    }

    /// The race: B read the same stale lock as A, but A took it over first; B's
    /// takeover renames A's fresh lock, sees it is not the stale one, and puts it back.
    #[test]
    fn a_takeover_that_lost_the_race_leaves_the_winner_its_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sync.lock");
        std::fs::write(&path, "1000 op@dead\n").expect("stale lock");
        let stale_read_by_b = std::fs::read_to_string(&path).expect("read");
        let a = Lock::take(&path, "op@a", 2000, 60).expect("A takes the stale lock over");
        match take_over(&path, &stale_read_by_b) {
            Err(TakeOver::Successor(text)) => assert_eq!(text, "2000 op@a\n"),
            Err(TakeOver::Io(e)) => panic!("io: {e}"),
            Ok(()) => panic!("B removed A's fresh lock"),
        }
        assert_eq!(std::fs::read_to_string(&path).expect("lock"), "2000 op@a\n");
        a.refresh(2001).expect("A still holds it");
        let err = Lock::take(&path, "op@b", 2002, 60).expect_err("B must wait");
        assert!(err.to_string().contains("(op@a, 1s ago)"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
        // B came second to a lock already gone: it creates its own only if free
        drop(a);
        assert_eq!(take_over(&path, &stale_read_by_b).ok(), Some(()));
    }

    /// A receive paused past the bound wakes up after a successor took over: its
    /// refresh and its release leave the successor's lock alone.
    #[test]
    fn a_lock_taken_over_is_neither_refreshed_nor_released_by_its_old_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sync.lock");
        let paused = Lock::take(&path, "op@a", 1000, 60).expect("first");
        let successor = Lock::take(&path, "op@b", 1100, 60).expect("taken over");
        let err = paused.refresh(1101).expect_err("lost");
        assert_eq!(
            err.to_string(),
            format!(
                "lost the lock {}: another sync took it over",
                path.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&path).expect("lock"), "1100 op@b\n");
        drop(paused);
        assert!(path.exists(), "the successor's lock stays");
        successor.refresh(1102).expect("the successor refreshes");
        successor.release();
        assert!(!path.exists(), "released by its holder");
        drop(successor); // a second release finds nothing to do
        let third = Lock::take(&path, "op@c", 1103, 60).expect("free again");
        third.refresh(1104).expect("refresh");
    }
}
