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
use lcc_sync::receive::{synced_files, ReceiveError, TOKEN_ENTRY};
use lcc_sync::state::HostState;
use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

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
    let watch = Watch::new(args.lock_stale_s);
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let (lock, watch) = (&lock, &watch);
        s.spawn(move || watch.run(lock, &stopped));
        let stream = Watched {
            inner: stream,
            watch,
        };
        // a receive paused past the lock's bound (a stopped process) may have lost it
        // to another sync: then it moves nothing in
        let done = receive_locked(dir, &layout, args, stream, || {
            watch.read_all();
            lock.refresh(unix_now())
                .map_err(|e| ReceiveError::Stopped(e.to_string()))
        });
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
    read_all: impl FnOnce() -> Result<(), ReceiveError>,
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
    let got = lcc_sync::receive::receive_with(stream, dir, &args.delete, read_all)?;
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

/// The operator's stream under watch while a receive holds the lock. The lock is
/// refreshed only while the stream makes progress (or once it is all read, while the
/// files are moved in); a stream silent for half the lock's staleness bound (a link cut
/// mid-stream: TCP alone would keep the read blocked for hours) makes the receive give
/// up, release the lock and exit 1 before the lock could go stale, so that the next
/// sync and the daemon's reloads are not held up. What it extracted stays in
/// `.lcc/sync/incoming/`, which the next receive clears first.
struct Watch {
    /// When the receive started.
    start: Instant,
    /// When the last byte came, in milliseconds after `start`.
    last_byte_ms: AtomicU64,
    /// Whether bytes are still awaited. The watchdog holds it while it gives up, so
    /// that the files are never moved in by a receive that is exiting.
    reading: Mutex<bool>,
    /// How long the stream may stay silent: half the staleness bound.
    quiet: Duration,
    /// How often the lock is refreshed: a quarter of the bound.
    every: Duration,
}

impl Watch {
    fn new(lock_stale_s: u64) -> Watch {
        Watch {
            start: Instant::now(),
            last_byte_ms: AtomicU64::new(0),
            reading: Mutex::new(true),
            quiet: Duration::from_millis(lock_stale_s.saturating_mul(500).max(1000)),
            every: Duration::from_millis(lock_stale_s.saturating_mul(250).max(250)),
        }
    }

    /// The stream is all read: from now on no byte is awaited.
    fn read_all(&self) {
        *self.reading.lock().unwrap_or_else(PoisonError::into_inner) = false;
    }

    /// Until `stopped` fires: refresh `lock` while the receive progresses, give up
    /// (release it, exit 1) when the stream stays silent too long.
    fn run(&self, lock: &Lock, stopped: &Receiver<()>) {
        let tick = Duration::from_millis(100).min(self.every);
        // when the lock was last refreshed, as time since `start` (as `last_byte_ms`)
        let mut refreshed = Duration::ZERO;
        while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
            let reading = self.reading.lock().unwrap_or_else(PoisonError::into_inner);
            let last_byte = Duration::from_millis(self.last_byte_ms.load(Ordering::Relaxed));
            if *reading && self.start.elapsed().saturating_sub(last_byte) >= self.quiet {
                lock.release();
                eprintln!(
                    "lcc: no data from the operator for {:?}: gave up",
                    self.quiet
                );
                std::process::exit(1);
            }
            let now = self.start.elapsed();
            if now.saturating_sub(refreshed) >= self.every && (!*reading || last_byte > refreshed) {
                // a lock another sync took over is left alone (Lock::refresh)
                let _ = lock.refresh(unix_now());
                refreshed = now;
            }
        }
    }
}

/// A stream whose reads are timed by a [`Watch`] (when the last byte came).
struct Watched<'a, R> {
    inner: R,
    watch: &'a Watch,
}

impl<R: Read> Read for Watched<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            let w = self.watch;
            let ms = u64::try_from(w.start.elapsed().as_millis()).unwrap_or(u64::MAX);
            w.last_byte_ms.store(ms, Ordering::Relaxed);
        }
        Ok(n)
    }
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
