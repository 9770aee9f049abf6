//! `lcc sync`: the operator's side (docs/hosts.md). Checks the checkout (a clean git
//! work tree; HEAD is what is synced), works out each host's files from the placement,
//! then, one thread per host with a deadline each and one connection to it: reads what
//! the host has, decides (lcc-sync's history and changes), sends its request and the
//! changed files as a tar stream, which the host receives as `lcc receive` does
//! (removing what is no longer wanted, starting the daemon unless it runs). One line
//! per host at the end.

use super::git::Checkout;
use super::remote::{Failure, Feed, Output, Remote, Session};
use crate::cli::SyncArgs;
use crate::cmd::hosts::placement_table;
use crate::cmd::manifest::report;
use anyhow::{bail, Context};
use lcc_compiler::hosts::HostSpec;
use lcc_compiler::Plan;
use lcc_sync::changes::{changes, Changes, Digests};
use lcc_sync::history::{decide, relation, Decision};
use lcc_sync::receive::TOKEN_ENTRY;
use lcc_sync::request::Request;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How many dirty files the refusal names.
const SHOWN_DIRTY: usize = 5;

/// How a host's sync ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Files sent (the token aside) and removed.
    Synced { sent: usize, removed: usize },
    /// Nothing to do.
    Unchanged,
    /// `--dry-run`: what a sync would do.
    Would(Changes, bool),
    /// The reason.
    Failed(String),
}

/// Everything a host's thread reads.
#[derive(Debug)]
struct Job<'a> {
    checkout: &'a Checkout,
    dir: &'a Path,
    head: &'a str,
    host: &'a HostSpec,
    /// The files the host should have, with their digests (the token included).
    wanted: Digests,
    force: bool,
    dry_run: bool,
    deadline: Instant,
}

/// `lcc sync [DIR]`.
pub fn sync(dir: &Path, args: &SyncArgs) -> anyhow::Result<ExitCode> {
    let checkout = Checkout::open(dir)?;
    let head = checkout.head()?;
    let dirty = checkout.dirty()?;
    if !dirty.is_empty() {
        let more = dirty.len().saturating_sub(SHOWN_DIRTY);
        let mut shown = dirty[..dirty.len().min(SHOWN_DIRTY)].join(", ");
        if more > 0 {
            shown.push_str(&format!(" and {more} more"));
        }
        bail!(
            "{} has uncommitted changes ({shown}): commit or stash them; lcc sync sends a commit",
            dir.display()
        );
    }
    let plan = match lcc_compiler::load_cluster(dir) {
        Ok(plan) => plan,
        Err(diags) => return Ok(report(&diags, "")),
    };
    if plan.hosts.is_empty() {
        bail!(
            "no Host documents in {}: a single-machine cluster runs with lcc up (docs/hosts.md)",
            dir.display()
        );
    }
    let hosts = chosen(&plan.hosts, &args.hosts)?;
    let tracked = files(dir, &checkout)?;
    let token = ensure_token(dir)?;
    let manifests = manifests(dir, &tracked)?;
    if args.dry_run {
        print!("{}", placement_table(&plan));
    }
    let timeout = Duration::from_secs(args.timeout.max(1));
    let deadline = Instant::now() + timeout;
    let jobs: Vec<Job<'_>> = hosts
        .iter()
        .map(|host| Job {
            checkout: &checkout,
            dir,
            head: &head,
            host,
            wanted: wanted(&plan, &host.name, &tracked, &manifests, &token),
            force: args.force,
            dry_run: args.dry_run,
            deadline,
        })
        .collect();
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs.iter().map(|job| s.spawn(|| run(job))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Outcome::Failed("the host's thread panicked".into()))
            })
            .collect()
    });
    let mut failed = false;
    for (job, outcome) in jobs.iter().zip(&outcomes) {
        failed |= matches!(outcome, Outcome::Failed(_));
        println!("{}: {}", job.host.name, describe(outcome, timeout));
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The hosts to sync: all, or those named (each must exist).
fn chosen<'p>(hosts: &'p [HostSpec], names: &[String]) -> anyhow::Result<Vec<&'p HostSpec>> {
    if names.is_empty() {
        return Ok(hosts.iter().collect());
    }
    for name in names {
        if !hosts.iter().any(|h| &h.name == name) {
            let all: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            bail!(
                "no Host `{name}` in the cluster; the hosts are: {}",
                all.join(", ")
            );
        }
    }
    Ok(hosts.iter().filter(|h| names.contains(&h.name)).collect())
}

