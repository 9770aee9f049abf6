//! Restart on change (`watch:` under `lcc up --watch`, as Compose's `develop.watch`):
//! which Instances and groups a changed path restarts, the 300 ms debounce, and the
//! order of a group's restarts (one replica at a time, the others serving). Pure; the
//! file events come from the daemon's one notify watcher (`watch.rs`).

use globset::{Glob, GlobSet, GlobSetBuilder};
use lcc_compiler::{Plan, WatchSpec};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Changes closer together than this are one: a restart follows the last of them by it.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// One `watch:` item of an Instance or group.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The Instance or group it restarts.
    pub target: String,
    /// The file or directory watched.
    pub path: PathBuf,
    /// Paths (relative to `path`) whose changes do not count.
    ignore: GlobSet,
}

/// The rules of a plan's Instances and groups.
pub fn of_plan(plan: &Plan) -> Vec<Rule> {
    let instances = plan
        .instances
        .iter()
        .map(|i| (i.spec.instance.as_str(), i.watch.as_slice()));
    let groups = plan
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.watch.as_slice()));
    rules(instances.chain(groups))
}

/// The rules of `(target, its watch list)` pairs (globs that do not compile, refused by
/// validation, are dropped).
pub fn rules<'a>(lists: impl IntoIterator<Item = (&'a str, &'a [WatchSpec])>) -> Vec<Rule> {
    lists
        .into_iter()
        .flat_map(|(target, list)| {
            list.iter().map(move |w| {
                let mut ignore = GlobSetBuilder::new();
                for glob in w.ignore.iter().filter_map(|g| Glob::new(g).ok()) {
                    ignore.add(glob);
                }
                Rule {
                    target: target.to_string(),
                    path: PathBuf::from(&w.path),
                    ignore: ignore.build().unwrap_or_else(|_| GlobSet::empty()),
                }
            })
        })
        .collect()
}

/// The Instances and groups a change of `changed` restarts: those watching a path that
/// holds it (or is it), unless an ignore glob matches it relative to that path or by
/// its file name. Nothing under the cluster's `state` directory (`.lcc`) counts.
pub fn affected(rules: &[Rule], changed: &Path, state: &Path) -> BTreeSet<String> {
    if changed.starts_with(state) {
        return BTreeSet::new();
    }
    rules
        .iter()
        .filter(|r| {
            let Ok(relative) = changed.strip_prefix(&r.path) else {
                return false;
            };
            let name = changed.file_name().map(Path::new);
            let ignored = (!relative.as_os_str().is_empty() && r.ignore.is_match(relative))
                || name.is_some_and(|n| r.ignore.is_match(n));
            !ignored
        })
        .map(|r| r.target.clone())
        .collect()
}

/// Where an instance is in a restart for a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// No change waiting.
    #[default]
    Idle,
    /// A change came: restart once this time has passed (the debounce).
    Due(Instant),
    /// Out of its gateways' backends since then, until the proxy serves without it:
    /// requests in flight finish, none is cut by the stop.
    Draining(Instant),
    /// Stopped for a change; over once it is Ready again.
    Under,
}

/// A replica of a group, as the one-at-a-time rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replica {
    /// It is Ready.
    pub ready: bool,
    /// Its own restart for a change.
    pub restart: Restart,
}

/// Whether a replica whose restart is due may go now: no other replica is being
/// restarted and every other one is Ready, so the group keeps serving.
pub fn may_restart(others: &[Replica]) -> bool {
    others
        .iter()
        .all(|o| o.ready && matches!(o.restart, Restart::Idle | Restart::Due(_)))
}

/// Whether a draining instance may be stopped: the proxy serves a config without it (or
/// there is no proxy) and the grace for requests in flight has passed, or it has waited
/// long enough anyway.
pub fn drained(since: Instant, proxy_current: bool, now: Instant) -> bool {
    let waited = now.saturating_duration_since(since);
    (proxy_current && waited >= DRAIN_GRACE) || waited >= DRAIN_MAX
}

/// What a draining instance gives requests already sent to it.
pub const DRAIN_GRACE: Duration = Duration::from_millis(100);
/// The longest drain: a proxy that does not apply its config does not hold restarts.
pub const DRAIN_MAX: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_changes_count() {
        let list = [WatchSpec {
            path: "/c/src".into(),
            ignore: vec!["*.pyc".into(), "cache/**".into()],
        }];
        let rules = rules([("web", &list[..])]);
        let state = Path::new("/c/.lcc");
        let table = [
            ("/c/src/app.py", true),
            ("/c/src/lib/util.py", true),
            ("/c/src", true),
            ("/c/src/app.pyc", false),
            ("/c/src/lib/util.pyc", false),
            ("/c/src/cache/x", false),
            ("/c/srcfoo/app.py", false),
            ("/c/other.py", false),
            ("/c/.lcc/pods/web-1/pod.state", false),
        ];
        for (path, restarts) in table {
            let got = affected(&rules, Path::new(path), state);
            assert_eq!(!got.is_empty(), restarts, "{path}");
        }
    }

    #[test]
    fn a_group_restarts_one_replica_at_a_time() {
        let ready = Replica {
            ready: true,
            restart: Restart::Idle,
        };
        let due = Replica {
            ready: true,
            restart: Restart::Due(Instant::now()),
        };
        let under = Replica {
            ready: false,
            restart: Restart::Under,
        };
        let starting = Replica {
            ready: false,
            restart: Restart::Idle,
        };
        assert!(may_restart(&[]));
        assert!(may_restart(&[ready, due]));
        assert!(!may_restart(&[under]));
        assert!(!may_restart(&[ready, starting]));
        let draining = Replica {
            ready: true,
            restart: Restart::Draining(Instant::now()),
        };
        assert!(!may_restart(&[draining]));
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert!(!drained(t0, true, t0 + ms(50)));
        assert!(drained(t0, true, t0 + ms(100)));
        assert!(!drained(t0, false, t0 + ms(4_999)));
        assert!(drained(t0, false, t0 + ms(5_000)));
    }
}
