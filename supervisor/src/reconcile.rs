//! The instance as a state machine: [`State`] is its phase with the data only that phase
//! has (a run's start, readiness and probe misses; a backoff's end), and pure functions
//! decide every move, like a kube-runtime reconciler: [`reconcile`] says what to do now
//! and when to look again, [`run_ended`] applies the restart policy (backoff growth and
//! cap, maxRetries), [`probe_missed`] counts misses against the threshold,
//! [`stop_done`] escalates a stop that left the process alive, [`adopted`] decides what
//! a new daemon does with an instance found on disk. No I/O here: the daemon observes,
//! calls these, and carries out the [`Action`]s.

use crate::instance::Op;
use lcc_compiler::podspec::RestartPolicy;
use lcc_core::pod_state::PodState;
use lcc_core::status::Phase;
use std::time::{Duration, Instant};

/// Before a run's first probe pass, misses restart it only after this long.
pub const STARTUP_WINDOW: Duration = Duration::from_secs(10);

/// One run of the app: from its start until it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// When it started.
    pub since: Instant,
    /// Since when it has been ready, if it is.
    pub ready_since: Option<Instant>,
    /// Whether it was ready at least once.
    pub ever_ready: bool,
    /// Probe misses in a row.
    pub misses: u32,
    /// When the next probe is due (`None`: the first, after the initial delay).
    pub next_probe: Option<Instant>,
    /// A probe is under way; its result brings the instance back.
    pub probing: bool,
}

impl Run {
    /// A run starting at `now`.
    pub fn new(now: Instant) -> Run {
        Run {
            since: now,
            ready_since: None,
            ever_ready: false,
            misses: 0,
            next_probe: None,
            probing: false,
        }
    }
}

/// Where an instance is, with what only that phase knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Known, not started yet (or to be started again).
    Pending,
    /// Not started until its dependencies hold.
    Waiting,
    /// `pod run` in progress.
    Starting,
    /// The app runs.
    Running(Run),
    /// `pod stop` in progress.
    Stopping,
    /// Stopped on request.
    Stopped,
    /// Ended; starts again once `until` has passed.
    BackOff {
        /// When the backoff delay ends.
        until: Instant,
    },
    /// Gave up after maxRetries failures in a row.
    Failed,
    /// Ended with exit code 0, not restarted under its policy (`never`, `on-failure`).
    Completed,
    /// Ended otherwise, not restarted under its policy (`never`).
    Exited,
    /// Being stopped and removed.
    Removing,
}

impl State {
    /// The word the status file and `lcc ps` show.
    pub fn phase(&self) -> Phase {
        match self {
            State::Pending => Phase::Pending,
            State::Waiting => Phase::Waiting,
            State::Starting => Phase::Starting,
            State::Running(_) => Phase::Running,
            State::Stopping => Phase::Stopping,
            State::Stopped => Phase::Stopped,
            State::BackOff { .. } => Phase::BackOff,
            State::Failed => Phase::Failed,
            State::Completed => Phase::Completed,
            State::Exited => Phase::Exited,
            State::Removing => Phase::Removing,
        }
    }

    /// The current run, while the app runs.
    pub fn run(&self) -> Option<&Run> {
        match self {
            State::Running(run) => Some(run),
            _ => None,
        }
    }

    /// The current run, to update its readiness and misses.
    pub fn run_mut(&mut self) -> Option<&mut Run> {
        match self {
            State::Running(run) => Some(run),
            _ => None,
        }
    }
}

/// How a running instance's readiness is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// A probe every `period`, the first `initial_delay` after the start.
    Probe {
        /// The manifest's period between probes.
        period: Duration,
        /// The manifest's delay before the first probe of a run.
        initial_delay: Duration,
    },
    /// Ready once it has stayed up this long (a local app without a probe, like
    /// supervisord's `startsecs`: an app that dies at once is never reported ready).
    UpFor(Duration),
    /// Ready as soon as it is up (nothing to probe).
    Up,
}

/// What the daemon has seen of an instance, for [`reconcile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    /// The desired state from `pod.state`.
    pub desired: PodState,
    /// The app is up (a live process, or a started remote).
    pub up: bool,
    /// A pod action (`run`, `stop`, ...) is in flight.
    pub busy: bool,
    /// The pod must be rendered again from a new spec first.
    pub new_spec: bool,
    /// The cluster is going down: nothing new starts.
    pub shutting_down: bool,
    /// It is marked ready.
    pub ready: bool,
    /// How readiness is judged.
    pub readiness: Readiness,
    /// Failures in a row so far.
    pub failures: u32,
    /// How long a run must stay ready for them to be forgotten.
    pub forgive_after: Duration,
    /// The origin of the steady probes' grid (see `probe_grid`).
    pub epoch: Instant,
    /// Some of its dependencies do not hold: it must not start.
    pub waiting: bool,
    /// A `restart: true` dependency went down: a running instance restarts after it.
    pub dependency_down: bool,
    /// It runs on a schedule: it starts only when a time of it comes.
    pub scheduled: bool,
    /// A time of its schedule has come (and no run is under way).
    pub fire: bool,
}

