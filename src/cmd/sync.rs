//! The host's side of `lcc sync` (docs/hosts.md): `lcc sync-state` (what the host has;
//! with `--session`, then the operator's request on the same connection) and `lcc
//! receive` (take a tar stream of changed files, record the commit, make sure the
//! daemon runs). The decisions and the safe extraction are in the lcc-sync crate;
//! this is the I/O around them. The operator's side is [`operator`].

mod git;
pub mod operator;
mod remote;

use crate::cli::ReceiveArgs;
use anyhow::Context;
use lcc_core::layout::Layout;
use lcc_sync::lock::Lock;
use lcc_sync::receive::{synced_files, TOKEN_ENTRY};
use lcc_sync::state::HostState;
use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

/// `lcc receive [DIR] --commit C`: lock, receive stdin, delete, record the host name
/// and the commit last (so a receive cut half way leaves the old commit recorded and
/// the next sync sends again), then bring the daemon up with `--up`.
pub fn receive(dir: &Path, args: &ReceiveArgs) -> anyhow::Result<ExitCode> {
    receive_from(dir, args, std::io::stdin().lock())
}

/// [`receive`] of the tar stream `stream`.
fn receive_from(dir: &Path, args: &ReceiveArgs, stream: impl Read) -> anyhow::Result<ExitCode> {
    let commit = &args.commit;
    let hex = (4..=64).contains(&commit.len()) && commit.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex {
        anyhow::bail!("invalid commit `{commit}`: expected 4-64 hex digits");
    }
    if let Some(host) = &args.host {
        lcc_compiler::rules::name(host)
            .map_err(|m| anyhow::anyhow!("invalid host `{host}`: {m}"))?;
    }
    let layout = Layout::new(dir);
    let sync_dir = layout.sync_dir();
    std::fs::create_dir_all(&sync_dir)
        .with_context(|| format!("cannot create {}", sync_dir.display()))?;
    let now = unix_now();
    let holder = format!("lcc receive pid {}", std::process::id());
    let lock = Lock::take(&layout.sync_lock(), &holder, now, args.lock_stale_s)?;
    // refreshed every quarter of its staleness bound: a long receive keeps its lock
    let every = Duration::from_secs((args.lock_stale_s / 4).max(1));
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let lock = &lock;
        s.spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                let _ = lock.refresh(unix_now());
            }
        });
        let done = receive_locked(dir, &layout, args, stream);
        drop(stop);
        done
    })?;
    drop(lock);
    if args.up {
        return up(dir);
    }
    Ok(ExitCode::SUCCESS)
}

/// What `lcc receive` does under the lock.
fn receive_locked(
    dir: &Path,
    layout: &Layout,
    args: &ReceiveArgs,
    stream: impl Read,
) -> anyhow::Result<()> {
    let commit = &args.commit;
    if let Some(expected) = &args.if_commit {
        let recorded = recorded(&layout.sync_commit()).unwrap_or_else(|| "-".to_string());
        if &recorded != expected {
            anyhow::bail!(
                "the host changed since this sync read it (now at {recorded}): run lcc sync again"
            );
        }
    }
    let got = lcc_sync::receive::receive(stream, dir, &args.delete)?;
    if let Some(host) = &args.host {
        lcc_core::atomic::write_atomic(&layout.sync_host(), format!("{host}\n").as_bytes())
            .context("cannot record the host name")?;
    }
    lcc_core::atomic::write_atomic(&layout.sync_commit(), format!("{commit}\n").as_bytes())
        .context("cannot record the commit")?;
    let s = if got.files.len() == 1 { "" } else { "s" };
    println!("received {} file{s} at {commit}", got.files.len());
    if !got.deleted.is_empty() {
        println!("removed {}", got.deleted.len());
    }
    Ok(())
}

/// Seconds since the epoch.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Starts the cluster's daemon (`lcc up -d DIR`) unless one runs: a running daemon
/// sees the changed manifests by itself and reloads them.
fn up(dir: &Path) -> anyhow::Result<ExitCode> {
    if daemon_up(dir) {
        println!("daemon running: it reloads the manifests");
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe().context("cannot find the lcc executable")?;
    let status = std::process::Command::new(exe)
        .args(["up", "-d"])
        .arg(dir)
        .status()
        .context("cannot run lcc up -d")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Whether a live daemon runs the cluster in `dir` (nothing is created to find out).
fn daemon_up(dir: &Path) -> bool {
    let layout = Layout::new(dir);
    layout.lock().exists()
        && lcc_supervisor::lock::held_by_live_daemon(&layout, Duration::from_secs(3))
}

/// The first line of a file, if it has one.
fn recorded(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().next()?.trim().to_string();
    (!line.is_empty()).then_some(line)
}

/// `lcc sync-state [DIR] [--session]`: the host's state for a sync
/// ([`lcc_sync::state`]); a directory that does not exist yet is a host never synced.
/// With `--session`, then `end`, and the operator's request ([`lcc_sync::request`]) is
/// read from stdin and carried out: one connection for the whole sync of a host.
pub fn state(dir: &Path, session: bool) -> anyhow::Result<ExitCode> {
    let layout = Layout::new(dir);
    let mut state = HostState {
        commit: recorded(&layout.sync_commit()),
        host: recorded(&layout.sync_host()),
        daemon_up: daemon_up(dir),
        files: Default::default(),
    };
    for rel in synced_files(dir)
        .into_iter()
        .chain([TOKEN_ENTRY.to_string()])
    {
        if let Ok(digest) = lcc_sync::digest::of_file(&dir.join(&rel)) {
            state.files.insert(rel, digest);
        }
    }
    let mut out = std::io::stdout().lock();
    write!(out, "{}", lcc_sync::state::render(&state))?;
    if !session {
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "end")?;
    out.flush()?;
    drop(out);
    let mut input = std::io::BufReader::new(std::io::stdin().lock());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            break; // the operator went away: nothing asked
        }
        let line = line.trim_end_matches('\n').to_string();
        let last = line.is_empty() || (lines.is_empty() && line == "done");
        lines.push(line);
        if last {
            break;
        }
    }
    let request = lcc_sync::request::parse(lines.iter().map(String::as_str))
        .map_err(|m| anyhow::anyhow!("{m}"))?;
    let Some(r) = request else {
        return Ok(ExitCode::SUCCESS);
    };
    let args = ReceiveArgs {
        dir: None,
        commit: r.commit,
        host: r.host,
        if_commit: r.if_commit,
        delete: r.delete,
        up: r.up,
        lock_stale_s: lcc_core::layout::SYNC_LOCK_STALE_S,
    };
    receive_from(dir, &args, input)
}