/// Every tracked file of the cluster directory with its digest (`.lcc/` aside); a
/// symbolic link or a submodule is refused (a host gets plain files only).
fn files(dir: &Path, checkout: &Checkout) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for t in checkout.tracked()? {
        if t.path == ".lcc" || t.path.starts_with(".lcc/") {
            continue;
        }
        match t.mode.as_str() {
            "120000" => bail!(
                "{} is a symbolic link: lcc sync sends plain files only",
                t.path
            ),
            "160000" => bail!(
                "{} is a git submodule: lcc sync sends plain files only",
                t.path
            ),
            _ => {}
        }
        if t.path.contains('\n') {
            bail!(
                "{:?}: a file name with a line break cannot be synced",
                t.path
            );
        }
        let digest = lcc_sync::digest::of_file(&dir.join(&t.path))
            .with_context(|| format!("cannot read {}", t.path))?;
        out.push((t.path, digest));
    }
    Ok(out)
}

/// The manifest files of the cluster, relative; each must be tracked, or the hosts
/// would run manifests the operator's commit does not hold.
fn manifests(dir: &Path, tracked: &[(String, String)]) -> anyhow::Result<BTreeSet<String>> {
    let files = lcc_compiler::manifest_files(dir).map_err(|m| anyhow::anyhow!("{m}"))?;
    let mut out = BTreeSet::new();
    for file in files {
        let path = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .to_string_lossy()
            .into_owned();
        if !tracked.iter().any(|(t, _)| *t == path) {
            bail!("{path} is a manifest git does not track (ignored?): add it, or move it out of the cluster directory");
        }
        out.insert(path);
    }
    Ok(out)
}

/// What `host` gets: its manifest files ([`Plan::host_files`]) and every tracked file
/// that is no manifest, with their digests, and the token.
fn wanted(
    plan: &Plan,
    host: &str,
    tracked: &[(String, String)],
    manifests: &BTreeSet<String>,
    token: &str,
) -> Digests {
    let own: BTreeSet<String> = plan
        .host_files
        .get(host)
        .into_iter()
        .flatten()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let mut out: Digests = tracked
        .iter()
        .filter(|(path, _)| !manifests.contains(path) || own.contains(path))
        .cloned()
        .collect();
    out.insert(TOKEN_ENTRY.to_string(), token.to_string());
    out
}

