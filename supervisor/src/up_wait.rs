//! `lcc up -d --wait`: whether the outcome is known yet, and what to say. The command
//! polls the status files, the events of this run and the proxy's `proxy.listeners`, and
//! asks [`UpWait::look`] each time: ready (every instance that should run is Ready and
//! the proxy serves the config written for them), not ready (as soon as something
//! cannot become ready, or at the timeout), or not yet.

use lcc_core::events::Reason;
use lcc_core::proxy_listeners::Busy;
use lcc_core::status::{InstanceStatus, Phase};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// How long a listen address the proxy cannot bind, held by no visible program, is given
/// before it counts as not coming: it may be a moment's overlap (a proxy being replaced),
/// so longer than the proxy's longest retry delay (5 s). One held by a program named is
/// an outcome at once.
pub const BUSY_UNNAMED: Duration = Duration::from_secs(6);

/// Whether an event of `reason` about an instance says that it cannot become ready as
/// things stand: it gave up (`Failed`), or, for an explicit Instance, its pod could not
/// be made (its folder taken by someone else's, its rendering failed), when it has no
/// status file at all. A group passes over a member name whose pod cannot be made and
/// takes the next one: that is no reason to wait.
pub fn keeps_from_ready(reason: Reason, explicit: bool) -> bool {
    match reason {
        Reason::Failed => true,
        Reason::PodDirOccupied | Reason::RenderFailed => explicit,
        _ => false,
    }
}

/// What one poll saw.
#[derive(Debug)]
pub struct Seen<'a> {
    /// Every status file.
    pub statuses: &'a [InstanceStatus],
    /// `(instance, "REASON: message")` of the events appended since the last poll that
    /// keep an instance from becoming ready ([`keeps_from_ready`]).
    pub failed: Vec<(String, String)>,
    /// The addresses the proxy says it cannot bind.
    pub busy: Vec<Busy>,
    /// When.
    pub now: Instant,
    /// Whether the wait's timeout has passed.
    pub timed_out: bool,
}

/// The outcome of a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not known yet: poll again.
    Waiting,
    /// Every instance that should run is Ready and served.
    Ready,
    /// Something cannot become ready (or the timeout passed): one line each.
    NotReady {
        /// False when the timeout ended the wait.
        in_time: bool,
        /// What is not ready and why.
        lines: Vec<String>,
        /// The proxy does not serve the last `proxy.conf` (and no listener explains it).
        proxy_behind: bool,
    },
}

/// The wait's memory across polls.
#[derive(Debug, Default)]
pub struct UpWait {
    /// `--force`: a listen address taken does not fail the wait (it is served later).
    force: bool,
    /// instance -> why it cannot become ready, from its event (`REASON: message`).
    gave_up: BTreeMap<String, String>,
    /// listen address -> since when the proxy has said it cannot bind it.
    busy_since: HashMap<String, Instant>,
}

impl UpWait {
    /// A wait; with `force`, listeners in the way are not waited for.
    pub fn new(force: bool) -> UpWait {
        UpWait {
            force,
            ..UpWait::default()
        }
    }

    /// Decides after one poll. `proxy_current` says whether the proxy serves the last
    /// `proxy.conf`; it is asked only once every instance is ready (it hashes a file).
    pub fn look(&mut self, seen: Seen<'_>, proxy_current: impl Fn() -> bool) -> Outcome {
        self.gave_up.extend(seen.failed);
        let (busy, busy_known) = self.busy(seen.busy, seen.now);
        let pending: Vec<&InstanceStatus> = seen.statuses.iter().filter(|s| !s.settled()).collect();
        // an instance that gave up during the wait fails it, even if a group's
        // replacement is ready by now
        let ready = pending.is_empty() && self.gave_up.is_empty() && busy.is_empty();
        if ready && proxy_current() {
            return Outcome::Ready;
        }
        let ended = |s: &&InstanceStatus| matches!(s.phase, Phase::Failed | Phase::Exited);
        let known = !self.gave_up.is_empty() || busy_known || pending.iter().any(ended);
        if !known && !seen.timed_out {
            return Outcome::Waiting;
        }
        let mut lines: Vec<String> = self
            .gave_up
            .iter()
            .map(|(name, why)| format!("{name} {why}"))
            .collect();
        for s in pending
            .iter()
            .filter(|s| !self.gave_up.contains_key(&s.instance))
        {
            let exit = s
                .exit_code
                .filter(|_| ended(s))
                .map_or(String::new(), |c| format!(" (last exit code {c})"));
            lines.push(format!("{} {}{exit}", s.instance, s.phase.as_str()));
        }
        for b in &busy {
            lines.push(format!(
                "listener {}; the proxy serves the rest and takes it once free",
                b.describe()
            ));
        }
        let proxy_behind = busy.is_empty() && pending.is_empty() && !proxy_current();
        Outcome::NotReady {
            in_time: known,
            lines,
            proxy_behind,
        }
    }

