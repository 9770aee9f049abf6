//! Restarts: the policy (`always`, `on-failure`, `never`) applied to a run that ended,
//! the exponential backoff from `initial` to `max` before the next run, maxRetries after
//! which the instance is Failed, and when a run that stayed ready resets the count.

use crate::reconcile::{Run, State};
use lcc_compiler::podspec::{Restart, RestartPolicy};
use lcc_core::pod_state::PodState;
use std::time::{Duration, Instant};

/// The delay before restart number `failures` (1 = after the first failure).
pub fn delay(failures: u32, initial_ms: u64, max_ms: u64) -> Duration {
    let shift = failures.saturating_sub(1).min(32);
    let ms = initial_ms
        .saturating_mul(1u64 << shift)
        .min(max_ms.max(initial_ms));
    Duration::from_millis(ms)
}

/// How long a run must stay ready before its failure count is forgotten:
/// `backoff.max`, at least 1 s and at most 10 s.
pub fn reset_after(max_ms: u64) -> Duration {
    Duration::from_millis(max_ms.clamp(1_000, 10_000))
}

/// Whether `failures` failures in a row make the instance Failed.
pub fn exhausted(failures: u32, max_retries: u32) -> bool {
    failures >= max_retries.max(1)
}

/// How a run that ended on its own (or failed to start) goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It was not wanted running: stopped.
    Stopped,
    /// It exited 0 and its policy does not restart it: a job done.
    Completed,
    /// It ended otherwise and its policy (`never`) does not restart it.
    Exited,
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
            Ended::Exited => State::Exited,
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
    match (restart.policy, exit) {
        (RestartPolicy::Never | RestartPolicy::OnFailure, Some(0)) => return Ended::Completed,
        (RestartPolicy::Never, _) => return Ended::Exited,
        _ => {}
    }
    let failures = failures + 1;
    if exhausted(failures, restart.max_retries) {
        return Ended::Failed { failures };
    }
    Ended::BackOff {
        failures,
        delay: delay(failures, restart.backoff_initial_ms, restart.backoff_max_ms),
    }
}

/// Whether a run that has stayed ready since `ready_since` has earned a clean slate:
/// its failures in a row are forgotten `after` ([`reset_after`] of `backoff.max`).
pub fn failures_forgiven(run: &Run, after: Duration, now: Instant) -> bool {
    run.ready_since
        .is_some_and(|t| now.duration_since(t) >= after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lcc_core::status::Phase;

    fn restart(policy: RestartPolicy, max_retries: u32) -> Restart {
        Restart {
            policy,
            max_retries,
            backoff_initial_ms: 100,
            backoff_max_ms: 500,
        }
    }

    #[test]
    fn grows_and_caps() {
        let d: Vec<u64> = (1..=6)
            .map(|n| delay(n, 100, 500).as_millis() as u64)
            .collect();
        assert_eq!(d, vec![100, 200, 400, 500, 500, 500]);
        assert_eq!(delay(200, 100, 500).as_millis(), 500);
    }

    #[test]
    fn reset_window_is_clamped() {
        assert_eq!(reset_after(100), Duration::from_secs(1));
        assert_eq!(reset_after(60_000), Duration::from_secs(10));
        assert_eq!(reset_after(3_000), Duration::from_secs(3));
    }

    #[test]
    fn exhaustion() {
        assert!(!exhausted(2, 3));
        assert!(exhausted(3, 3));
        assert!(exhausted(1, 0));
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
        let backoff = Ended::BackOff {
            failures: 1,
            delay: Duration::from_millis(100),
        };
        let table = [
            (RestartPolicy::Always, Some(0), backoff),
            (RestartPolicy::Always, Some(1), backoff),
            (RestartPolicy::OnFailure, Some(0), Ended::Completed),
            (RestartPolicy::OnFailure, Some(1), backoff),
            (RestartPolicy::OnFailure, None, backoff),
            (RestartPolicy::Never, Some(0), Ended::Completed),
            (RestartPolicy::Never, Some(1), Ended::Exited),
            (RestartPolicy::Never, None, Ended::Exited),
        ];
        for (policy, exit, want) in table {
            let got = run_ended(&restart(policy, 5), PodState::Running, 0, exit);
            assert_eq!(got, want, "{policy:?} {exit:?}");
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
            state,
            State::BackOff {
                until: now + Duration::from_millis(100)
            }
        );
        assert_eq!(state.phase(), Phase::BackOff);
    }

    #[test]
    fn failures_are_forgiven_after_staying_ready() {
        let t0 = Instant::now();
        let r = reset_after(restart(RestartPolicy::Always, 5).backoff_max_ms);
        let mut run = Run::new(t0);
        assert!(!failures_forgiven(&run, r, t0 + Duration::from_secs(5)));
        run.ready_since = Some(t0);
        assert!(!failures_forgiven(&run, r, t0 + Duration::from_millis(999)));
        assert!(failures_forgiven(&run, r, t0 + Duration::from_secs(1)));
    }
}