/// What to do about an instance now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Run the pod action that stops it (`pod stop` for these ops).
    Stop(Op),
    /// Remove the pod (`pod rm`, then its directory).
    Remove,
    /// Render the pod again from its new spec.
    Rerender,
    /// Record that it is stopped (nothing runs).
    BecomeStopped,
    /// Start it; `restart` when this ends a backoff (counted as a restart).
    Start {
        /// Whether this start is a restart after a failure.
        restart: bool,
    },
    /// It is up with no run recorded (a process seen by a rescan): a run from now.
    TrackRun,
    /// The run stayed ready long enough: forget the failures before it.
    ForgetFailures,
    /// Mark it ready (no probe to wait for).
    MarkReady,
    /// Wait for its dependencies before starting (phase Waiting).
    Wait,
    /// Stop it because a `restart: true` dependency went down; it waits for it after.
    StopForDependency,
    /// Send a probe now; the one after is due at `next`.
    Probe {
        /// When the following probe is due.
        next: Instant,
    },
}

/// What to do now and when to look again without an event (`None`: only an event, such
/// as a pod action's end or a probe's result, brings the instance back).
pub fn reconcile(state: &State, seen: &Observed, now: Instant) -> (Vec<Action>, Option<Instant>) {
    let one = |action| (vec![action], None);
    if seen.busy {
        return (Vec::new(), None);
    }
    match seen.desired {
        PodState::Removed if seen.up => one(Action::Stop(Op::Stop)),
        PodState::Removed => one(Action::Remove),
        PodState::Stopped if seen.up => one(Action::Stop(Op::Stop)),
        PodState::Stopped if *state != State::Stopped => one(Action::BecomeStopped),
        PodState::Stopped => (Vec::new(), None),
        PodState::Running if seen.shutting_down => (Vec::new(), None),
        PodState::Running if seen.new_spec && seen.up => one(Action::Stop(Op::Replace)),
        PodState::Running if seen.new_spec => one(Action::Rerender),
        PodState::Running if seen.up && seen.dependency_down => one(Action::StopForDependency),
        PodState::Running if seen.up => match state.run() {
            Some(run) => tend(run, seen, now, Vec::new()),
            None => tend(&Run::new(now), seen, now, vec![Action::TrackRun]),
        },
        PodState::Running => match state {
            State::BackOff { until } if *until > now => (Vec::new(), Some(*until)),
            State::BackOff { .. } => one(Action::Start { restart: true }),
            State::Waiting if seen.waiting => (Vec::new(), None),
            State::Waiting => one(Action::Start { restart: false }),
            State::Pending | State::Stopped if seen.scheduled && !seen.fire => (Vec::new(), None),
            State::Pending | State::Stopped if seen.waiting => one(Action::Wait),
            State::Pending | State::Stopped => one(Action::Start { restart: false }),
            // A job's next time: ended runs start again.
            State::Completed | State::Exited | State::Failed if seen.fire && seen.waiting => {
                one(Action::Wait)
            }
            State::Completed | State::Exited | State::Failed if seen.fire => {
                one(Action::Start { restart: false })
            }
            _ => (Vec::new(), None),
        },
    }
}

/// A running instance: forgives its failures once it stayed ready long enough, marks it
/// ready or probes it when due, and says when the next of these is due.
fn tend(
    run: &Run,
    seen: &Observed,
    now: Instant,
    mut actions: Vec<Action>,
) -> (Vec<Action>, Option<Instant>) {
    let mut forgive_at = None;
    if seen.failures > 0 {
        if crate::restart::failures_forgiven(run, seen.forgive_after, now) {
            actions.push(Action::ForgetFailures);
        } else {
            forgive_at = run.ready_since.map(|t| t + seen.forgive_after);
        }
    }
    let ready_now = |actions: &mut Vec<Action>| {
        if !seen.ready {
            actions.push(Action::MarkReady);
        }
    };
    let readiness_at = match seen.readiness {
        Readiness::Up => {
            ready_now(&mut actions);
            None
        }
        Readiness::UpFor(d) if run.since + d <= now => {
            ready_now(&mut actions);
            None
        }
        Readiness::UpFor(d) => Some(run.since + d),
        Readiness::Probe { .. } if run.probing => None,
        Readiness::Probe {
            period,
            initial_delay,
        } => {
            let due = run.next_probe.unwrap_or(run.since + initial_delay);
            if due > now {
                Some(due)
            } else {
                let next = crate::probe_grid::next_probe(run, period, seen.epoch, now);
                actions.push(Action::Probe { next });
                Some(next)
            }
        }
    };
    let requeue = match (readiness_at, forgive_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    (actions, requeue)
}

/// What a probe miss leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// Below the threshold: nothing yet.
    Tolerated,
    /// At the threshold, but the run is still starting or never restarts: not ready.
    Unready,
    /// At the threshold: not ready, and restarted.
    Restart,
}

