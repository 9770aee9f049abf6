//! The instance as a state machine: [`State`] is its phase with the data only that phase
//! has (a run's start, readiness and probe misses; a backoff's end), and pure functions
//! decide every move, like a kube-runtime reconciler: [`reconcile`] says what to do now
//! and when to look again, [`run_ended`] applies the restart policy (backoff growth and
//! cap, maxRetries), [`probe_missed`] counts misses against the threshold,
//! [`stop_done`] escalates a stop that left the process alive, [`adopted`] decides what
//! a new daemon does with an instance found on disk. No I/O here: the daemon observes,
//! calls these, and carries out the [`Action`]s.

use crate::backoff;
use crate::instance::Op;
use lcc_compiler::podspec::{Restart, RestartPolicy};
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
}

impl Run {
    /// A run starting at `now`.
    pub fn new(now: Instant) -> Run {
        Run {
            since: now,
            ready_since: None,
            ever_ready: false,
            misses: 0,
        }
    }
}

/// Where an instance is, with what only that phase knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Known, not started yet (or to be started again).
    Pending,
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
    /// Ended for good under its policy (`never`, or `on-failure` with exit 0).
    Completed,
    /// Being stopped and removed.
    Removing,
}

impl State {
    /// The word the status file and `lcc ps` show.
    pub fn phase(&self) -> Phase {
        match self {
            State::Pending => Phase::Pending,
            State::Starting => Phase::Starting,
            State::Running(_) => Phase::Running,
            State::Stopping => Phase::Stopping,
            State::Stopped => Phase::Stopped,
            State::BackOff { .. } => Phase::BackOff,
            State::Failed => Phase::Failed,
            State::Completed => Phase::Exited,
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

    /// When a backoff ends, in that state.
    pub fn backoff_until(&self) -> Option<Instant> {
        match self {
            State::BackOff { until } => Some(*until),
            _ => None,
        }
    }
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
    /// It runs: judge readiness and probes.
    Tend,
}

/// What to do now (at most one action) and when to look again without an event.
pub fn reconcile(
    state: &State,
    seen: &Observed,
    now: Instant,
) -> (Option<Action>, Option<Instant>) {
    if seen.busy {
        return (None, None);
    }
    match seen.desired {
        PodState::Removed if seen.up => (Some(Action::Stop(Op::Stop)), None),
        PodState::Removed => (Some(Action::Remove), None),
        PodState::Stopped if seen.up => (Some(Action::Stop(Op::Stop)), None),
        PodState::Stopped if *state != State::Stopped => (Some(Action::BecomeStopped), None),
        PodState::Stopped => (None, None),
        PodState::Running if seen.shutting_down => (None, None),
        PodState::Running if seen.new_spec && seen.up => (Some(Action::Stop(Op::Replace)), None),
        PodState::Running if seen.new_spec => (Some(Action::Rerender), None),
        PodState::Running if seen.up => (Some(Action::Tend), None),
        PodState::Running => match state {
            State::BackOff { until } if *until > now => (None, Some(*until)),
            State::BackOff { .. } => (Some(Action::Start { restart: true }), None),
            State::Pending | State::Stopped => (Some(Action::Start { restart: false }), None),
            _ => (None, None),
        },
    }
}

/// How a run that ended on its own (or failed to start) goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It was not wanted running: stopped.
    Stopped,
    /// Its policy does not restart it.
    Completed,
    /// maxRetries failures in a row: given up.
    Failed {
        /// Failures in a row.
        failures: u32,
    },
    /// Restarted after `delay`.
    BackOff {
        /// Failures in a row.
        failures: u32,
        /// The delay before the restart.
        delay: Duration,
    },
}

impl Ended {
    /// The state it leads to, at `now`.
    pub fn state(self, now: Instant) -> State {
        match self {
            Ended::Stopped => State::Stopped,
            Ended::Completed => State::Completed,
            Ended::Failed { .. } => State::Failed,
            Ended::BackOff { delay, .. } => State::BackOff { until: now + delay },
        }
    }
}

/// A run ended with `exit` (`None`: killed or never started) after `failures` failures
/// in a row: the restart policy decides.
pub fn run_ended(restart: &Restart, desired: PodState, failures: u32, exit: Option<i32>) -> Ended {
    if desired != PodState::Running {
        return Ended::Stopped;
    }
    let done = match restart.policy {
        RestartPolicy::Never => true,
        RestartPolicy::OnFailure => exit == Some(0),
        RestartPolicy::Always => false,
    };
    if done {
        return Ended::Completed;
    }
    let failures = failures + 1;
    if backoff::exhausted(failures, restart.max_retries) {
        return Ended::Failed { failures };
    }
    Ended::BackOff {
        failures,
        delay: backoff::delay(failures, restart.backoff_initial_ms, restart.backoff_max_ms),
    }
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

/// Whether a run that has stayed ready since `ready_since` has earned a clean slate:
/// its failures in a row are forgotten after `backoff.max` (1-10 s).
pub fn failures_forgiven(run: &Run, restart: &Restart, now: Instant) -> bool {
    run.ready_since
        .is_some_and(|t| now.duration_since(t) >= backoff::reset_after(restart.backoff_max_ms))
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
    if desired == PodState::Running && matches!(recorded, Phase::Failed | Phase::Exited) {
        return Adoption::KeepEnded;
    }
    Adoption::Fresh
}

/// The state a recorded phase stands for when it is kept (an ended instance).
pub fn kept(recorded: Phase) -> State {
    match recorded {
        Phase::Failed => State::Failed,
        Phase::Exited => State::Completed,
        _ => State::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restart(policy: RestartPolicy, max_retries: u32) -> Restart {
        Restart {
            policy,
            max_retries,
            backoff_initial_ms: 100,
            backoff_max_ms: 500,
        }
    }

    fn seen(desired: PodState, up: bool) -> Observed {
        Observed {
            desired,
            up,
            busy: false,
            new_spec: false,
            shutting_down: false,
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
        type Want = (Option<Action>, Option<Instant>);
        let table: Vec<(State, Observed, Want)> = vec![
            (run, busy, (None, None)),
            (
                run,
                seen(Removed, true),
                (Some(Action::Stop(Op::Stop)), None),
            ),
            (
                State::Stopped,
                seen(Removed, false),
                (Some(Action::Remove), None),
            ),
            (
                run,
                seen(Stopped, true),
                (Some(Action::Stop(Op::Stop)), None),
            ),
            (
                State::Failed,
                seen(Stopped, false),
                (Some(Action::BecomeStopped), None),
            ),
            (State::Stopped, seen(Stopped, false), (None, None)),
            (State::Pending, down, (None, None)),
            (run, edited(true), (Some(Action::Stop(Op::Replace)), None)),
            (
                State::Stopped,
                edited(false),
                (Some(Action::Rerender), None),
            ),
            (run, seen(Running, true), (Some(Action::Tend), None)),
            (
                State::Pending,
                seen(Running, false),
                (Some(Action::Start { restart: false }), None),
            ),
            (
                State::Stopped,
                seen(Running, false),
                (Some(Action::Start { restart: false }), None),
            ),
            (
                State::BackOff { until: later },
                seen(Running, false),
                (None, Some(later)),
            ),
            (
                State::BackOff { until: now },
                seen(Running, false),
                (Some(Action::Start { restart: true }), None),
            ),
            (State::Failed, seen(Running, false), (None, None)),
            (State::Completed, seen(Running, false), (None, None)),
            (State::Starting, seen(Running, false), (None, None)),
        ];
        for (i, (state, obs, want)) in table.into_iter().enumerate() {
            assert_eq!(
                reconcile(&state, &obs, now),
                want,
                "row {i}: {state:?} {obs:?}"
            );
        }
    }

    #[test]
    fn backoff_grows_caps_and_gives_up_at_max_retries() {
        let r = restart(RestartPolicy::Always, 5);
        let mut failures = 0;
        let mut delays = Vec::new();
        loop {
            match run_ended(&r, PodState::Running, failures, Some(1)) {
                Ended::BackOff { failures: f, delay } => {
                    failures = f;
                    delays.push(delay.as_millis() as u64);
                }
                Ended::Failed { failures: f } => {
                    assert_eq!(f, 5);
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(delays, vec![100, 200, 400, 500]);
    }

    #[test]
    fn restart_policies() {
        let table = [
            (RestartPolicy::Always, Some(0), false),
            (RestartPolicy::Always, Some(1), false),
            (RestartPolicy::OnFailure, Some(0), true),
            (RestartPolicy::OnFailure, Some(1), false),
            (RestartPolicy::OnFailure, None, false),
            (RestartPolicy::Never, Some(1), true),
            (RestartPolicy::Never, None, true),
        ];
        for (policy, exit, completed) in table {
            let got = run_ended(&restart(policy, 5), PodState::Running, 0, exit);
            assert_eq!(
                got == Ended::Completed,
                completed,
                "{policy:?} {exit:?}: {got:?}"
            );
        }
        let stopped = run_ended(
            &restart(RestartPolicy::Always, 5),
            PodState::Stopped,
            0,
            Some(1),
        );
        assert_eq!(stopped, Ended::Stopped);
        let now = Instant::now();
        let state = Ended::BackOff {
            failures: 1,
            delay: Duration::from_millis(100),
        }
        .state(now);
        assert_eq!(
            state.backoff_until(),
            Some(now + Duration::from_millis(100))
        );
        assert_eq!(state.phase(), Phase::BackOff);
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
    fn failures_are_forgiven_after_staying_ready() {
        let t0 = Instant::now();
        let r = restart(RestartPolicy::Always, 5);
        let mut run = Run::new(t0);
        assert!(!failures_forgiven(&run, &r, t0 + Duration::from_secs(5)));
        run.ready_since = Some(t0);
        assert!(!failures_forgiven(
            &run,
            &r,
            t0 + Duration::from_millis(999)
        ));
        assert!(failures_forgiven(&run, &r, t0 + Duration::from_secs(1)));
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
    }
}