    /// The busy addresses waited for (none with `force`), and whether one of them
    /// counts as not coming now: one held by a program named at once, any other once it
    /// has lasted [`BUSY_UNNAMED`].
    fn busy(&mut self, busy: Vec<Busy>, now: Instant) -> (Vec<Busy>, bool) {
        if self.force {
            return (Vec::new(), false);
        }
        self.busy_since
            .retain(|addr, _| busy.iter().any(|b| &b.listen == addr));
        for b in &busy {
            self.busy_since.entry(b.listen.clone()).or_insert(now);
        }
        let known = busy.iter().any(|b| {
            b.holder.is_some()
                || self
                    .busy_since
                    .get(&b.listen)
                    .is_some_and(|t| now.duration_since(*t) >= BUSY_UNNAMED)
        });
        (busy, known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lcc_core::holder::Holder;

    /// Statuses, `Failed` events, busy listeners, `--force`, whether the proxy is
    /// current, whether the timeout passed; and the outcome.
    type Case = (
        Vec<InstanceStatus>,
        Vec<(String, String)>,
        Vec<Busy>,
        bool,
        bool,
        bool,
        Outcome,
    );

    fn st(name: &str, phase: Phase, ready: bool, exit: Option<i32>) -> InstanceStatus {
        let mut s: InstanceStatus = serde_json::from_value(serde_json::json!({
            "instance": name, "app": "a", "group": null, "desired": "running",
            "phase": "Pending", "ready": false, "conditions": [], "restarts": 0,
            "failures": 0, "exit_code": null, "ports": {}, "pid": null, "pid_start": null,
            "fingerprint": "", "started": null, "created": 0.0,
        }))
        .unwrap();
        (s.phase, s.ready, s.exit_code) = (phase, ready, exit);
        s
    }

    fn busy(named: bool) -> Busy {
        Busy {
            listen: "127.0.0.1:9080".into(),
            error: "Address already in use (os error 98)".into(),
            holder: named.then(|| Holder {
                pid: 42,
                command: "nc -l 9080".into(),
            }),
        }
    }

    fn not_ready(lines: &[&str]) -> Outcome {
        Outcome::NotReady {
            in_time: true,
            lines: lines.iter().map(|l| l.to_string()).collect(),
            proxy_behind: false,
        }
    }

    #[test]
    fn the_outcome_is_known_as_soon_as_something_cannot_become_ready() {
        use Phase::*;
        let ready = st("web-1", Running, true, None);
        let starting = st("web-1", Starting, false, None);
        let failed = st("solo", Failed, false, Some(7));
        let gave_up = (
            "crash-1".to_string(),
            "Failed: gave up after 3 failures in a row (exit code 3)".to_string(),
        );
        let occupied = (
            "web-2".to_string(),
            "PodDirOccupied: .lcc/pods/web-2 exists and is not a pod lcc made".to_string(),
        );
        let busy_line = "listener 127.0.0.1:9080 is taken by pid 42 (nc -l 9080); the proxy serves the rest and takes it once free";
        // (statuses, Failed events, busy, force, proxy current, timed out) -> outcome
        let cases: Vec<Case> = vec![
            (
                vec![ready.clone()],
                vec![],
                vec![],
                false,
                true,
                false,
                Outcome::Ready,
            ),
            (
                vec![ready.clone()],
                vec![],
                vec![],
                false,
                false,
                false,
                Outcome::Waiting,
            ),
            (
                vec![starting.clone()],
                vec![],
                vec![],
                false,
                true,
                false,
                Outcome::Waiting,
            ),
            (
                vec![starting.clone()],
                vec![],
                vec![],
                false,
                true,
                true,
                Outcome::NotReady {
                    in_time: false,
                    lines: vec!["web-1 Starting".into()],
                    proxy_behind: false,
                },
            ),
            (
                vec![ready.clone()],
                vec![],
                vec![],
                false,
                false,
                true,
                Outcome::NotReady {
                    in_time: false,
                    lines: vec![],
                    proxy_behind: true,
                },
            ),
            (
                vec![failed.clone()],
                vec![],
                vec![],
                false,
                true,
                false,
                not_ready(&["solo Failed (last exit code 7)"]),
            ),
            // a group's Failed replica may already be gone: its event says it
            (
                vec![ready.clone()],
                vec![gave_up.clone()],
                vec![],
                false,
                true,
                false,
                not_ready(&["crash-1 Failed: gave up after 3 failures in a row (exit code 3)"]),
            ),
            // an instance whose pod could not be made has no status file: its event says it
            (
                vec![ready.clone()],
                vec![occupied.clone()],
                vec![],
                false,
                true,
                false,
                not_ready(&["web-2 PodDirOccupied: .lcc/pods/web-2 exists and is not a pod lcc made"]),
            ),
            (
                vec![ready.clone()],
                vec![],
                vec![busy(true)],
                false,
                true,
                false,
                not_ready(&[busy_line]),
            ),
            (
                vec![starting.clone()],
                vec![],
                vec![busy(true)],
                false,
                true,
                false,
                not_ready(&["web-1 Starting", busy_line]),
            ),
            // with --force a taken listener is not waited for
            (
                vec![ready.clone()],
                vec![],
                vec![busy(true)],
                true,
                true,
                false,
                Outcome::Ready,
            ),
            // a holder not visible is given time
            (
                vec![ready.clone()],
                vec![],
                vec![busy(false)],
                false,
                true,
                false,
                Outcome::Waiting,
            ),
            // ... until the timeout, which names it
            (
                vec![ready.clone()],
                vec![],
                vec![busy(false)],
                false,
                true,
                true,
                Outcome::NotReady {
                    in_time: false,
                    lines: vec!["listener 127.0.0.1:9080: Address already in use (os error 98); the proxy serves the rest and takes it once free".into()],
                    proxy_behind: false,
                },
            ),
        ];
        for (i, (statuses, failed, busy, force, current, timed_out, want)) in
            cases.into_iter().enumerate()
        {
            let mut w = UpWait::new(force);
            let seen = Seen {
                statuses: &statuses,
                failed,
                busy,
                now: Instant::now(),
                timed_out,
            };
            assert_eq!(w.look(seen, || current), want, "case {i}");
        }
    }

    #[test]
    fn a_listener_held_by_no_visible_program_counts_after_6s() {
        let t0 = Instant::now();
        let mut w = UpWait::new(false);
        let statuses = vec![st("web-1", Phase::Running, true, None)];
        let mut look = |at: u64, b: Vec<Busy>| {
            let seen = Seen {
                statuses: &statuses,
                failed: vec![],
                busy: b,
                now: t0 + Duration::from_secs(at),
                timed_out: false,
            };
            w.look(seen, || true)
        };
        assert_eq!(look(0, vec![busy(false)]), Outcome::Waiting);
        assert_eq!(look(5, vec![busy(false)]), Outcome::Waiting);
        // bound in between: the count starts over
        assert_eq!(look(6, vec![]), Outcome::Ready);
        assert_eq!(look(7, vec![busy(false)]), Outcome::Waiting);
        assert_eq!(
            look(13, vec![busy(false)]),
            not_ready(&["listener 127.0.0.1:9080: Address already in use (os error 98); the proxy serves the rest and takes it once free"])
        );
    }

    #[test]
    fn what_keeps_an_instance_from_ready() {
        for (reason, explicit, keeps) in [
            (Reason::Failed, true, true),
            (Reason::Failed, false, true),
            (Reason::PodDirOccupied, true, true),
            (Reason::PodDirOccupied, false, false),
            (Reason::RenderFailed, true, true),
            (Reason::RenderFailed, false, false),
            (Reason::Unhealthy, true, false),
            (Reason::Started, true, false),
        ] {
            assert_eq!(
                keeps_from_ready(reason, explicit),
                keeps,
                "{reason} explicit={explicit}"
            );
        }
    }
}
