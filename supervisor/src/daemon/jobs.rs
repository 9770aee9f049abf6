//! The daemon's side of `schedule:`: each scheduled Instance's clock, looked at when
//! the instance is stepped; the decisions are [`crate::schedule`]'s.

use super::Daemon;
use crate::reconcile::State;
use crate::schedule::{Due, Schedule};
use lcc_core::events::Reason;
use std::time::{Duration, Instant};

/// A scheduled instance, as its step sees it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Job {
    /// It has a schedule.
    pub scheduled: bool,
    /// A time of it has come and no run is under way: start one.
    pub fire: bool,
    /// When to look again for its next time.
    pub next: Option<Instant>,
}

impl Daemon {
    /// A scheduled run has started: its time is served.
    pub(super) fn run_started(&mut self, name: &str) {
        if let Some(s) = self.insts.get_mut(name).and_then(|i| i.schedule.as_mut()) {
            s.run_pending = false;
        }
    }

    /// Looks at an instance's schedule: keeps it in step with the plan, and says whether
    /// a run is due now (a due time with a run under way is skipped, with an event).
    pub(super) fn tick_schedule(&mut self, name: &str) -> Job {
        let text = self
            .plan
            .instances
            .iter()
            .find(|i| i.spec.instance == name)
            .and_then(|i| i.schedule.clone());
        let Some(inst) = self.insts.get_mut(name) else {
            return Job::default();
        };
        let Some(text) = text else {
            inst.schedule = None;
            inst.st.next_run = None;
            return Job::default();
        };
        let now = chrono::Local::now();
        if inst.schedule.as_ref().is_none_or(|s| s.text != text) {
            inst.schedule = Schedule::new(&text, now);
        }
        let running = inst.op.is_some()
            || inst.up()
            || matches!(
                inst.state,
                State::Starting | State::Running(_) | State::Stopping | State::BackOff { .. }
            );
        let Some(schedule) = inst.schedule.as_mut() else {
            return Job::default();
        };
        let due = schedule.tick(now, running);
        // Kept until the run starts: the start gate may hold it back a while.
        schedule.run_pending |= due == Due::Run;
        let fire = schedule.run_pending && !running;
        let next = schedule.next;
        inst.st.next_run = next.map(|t| t.timestamp_millis() as f64 / 1000.0);
        let object = inst.object();
        match due {
            Due::Run => self.emit(&object, Reason::Scheduled, &format!("run due ({text})")),
            Due::Skip => self.emit(
                &object,
                Reason::Scheduled,
                &format!("run skipped ({text}): the previous run is still under way"),
            ),
            Due::No => {}
        }
        let next = next.map(|t| {
            let wait = (t - now).to_std().unwrap_or(Duration::ZERO);
            Instant::now() + wait
        });
        Job {
            scheduled: true,
            fire,
            next,
        }
    }
}
