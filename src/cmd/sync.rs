//! `lcc receive`: the host's side of a sync (docs/hosts.md). The decisions and the
//! safe extraction are in the lcc-sync crate; this is the I/O around them.

use anyhow::Context;
use lcc_core::atomic::write_atomic;
use lcc_core::layout::Layout;
use lcc_sync::lock::Lock;
use std::path::Path;
use std::process::ExitCode;

/// `lcc receive [DIR] --commit C [--host NAME]`: lock, receive stdin, record the host's
/// name, and the commit last (so a receive cut half way leaves the old commit recorded
/// and the next sync sends again).
pub fn receive(
    dir: &Path,
    commit: &str,
    host: Option<&str>,
    lock_stale_s: u64,
) -> anyhow::Result<ExitCode> {
    let hex = (4..=64).contains(&commit.len()) && commit.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex {
        anyhow::bail!("invalid commit `{commit}`: expected 4-64 hex digits");
    }
    if let Some(host) = host {
        lcc_compiler::rules::name(host)
            .map_err(|m| anyhow::anyhow!("invalid host `{host}`: {m}"))?;
    }
    let layout = Layout::new(dir);
    let sync_dir = layout.sync_dir();
    std::fs::create_dir_all(&sync_dir)
        .with_context(|| format!("cannot create {}", sync_dir.display()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let holder = format!("lcc receive pid {}", std::process::id());
    let _lock = Lock::take(&layout.sync_lock(), &holder, now, lock_stale_s)?;
    let files = lcc_sync::receive::receive(std::io::stdin().lock(), dir)?;
    if let Some(host) = host {
        write_atomic(&layout.sync_host(), format!("{host}\n").as_bytes())
            .context("cannot record the host's name")?;
    }
    write_atomic(&layout.sync_commit(), format!("{commit}\n").as_bytes())
        .context("cannot record the commit")?;
    let s = if files.len() == 1 { "" } else { "s" };
    println!("received {} file{s} at {commit}", files.len());
    Ok(ExitCode::SUCCESS)
}
