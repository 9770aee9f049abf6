//! When probes go out: a run's probes come quickly while it starts, then at the
//! manifest's period on a grid shared by every instance, so that an idle daemon with
//! hundreds of instances wakes once per period for all the probes due then, and once
//! more to read their answers. Pure: times in, times out.
//!
//! The grid's step is the period itself (at most [`MAX_GRID`]), not a fraction of it:
//! on an idle machine the daemon's work after a sleep runs with cold caches, and a
//! wake-up that sends 200 probes costs far less than ten that send 20 each (the figures
//! are in bench/RESULTS.md, "Figures behind design choices").

use crate::reconcile::Run;
use std::time::{Duration, Instant};

/// Shortest probe interval before a run's first pass.
const STARTUP_PROBE: Duration = Duration::from_millis(20);
/// Shortest probe interval at all.
const MIN_PERIOD: Duration = Duration::from_millis(10);
/// How long a steady HTTP probe lets the app answer before its answer is read.
pub const STEADY_SETTLE: Duration = Duration::from_millis(20);
/// The grid's longest step (see [`grid_of`]).
pub const MAX_GRID: Duration = Duration::from_secs(10);
/// Steady HTTP probes held for a later read at most. Each holds a socket until then, and
/// the steady probes of one period go out together: past this many, a probe waits for
/// its answer in a task, which frees its socket as soon as the answer comes.
pub const MAX_HELD: usize = 256;
/// Probe tasks at once at most (see [`held_back`]).
pub const MAX_TASKS: usize = 128;

/// When the probe after one sent at `now` is due. Until its first pass a run is probed
/// every quarter of the time it has been starting (at least 20 ms, at most the period):
/// readiness is seen soon after the app listens (the start gate waits for it) and a slow
/// starter is not flooded. Then every `period`, moved onto the grid of the period (see
/// [`grid_of`] and [`coalesce`]): the first steady probe comes up to half a step sooner
/// or later, the next ones every `period`.
pub fn next_probe(run: &Run, period: Duration, epoch: Instant, now: Instant) -> Instant {
    if run.ever_ready {
        return coalesce(now + period.max(MIN_PERIOD), epoch, grid_of(period));
    }
    let quarter = now.duration_since(run.since) / 4;
    now + quarter
        .clamp(STARTUP_PROBE, period.max(STARTUP_PROBE))
        .max(MIN_PERIOD)
}

/// The grid of the steady probes of `period`: the longest step up to [`MAX_GRID`] that
/// divides the period (in ms) into at most 64 more parts than needed, so that a probe
/// moved onto the grid once stays on it, every `period` (a 15 s period on a 10 s grid
/// would be probed every 20 s; its grid is 7.5 s). A period with no such step (a prime
/// number of ms) gets none: 1 ms, no grid (see [`coalesce`]).
pub fn grid_of(period: Duration) -> Duration {
    let ms = period.as_millis().max(1) as u64;
    let fewest = ms.div_ceil(MAX_GRID.as_millis() as u64);
    let parts = (fewest..=fewest + 64).find(|d| ms % d == 0).unwrap_or(ms);
    Duration::from_millis(ms / parts)
}

/// `t` moved to the nearest multiple of `slack` (at most [`MAX_GRID`]) since `epoch`: the steady
/// probes of many instances fall on the same instants and are sent in one wake-up
/// instead of one each (instances started a few at a time would otherwise spread them
/// evenly), like the kernel's timer slack. The nearest, not the next: a probe sent a
/// little after its instant must not be put off by a whole step each period.
pub fn coalesce(t: Instant, epoch: Instant, slack: Duration) -> Instant {
    let Some(slack) = grid_ms(slack) else {
        return t;
    };
    let ms = t.saturating_duration_since(epoch).as_millis() as u64;
    epoch + Duration::from_millis((ms + slack / 2) / slack * slack)
}

/// The grid's step in ms: `slack`, at most [`MAX_GRID`]; `None` below 2 ms (no grid).
fn grid_ms(slack: Duration) -> Option<u64> {
    Some(slack.min(MAX_GRID).as_millis() as u64).filter(|&ms| ms >= 2)
}

/// When a steady probe sent at `now` is read: on the last instant of the grid (see
/// [`coalesce`]) before its deadline or its next probe, when the next probes are sent
/// anyway (one wake-up for both), if that is at least [`STEADY_SETTLE`] after sending;
/// else at its deadline, when every answer that is to come in time is there (one
/// wake-up for all the probes sent together). An answer not there when read is waited
/// for until the deadline, so the timeout is the manifest's.
pub fn read_at(
    now: Instant,
    timeout: Duration,
    period: Duration,
    epoch: Instant,
    slack: Duration,
) -> Instant {
    let deadline = now + timeout.min(period);
    let Some(slack_ms) = grid_ms(slack) else {
        return deadline;
    };
    let ms = deadline.saturating_duration_since(epoch).as_millis() as u64;
    let instant = epoch + Duration::from_millis(ms / slack_ms * slack_ms);
    if instant >= now + STEADY_SETTLE {
        instant
    } else {
        deadline
    }
}

