//! Scheduled instances (`schedule:` on an Instance, cron syntax read by croner): when
//! the next run is due, and what a due time does. Pure: the clock is an argument, so the
//! tests choose it.
//!
//! As cron does, the times are those of the local time zone; a time missed while no
//! daemon ran is not made up for. A run still under way when the next time comes is
//! left alone and that time skipped (never two runs at once, like a Kubernetes CronJob
//! with `concurrencyPolicy: Forbid`).

use chrono::{DateTime, Local};
use croner::Cron;

/// An instance's schedule and its next time.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The schedule as written (a changed manifest replaces it).
    pub text: String,
    /// The parsed schedule.
    cron: Cron,
    /// The next time a run is due (`None`: the schedule names no future time).
    pub next: Option<DateTime<Local>>,
    /// A time came and its run has not started yet (the daemon clears it at the start).
    pub run_pending: bool,
}

/// What a due time does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Nothing is due yet.
    No,
    /// Start a run.
    Run,
    /// The previous run is still under way: this time is skipped.
    Skip,
}

impl Schedule {
    /// A schedule whose first time is the first after `now` (`None`: not a valid
    /// schedule, which validation has refused already).
    pub fn new(text: &str, now: DateTime<Local>) -> Option<Schedule> {
        let cron: Cron = text.parse().ok()?;
        let next = cron.find_next_occurrence(&now, false).ok();
        Some(Schedule {
            text: text.to_string(),
            cron,
            next,
            run_pending: false,
        })
    }

    /// Looks at the clock: a time that has come gives a run, or a skip while the last
    /// run is under way; either way the next time is then the first after `now`.
    pub fn tick(&mut self, now: DateTime<Local>, running: bool) -> Due {
        match self.next {
            Some(next) if next <= now => {
                self.next = self.cron.find_next_occurrence(&now, false).ok();
                if running {
                    Due::Skip
                } else {
                    Due::Run
                }
            }
            _ => Due::No,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Local> {
        Local
            .with_ymd_and_hms(2026, 3, 2, h, m, s)
            .single()
            .expect("a local time")
    }

    #[test]
    fn runs_at_each_time_and_skips_while_running() {
        let mut every5 = Schedule::new("*/5 * * * *", at(10, 1, 0)).expect("valid");
        assert_eq!(every5.next, Some(at(10, 5, 0)));
        // (now, running) -> due, next
        let table = [
            (at(10, 4, 59), false, Due::No, at(10, 5, 0)),
            (at(10, 5, 0), false, Due::Run, at(10, 10, 0)),
            (at(10, 7, 0), false, Due::No, at(10, 10, 0)),
            (at(10, 10, 1), true, Due::Skip, at(10, 15, 0)),
            // Times missed (a machine asleep) give one run, not one per time.
            (at(10, 31, 0), false, Due::Run, at(10, 35, 0)),
        ];
        for (now, running, due, next) in table {
            assert_eq!(every5.tick(now, running), due, "{now}");
            assert_eq!(every5.next, Some(next), "{now}");
        }
        let mut seconds = Schedule::new("*/2 * * * * *", at(10, 0, 0)).expect("valid");
        assert_eq!(seconds.next, Some(at(10, 0, 2)));
        assert_eq!(seconds.tick(at(10, 0, 2), false), Due::Run);
        assert_eq!(seconds.next, Some(at(10, 0, 4)));
        assert!(Schedule::new("every minute", at(10, 0, 0)).is_none());
    }
}