/// Counts one probe miss of `run` against `threshold` misses in a row.
pub fn probe_missed(run: &mut Run, threshold: u32, policy: RestartPolicy, now: Instant) -> Miss {
    run.misses += 1;
    if run.misses < threshold.max(1) {
        return Miss::Tolerated;
    }
    let starting = !run.ever_ready && now.duration_since(run.since) < STARTUP_WINDOW;
    if starting || policy == RestartPolicy::Never {
        Miss::Unready
    } else {
        Miss::Restart
    }
}

/// What follows a finished stop of `op`, with the process `alive` or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopDone {
    /// The stop timed out with the process alive: SIGKILL it (`pod kill`).
    Kill,
    /// The process is gone after a probe-failure restart: a failure.
    Failure,
    /// The process is gone: stopped.
    Stopped,
}

/// Judges the end of a stop: a process still alive after its stop timeout is killed;
/// a restart for failed probes counts as a failure.
pub fn stop_done(op: Op, alive: bool) -> StopDone {
    match op {
        Op::Kill => StopDone::Stopped,
        _ if alive => StopDone::Kill,
        Op::Restart => StopDone::Failure,
        _ => StopDone::Stopped,
    }
}

/// What a new daemon does with an instance found on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adoption {
    /// Its process runs (or its remote was up): keep it, no restart.
    KeepRunning,
    /// It ended for good (Failed, Completed): keep that, restart count included.
    KeepEnded,
    /// Anything else starts from Pending, with its failures forgotten.
    Fresh,
}

/// Adoption of an instance whose recorded phase is `recorded`.
pub fn adopted(recorded: Phase, running: bool, desired: PodState) -> Adoption {
    if running {
        return Adoption::KeepRunning;
    }
    let ended = matches!(recorded, Phase::Failed | Phase::Exited | Phase::Completed);
    if desired == PodState::Running && ended {
        return Adoption::KeepEnded;
    }
    Adoption::Fresh
}

