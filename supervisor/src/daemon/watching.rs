//! The daemon's side of `watch:` under `lcc up --watch`: the sources it watches (with
//! the one notify watcher), the restarts a change asks for after the debounce, a group's
//! one replica at a time. The decisions are [`crate::source_watch`]'s.

use super::Daemon;
use crate::instance::{Op, Owner};
use crate::podfs::PodState;
use crate::source_watch::{self, Replica, Restart, DEBOUNCE};
use lcc_core::events::Reason;
use std::path::Path;
use std::time::{Duration, Instant};

/// While a replica waits for its turn, it looks again this often.
const TURN_RETRY: Duration = Duration::from_millis(100);
/// While a replica drains, it looks again this often.
const DRAIN_STEP: Duration = Duration::from_millis(25);

impl Daemon {
    /// Whether the proxy serves the `proxy.conf` written last (no proxy needed: yes).
    fn proxy_current(&self) -> bool {
        if !crate::proxyconf::needed(&self.plan) {
            return true;
        }
        let Some(conf) = &self.last_conf else {
            return true;
        };
        std::fs::read_to_string(self.layout.proxy_applied())
            .is_ok_and(|marker| marker == lcc_core::proxy_config::digest(conf.as_bytes()))
    }

    /// Watches the sources of the plan's `watch:` items (with `lcc up --watch` only).
    pub(super) fn watch_sources(&mut self) {
        if !self.opts.watch {
            return;
        }
        self.watch_rules = source_watch::of_plan(&self.plan);
        let paths: Vec<std::path::PathBuf> =
            self.watch_rules.iter().map(|r| r.path.clone()).collect();
        for path in paths {
            let object = format!("cluster/{}", self.plan.name);
            if self.layout.state.starts_with(&path) {
                let message = format!(
                    "watch path {} holds the cluster's .lcc: not watched (watch the source folders instead)",
                    path.display()
                );
                self.emit(&object, Reason::WatchFailed, &message);
                continue;
            }
            let added = self.watch.as_mut().is_some_and(|w| w.add_recursive(&path));
            if !added {
                let message = format!("cannot watch {} (missing?)", path.display());
                self.emit(&object, Reason::WatchFailed, &message);
            }
        }
    }

    /// A path changed: the instances whose `watch:` covers it restart after the debounce.
    pub(super) fn source_changed(&mut self, path: &Path) {
        if self.watch_rules.is_empty() {
            return;
        }
        let targets = source_watch::affected(&self.watch_rules, path, &self.layout.state);
        if targets.is_empty() {
            return;
        }
        let due = Instant::now() + DEBOUNCE;
        let names: Vec<String> = self
            .insts
            .iter()
            .filter(|(name, inst)| match &inst.owner {
                Owner::Group(g) => targets.contains(g),
                _ => targets.contains(name.as_str()),
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in names {
            if let Some(inst) = self.insts.get_mut(&name) {
                if inst.change != Restart::Under {
                    inst.change = Restart::Due(due);
                    inst.changed = Some(path.to_path_buf());
                }
            }
            self.touched.insert(name);
        }
    }

    /// An instance's restart for a change: `true` when it was stopped for it now (the
    /// step ends there), and when to look again.
    pub(super) fn change_step(&mut self, name: &str, now: Instant) -> (bool, Option<Instant>) {
        let Some(inst) = self.insts.get(name) else {
            return (false, None);
        };
        match inst.change {
            Restart::Idle => (false, None),
            Restart::Under => {
                if inst.st.ready || inst.desired != PodState::Running {
                    if let Some(inst) = self.insts.get_mut(name) {
                        inst.change = Restart::Idle;
                    }
                }
                (false, None)
            }
            Restart::Due(at) if at > now => (false, Some(at)),
            Restart::Due(_) if inst.op.is_some() => (false, Some(now + TURN_RETRY)),
            Restart::Due(_) if !inst.up() => {
                // Not running: its next start takes the new files anyway.
                if let Some(inst) = self.insts.get_mut(name) {
                    inst.change = Restart::Idle;
                }
                (false, None)
            }
            Restart::Due(_) => {
                if let Owner::Group(group) = &inst.owner {
                    let others: Vec<Replica> = self
                        .insts
                        .iter()
                        .filter(|(n, i)| n.as_str() != name && i.desired == PodState::Running)
                        .filter(|(_, i)| matches!(&i.owner, Owner::Group(g) if g == group))
                        .map(|(_, i)| Replica {
                            ready: i.st.ready,
                            restart: i.change,
                        })
                        .collect();
                    if !source_watch::may_restart(&others) {
                        return (false, Some(now + TURN_RETRY));
                    }
                }
                let changed = inst
                    .changed
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string());
                let object = inst.object();
                if let Some(inst) = self.insts.get_mut(name) {
                    inst.change = Restart::Draining(now);
                }
                self.backends_dirty = true;
                self.emit(
                    &object,
                    Reason::SourceChanged,
                    &format!("{changed} changed: restarting"),
                );
                (false, Some(now + DRAIN_STEP))
            }
            Restart::Draining(since) => {
                if !source_watch::drained(since, self.proxy_current(), now) {
                    return (false, Some(now + DRAIN_STEP));
                }
                if let Some(inst) = self.insts.get_mut(name) {
                    inst.change = Restart::Under;
                }
                self.stop(name, Op::Stop);
                (true, None)
            }
        }
    }
}
