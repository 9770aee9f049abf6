//! `lcc receive`: the host's side of a sync (docs/hosts.md). The decisions and the
//! safe extraction are in the lcc-sync crate; this is the I/O around them.

use anyhow::Context;
use lcc_sync::lock::Lock;
use std::path::Path;
use std::process::ExitCode;

/// Where a host records the commit it was last synced to, under the cluster dir.
pub const COMMIT_FILE: &str = ".lcc/sync/commit";

/// Where a sync's lock lives, under the cluster dir.
pub const LOCK_FILE: &str = ".lcc/sync/lock";

/// `lcc receive [DIR] --commit C`: lock, receive stdin, record the commit last (so a
/// receive cut half way leaves the old commit recorded and the next sync sends again).
pub fn receive(dir: &Path, commit: &str, lock_stale_s: u64) -> anyhow::Result<ExitCode> {
    let hex = (4..=64).contains(&commit.len()) && commit.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex {
        anyhow::bail!("invalid commit `{commit}`: expected 4-64 hex digits");
    }
    let sync_dir = dir.join(".lcc/sync");
    std::fs::create_dir_all(&sync_dir)
        .with_context(|| format!("cannot create {}", sync_dir.display()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let holder = format!("lcc receive pid {}", std::process::id());
    let _lock = Lock::take(&dir.join(LOCK_FILE), &holder, now, lock_stale_s)?;
    let files = lcc_sync::receive::receive(std::io::stdin().lock(), dir)?;
    lcc_core::atomic::write_atomic(&dir.join(COMMIT_FILE), format!("{commit}\n").as_bytes())
        .context("cannot record the commit")?;
    let s = if files.len() == 1 { "" } else { "s" };
    println!("received {} file{s} at {commit}", files.len());
    Ok(ExitCode::SUCCESS)
}