/// The state a recorded phase stands for when it is kept (an ended instance).
pub fn kept(recorded: Phase) -> State {
    match recorded {
        Phase::Failed => State::Failed,
        Phase::Exited => State::Exited,
        Phase::Completed => State::Completed,
        _ => State::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(desired: PodState, up: bool) -> Observed {
        Observed {
            desired,
            up,
            busy: false,
            new_spec: false,
            shutting_down: false,
            ready: true,
            readiness: Readiness::Up,
            failures: 0,
            forgive_after: Duration::from_secs(1),
            epoch: Instant::now(),
            waiting: false,
            dependency_down: false,
            scheduled: false,
            fire: false,
        }
    }

    #[test]
    fn reconcile_table() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        let run = State::Running(Run::new(now));
        use PodState::{Removed, Running, Stopped};
        let busy = Observed {
            busy: true,
            ..seen(Running, true)
        };
        let down = Observed {
            shutting_down: true,
            ..seen(Running, false)
        };
        let edited = |up| Observed {
            new_spec: true,
            ..seen(Running, up)
        };
        let start = Action::Start { restart: false };
        let held = |up| Observed {
            waiting: true,
            ..seen(Running, up)
        };
        let job = |fire| Observed {
            scheduled: true,
            fire,
            ..seen(Running, false)
        };
        let dependency_down = |up| Observed {
            dependency_down: true,
            ..seen(Running, up)
        };
        let table: Vec<(State, Observed, Vec<Action>, Option<Instant>)> = vec![
            // Dependencies gate a start, and only a start.
            (State::Pending, held(false), vec![Action::Wait], None),
            (State::Stopped, held(false), vec![Action::Wait], None),
            (State::Waiting, held(false), vec![], None),
            (State::Waiting, seen(Running, false), vec![start], None),
            (run, held(true), vec![], None),
            (
                State::BackOff { until: now },
                held(false),
                vec![Action::Start { restart: true }],
                None,
            ),
            // A `restart: true` dependency went down: stopped, to wait for it.
            (
                run,
                dependency_down(true),
                vec![Action::StopForDependency],
                None,
            ),
            (State::Pending, dependency_down(false), vec![start], None),
            // A scheduled job starts at its times only, ended runs included.
            (State::Pending, job(false), vec![], None),
            (State::Pending, job(true), vec![start], None),
            (State::Completed, job(false), vec![], None),
            (State::Completed, job(true), vec![start], None),
            (State::Exited, job(true), vec![start], None),
            (State::Failed, job(true), vec![start], None),
            (run, job(true), vec![], None),
            (run, busy, vec![], None),
            (run, seen(Removed, true), vec![Action::Stop(Op::Stop)], None),
            (
                State::Stopped,
                seen(Removed, false),
                vec![Action::Remove],
                None,
            ),
            (run, seen(Stopped, true), vec![Action::Stop(Op::Stop)], None),
            (
                State::Failed,
                seen(Stopped, false),
                vec![Action::BecomeStopped],
                None,
            ),
            (State::Stopped, seen(Stopped, false), vec![], None),
            (State::Pending, down, vec![], None),
            (run, edited(true), vec![Action::Stop(Op::Replace)], None),
            (State::Stopped, edited(false), vec![Action::Rerender], None),
            (run, seen(Running, true), vec![], None),
            // Up with no run recorded (a process found by a rescan): tracked from now.
            (
                State::Pending,
                seen(Running, true),
                vec![Action::TrackRun],
                None,
            ),
            (State::Pending, seen(Running, false), vec![start], None),
            (State::Stopped, seen(Running, false), vec![start], None),
            (
                State::BackOff { until: later },
                seen(Running, false),
                vec![],
                Some(later),
            ),
            (
                State::BackOff { until: now },
                seen(Running, false),
                vec![Action::Start { restart: true }],
                None,
            ),
            (State::Failed, seen(Running, false), vec![], None),
            (State::Completed, seen(Running, false), vec![], None),
            (State::Exited, seen(Running, false), vec![], None),
            (State::Starting, seen(Running, false), vec![], None),
        ];
        for (i, (state, obs, actions, requeue)) in table.into_iter().enumerate() {
            assert_eq!(
                reconcile(&state, &obs, now),
                (actions, requeue),
                "row {i}: {state:?} {obs:?}"
            );
        }
    }

    /// A running instance: readiness without a probe, probes when due, and failures
    /// forgiven once it stayed ready long enough.
    #[test]
    fn tend_table() {
        let t0 = Instant::now();
        let ms = |n| Duration::from_millis(n);
        let period = ms(10_000);
        let probe = Readiness::Probe {
            period,
            initial_delay: ms(500),
        };
        let up = |readiness, ready| Observed {
            ready,
            readiness,
            epoch: t0,
            ..seen(PodState::Running, true)
        };
        let starting = Run::new(t0);
        let ready_run = Run {
            ready_since: Some(t0 + ms(100)),
            ever_ready: true,
            ..starting
        };
        let running = State::Running;
        // (state, observed, at, actions, requeue)
        type Row = (State, Observed, u64, Vec<Action>, Option<Instant>);
        let table: Vec<Row> = vec![
            // Nothing to probe: ready at once.
            (
                running(starting),
                up(Readiness::Up, false),
                0,
                vec![Action::MarkReady],
                None,
            ),
            (running(starting), up(Readiness::Up, true), 0, vec![], None),
            // A local app without a probe: ready once up for the time given.
            (
                running(starting),
                up(Readiness::UpFor(ms(1000)), false),
                300,
                vec![],
                Some(t0 + ms(1000)),
            ),
            (
                running(starting),
                up(Readiness::UpFor(ms(1000)), false),
                1000,
                vec![Action::MarkReady],
                None,
            ),
            // The first probe waits for the initial delay, then goes out at once.
            (
                running(starting),
                up(probe, false),
                100,
                vec![],
                Some(t0 + ms(500)),
            ),
            (
                running(starting),
                up(probe, false),
                500,
                vec![Action::Probe { next: t0 + ms(625) }],
                Some(t0 + ms(625)),
            ),
            // A probe under way: its result brings the instance back.
            (
                running(Run {
                    probing: true,
                    ..starting
                }),
                up(probe, false),
                900,
                vec![],
                None,
            ),
            // The next probe is not due yet.
            (
                running(Run {
                    next_probe: Some(t0 + ms(10_000)),
                    ..ready_run
                }),
                up(probe, true),
                3_000,
                vec![],
                Some(t0 + ms(10_000)),
            ),
            // A ready run's next probe is on the grid, a period later.
            (
                running(Run {
                    next_probe: Some(t0 + ms(10_000)),
                    ..ready_run
                }),
                up(probe, true),
                10_004,
                vec![Action::Probe {
                    next: t0 + ms(20_000),
                }],
                Some(t0 + ms(20_000)),
            ),
            // Failures are forgiven after staying ready `forgive_after` (1 s here)...
            (
                running(ready_run),
                Observed {
                    failures: 2,
                    ..up(Readiness::Up, true)
                },
                1_100,
                vec![Action::ForgetFailures],
                None,
            ),
            // ... and the instance is looked at again then, even with nothing else due.
            (
                running(ready_run),
                Observed {
                    failures: 2,
                    ..up(Readiness::Up, true)
                },
                600,
                vec![],
                Some(t0 + ms(1_100)),
            ),
            // Not ready: nothing to forgive yet, nothing to look at.
            (
                running(starting),
                Observed {
                    failures: 2,
                    ..up(Readiness::Up, true)
                },
                5_000,
                vec![],
                None,
            ),
        ];
        for (i, (state, obs, at, actions, requeue)) in table.into_iter().enumerate() {
            assert_eq!(
                reconcile(&state, &obs, t0 + ms(at)),
                (actions, requeue),
                "row {i}: {state:?} {obs:?}"
            );
        }
    }

    #[test]
    fn probe_misses_restart_only_at_the_threshold_after_startup() {
        let t0 = Instant::now();
        let mut run = Run::new(t0);
        let early = t0 + Duration::from_secs(1);
        assert_eq!(
            probe_missed(&mut run, 3, RestartPolicy::Always, early),
            Miss::Tolerated
        );
        assert_eq!(
            probe_missed(&mut run, 3, RestartPolicy::Always, early),
            Miss::Tolerated
        );
        assert_eq!(
            probe_missed(&mut run, 3, RestartPolicy::Always, early),
            Miss::Unready
        );
        let late = t0 + STARTUP_WINDOW;
        assert_eq!(
            probe_missed(&mut run, 3, RestartPolicy::Always, late),
            Miss::Restart
        );
        assert_eq!(
            probe_missed(&mut run, 3, RestartPolicy::Never, late),
            Miss::Unready
        );
        let mut ready = Run {
            ever_ready: true,
            ..Run::new(t0)
        };
        assert_eq!(
            probe_missed(&mut ready, 1, RestartPolicy::Always, early),
            Miss::Restart
        );
        let mut zero = Run::new(t0);
        assert_eq!(
            probe_missed(&mut zero, 0, RestartPolicy::Always, late),
            Miss::Restart
        );
    }

    #[test]
    fn stop_timeouts_escalate_to_kill() {
        let table = [
            (Op::Stop, true, StopDone::Kill),
            (Op::Replace, true, StopDone::Kill),
            (Op::Restart, true, StopDone::Kill),
            (Op::Kill, true, StopDone::Stopped),
            (Op::Stop, false, StopDone::Stopped),
            (Op::Replace, false, StopDone::Stopped),
            (Op::Restart, false, StopDone::Failure),
        ];
        for (op, alive, want) in table {
            assert_eq!(stop_done(op, alive), want, "{op:?} alive={alive}");
        }
    }

    #[test]
    fn adoption_keeps_a_running_pid_and_ended_instances() {
        use PodState::{Running, Stopped};
        let table = [
            (Phase::Running, true, Running, Adoption::KeepRunning),
            (Phase::Failed, true, Running, Adoption::KeepRunning),
            (Phase::Failed, false, Running, Adoption::KeepEnded),
            (Phase::Exited, false, Running, Adoption::KeepEnded),
            (Phase::Completed, false, Running, Adoption::KeepEnded),
            (Phase::Failed, false, Stopped, Adoption::Fresh),
            (Phase::BackOff, false, Running, Adoption::Fresh),
            (Phase::Running, false, Running, Adoption::Fresh),
        ];
        for (phase, running, desired, want) in table {
            assert_eq!(
                adopted(phase, running, desired),
                want,
                "{phase:?} {running} {desired:?}"
            );
        }
        assert_eq!(kept(Phase::Failed), State::Failed);
        assert_eq!(kept(Phase::Exited).phase(), Phase::Exited);
        assert_eq!(kept(Phase::Completed).phase(), Phase::Completed);
    }
}