/// Whether a probe due now goes out a moment later ([`STEADY_SETTLE`]), with `held`
/// steady probes held for a later read and `tasks` probe tasks under way: when it would
/// need a task (it is not a steady HTTP probe, or [`MAX_HELD`] are held) and
/// [`MAX_TASKS`] are under way. With the sockets kept for reuse, the daemon's open files
/// so stay well under the usual limit of 1,024 however many instances it probes at one
/// instant.
pub fn held_back(held: usize, tasks: usize, steady_http: bool) -> bool {
    let needs_task = !steady_http || held >= MAX_HELD;
    needs_task && tasks >= MAX_TASKS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_is_held_back_only_when_it_would_need_a_task_and_none_is_free() {
        // (held, tasks, steady HTTP probe, held back)
        let table = [
            (0, 0, true, false),
            (MAX_HELD - 1, MAX_TASKS, true, false),
            (MAX_HELD, MAX_TASKS - 1, true, false),
            (MAX_HELD, MAX_TASKS, true, true),
            (0, MAX_TASKS - 1, false, false),
            (0, MAX_TASKS, false, true),
        ];
        for (held, tasks, steady, back) in table {
            assert_eq!(
                held_back(held, tasks, steady),
                back,
                "held {held}, tasks {tasks}, steady {steady}"
            );
        }
    }

    #[test]
    fn a_starting_run_is_probed_every_quarter_of_its_age_then_on_the_grid() {
        let e = Instant::now();
        let ms = |n| Duration::from_millis(n);
        let period = ms(10_000);
        let run = Run::new(e);
        // (age of the run, wait before the next probe)
        let table = [
            (0, 20),
            (40, 20),
            (400, 100),
            (8_000, 2_000),
            (60_000, 10_000),
        ];
        for (age, wait) in table {
            let now = e + ms(age);
            assert_eq!(
                next_probe(&run, period, e, now),
                now + ms(wait),
                "age {age}"
            );
        }
        // A short period caps the startup interval, never below 10 ms.
        assert_eq!(next_probe(&run, ms(50), e, e + ms(4_000)), e + ms(4_050));
        assert_eq!(next_probe(&run, ms(1), e, e), e + ms(20));
        let ready = Run {
            ever_ready: true,
            ..run
        };
        // Ready: the period, on the grid of the period (at most 10 s): the first steady
        // probe may come up to half a period sooner or later, the next ones on time.
        assert_eq!(next_probe(&ready, period, e, e + ms(3_020)), e + ms(10_000));
        assert_eq!(
            next_probe(&ready, period, e, e + ms(10_001)),
            e + ms(20_000)
        );
        assert_eq!(next_probe(&ready, ms(200), e, e + ms(3_013)), e + ms(3_200));
        assert_eq!(
            next_probe(&ready, ms(30_000), e, e + ms(3_020)),
            e + ms(30_000)
        );
        // A period that is no multiple of 10 s, on a grid that divides it: every period.
        let mut t = e + ms(3_020);
        let mut sent = vec![];
        for _ in 0..4 {
            t = next_probe(&ready, ms(15_000), e, t);
            sent.push(t.duration_since(e).as_millis());
        }
        assert_eq!(sent, vec![15_000, 30_000, 45_000, 60_000]);
    }

    #[test]
    fn the_grid_is_the_longest_step_up_to_10_s_that_divides_the_period() {
        let s = |ms| Duration::from_millis(ms);
        // (period, grid)
        let table = [
            (200, 200),
            (10_000, 10_000),
            (15_000, 7_500),
            (17_000, 8_500),
            (60_000, 10_000),
            (86_400_000, 10_000),
            // a prime number of ms: a grid of 1 ms, that is none (see coalesce)
            (10_007, 1),
        ];
        for (period, grid) in table {
            assert_eq!(grid_of(s(period)), s(grid), "period {period}");
        }
    }

    #[test]
    fn coalesce_moves_to_the_nearest_grid_instant() {
        let e = Instant::now();
        let ms = |n| Duration::from_millis(n);
        // A probe sent a millisecond late keeps its period (not 11 s for 10 s).
        assert_eq!(coalesce(e + ms(10_001), e, ms(1000)), e + ms(10_000));
        assert_eq!(coalesce(e + ms(10_600), e, ms(1000)), e + ms(11_000));
        assert_eq!(coalesce(e + ms(11_000), e, ms(1000)), e + ms(11_000));
        // The slack is capped at 10 s; below 2 ms nothing is rounded.
        assert_eq!(coalesce(e + ms(12_500), e, ms(60_000)), e + ms(10_000));
        assert_eq!(coalesce(e + ms(2_501), e, ms(1)), e + ms(2_501));
    }

    #[test]
    fn a_steady_probe_is_read_on_the_last_grid_instant_before_its_deadline() {
        let e = Instant::now();
        let ms = |n| Duration::from_millis(n);
        let p = ms(10_000);
        // Sent at 10.003 s with a 1 s timeout: read at 11 s, with the next probes.
        assert_eq!(
            read_at(e + ms(10_003), ms(1000), p, e, ms(1000)),
            e + ms(11_000)
        );
        // No grid instant between sending and the deadline (the grid of a 10 s period,
        // or a timeout shorter than the grid): read at the deadline, all at once.
        assert_eq!(read_at(e + ms(10_003), ms(1000), p, e, p), e + ms(11_003));
        assert_eq!(
            read_at(e + ms(10_003), ms(300), p, e, ms(1000)),
            e + ms(10_303)
        );
        // Nor one at least the settling time after sending.
        assert_eq!(
            read_at(e + ms(10_990), ms(1000), p, e, ms(1000)),
            e + ms(11_990)
        );
        assert_eq!(
            read_at(e + ms(10_003), ms(2500), p, e, ms(1000)),
            e + ms(12_000)
        );
        // A period shorter than the timeout: read when the next probe is due, not later.
        assert_eq!(
            read_at(e + ms(10_003), ms(1000), ms(200), e, ms(20)),
            e + ms(10_200)
        );
    }
}