/// The cluster's peer token in the checkout (`.lcc/sync/token`, 0600), made once: 32
/// random bytes in hex. Its digest.
fn ensure_token(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join(TOKEN_ENTRY);
    if !path.exists() {
        let token = lcc_supervisor::api::token::generate().context("cannot make a token")?;
        lcc_core::atomic::write_atomic_mode(&path, token.as_bytes(), 0o600)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    lcc_sync::digest::of_file(&path).with_context(|| format!("cannot read {}", path.display()))
}

/// One host's sync.
fn run(job: &Job<'_>) -> Outcome {
    match try_run(job) {
        Ok(outcome) => outcome,
        Err(reason) => Outcome::Failed(reason),
    }
}

fn try_run(job: &Job<'_>) -> Result<Outcome, String> {
    let remote = Remote::of(job.host);
    let host_dir = job.host.dir.clone();
    let mut session = remote.session(&host_dir, job.deadline)?;
    let reported = session.state().map_err(|f| failed(&remote, f))?;
    if let Some(version) = &reported.version {
        lcc_sync::version::check(env!("CARGO_PKG_VERSION"), version)?;
    }
    let state = lcc_sync::state::parse(&reported.state)?;
    let ours = job.wanted.get(TOKEN_ENTRY).map_or("", String::as_str);
    lcc_sync::peer_token::check(state.files.get(TOKEN_ENTRY).map(String::as_str), ours)?;
    let facts = job.checkout.facts(state.commit.as_deref(), job.head);
    let seen = state.commit.as_deref().unwrap_or("-");
    if let Decision::Refuse(reason) = decide(relation(facts), job.force, seen) {
        return Err(reason);
    }
    // the `local` host whose dir is the checkout itself: the files are there already
    let in_place = remote_is_checkout(&remote, &host_dir, job.dir);
    let todo = if in_place {
        Changes::default()
    } else {
        changes(&job.wanted, &state.files)
    };
    let same = state.commit.as_deref() == Some(job.head)
        && state.host.as_deref() == Some(job.host.name.as_str());
    if todo.is_empty() && same && state.daemon_up {
        finish(session, None, None, &remote)?;
        return Ok(Outcome::Unchanged);
    }
    if job.dry_run {
        finish(session, None, None, &remote)?;
        return Ok(Outcome::Would(todo, state.daemon_up));
    }
    let request = Request {
        commit: job.head.to_string(),
        host: Some(job.host.name.clone()),
        if_commit: Some(seen.to_string()),
        delete: todo.remove.clone(),
        up: true,
    };
    let feed = stream(job.dir.to_path_buf(), todo.send.clone());
    finish(session, Some(&request), Some(feed), &remote)?;
    Ok(Outcome::Synced {
        sent: todo.send.iter().filter(|p| *p != TOKEN_ENTRY).count(),
        removed: todo.remove.len(),
    })
}

/// Sends the request (or `done`) and waits for the host's answer.
fn finish(
    session: Session,
    request: Option<&Request>,
    feed: Option<Feed>,
    remote: &Remote,
) -> Result<(), String> {
    let text = lcc_sync::request::render(request);
    let out = session.finish(text, feed).map_err(|f| failed(remote, f))?;
    if out.code != Some(0) {
        return Err(failure(remote, &out, "lcc receive"));
    }
    Ok(())
}

/// The reason of a failed session.
fn failed(remote: &Remote, f: Failure) -> String {
    match f {
        Failure::TimedOut => "timed out".to_string(),
        Failure::Other(m) => m,
        Failure::Ended { version, out } => {
            if let Some(version) = version {
                if let Err(m) = lcc_sync::version::check(env!("CARGO_PKG_VERSION"), &version) {
                    return m;
                }
            }
            failure(remote, &out, "lcc sync-state")
        }
    }
}

/// Why a run on the host failed ([`lcc_sync::reason`]).
fn failure(remote: &Remote, out: &Output, what: &str) -> String {
    let over_ssh = matches!(remote, Remote::Ssh { .. });
    lcc_sync::reason::of_exit(out.code, &out.stderr, over_ssh, &remote.lcc(), what)
}

/// Whether the host is this machine and its directory is the checkout itself.
fn remote_is_checkout(remote: &Remote, host_dir: &str, checkout: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    matches!(remote, Remote::Local)
        && canon(Path::new(host_dir)).is_some()
        && canon(Path::new(host_dir)) == canon(checkout)
}

/// A tar stream of `files` (relative to `dir`; the token under its own name).
fn stream(dir: PathBuf, files: Vec<String>) -> Feed {
    Box::new(move |stdin| {
        let mut tar = tar::Builder::new(stdin);
        tar.mode(tar::HeaderMode::Deterministic);
        for rel in &files {
            if tar.append_path_with_name(dir.join(rel), rel).is_err() {
                return; // the host stopped reading: its exit code tells why
            }
        }
        let _ = tar.finish();
    })
}

/// The report line of an outcome.
fn describe(outcome: &Outcome, timeout: Duration) -> String {
    let files = |n: usize| format!("{n} file{}", if n == 1 { "" } else { "s" });
    match outcome {
        // only the commit recorded (or the daemon started): no file changed there
        Outcome::Synced {
            sent: 0,
            removed: 0,
        } => "unchanged".to_string(),
        Outcome::Synced { sent, removed: 0 } => format!("synced ({})", files(*sent)),
        Outcome::Synced { sent, removed } => {
            format!("synced ({}, {removed} removed)", files(*sent))
        }
        Outcome::Unchanged => "unchanged".to_string(),
        Outcome::Would(c, daemon_up) => {
            let send: Vec<&str> = c
                .send
                .iter()
                .map(String::as_str)
                .filter(|p| *p != TOKEN_ENTRY)
                .collect();
            let mut line = format!("would send {}", files(send.len()));
            if !send.is_empty() {
                line.push_str(&format!(" ({})", send.join(", ")));
            }
            if send.len() < c.send.len() {
                line.push_str(", the cluster token");
            }
            if !c.remove.is_empty() {
                let removed = c.remove.join(", ");
                line.push_str(&format!(", remove {} ({removed})", c.remove.len()));
            }
            if !daemon_up {
                line.push_str(", start the daemon");
            }
            line
        }
        Outcome::Failed(reason) if reason == "timed out" => {
            format!("failed: timed out after {}s", timeout.as_secs())
        }
        Outcome::Failed(reason) => format!("failed: {reason}"),
    }
}
