//! The start gate: how many instances may be starting at once.
//!
//! Hundreds of apps started together all compete for the same cores, and every one of
//! them (and every `pod run` shell) takes longer than when they start a few at a time:
//! all of them are up sooner when started a few at a time (the figure is in
//! bench/RESULTS.md). So, like `docker compose --parallel`, a start holds one of a few
//! slots until its instance is ready, its run ends, or [`HOLD`] has passed. Apps that start slowly
//! without using the CPU (waiting on a network, a sleep) must not queue behind each
//! other, so whenever the machine was mostly idle over the last [`SAMPLE`], the current
//! starts stop counting and more are let through.

use super::Daemon;
use std::time::{Duration, Instant};

/// The longest a start holds its slot.
pub(super) const HOLD: Duration = Duration::from_secs(2);
/// How often the CPU's business is sampled while starts wait.
pub(super) const SAMPLE: Duration = Duration::from_millis(100);
/// Below this share of busy CPU time the machine counts as idle.
const IDLE_BELOW: f64 = 0.5;

/// Slots for starting instances, and the CPU sample that can open more.
#[derive(Debug)]
pub(super) struct StartGate {
    /// Starts at once; 0: no bound.
    limit: usize,
    /// `/proc/stat` totals (busy, all) at the last sample, and when it was taken.
    last: Option<(u64, u64, Instant)>,
}

impl StartGate {
    /// A gate with `limit` slots (0: every start passes at once).
    pub(super) fn new(limit: usize) -> StartGate {
        StartGate { limit, last: None }
    }

    /// The default bound: `LCC_START_PARALLEL` if set, else twice the cores.
    pub(super) fn default_limit() -> usize {
        std::env::var("LCC_START_PARALLEL")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| 2 * std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Whether another start may begin while `holding` starts hold slots; `Idle` means
    /// the machine was idle, so the current holders should let go of their slots.
    pub(super) fn admit(&mut self, holding: usize, now: Instant) -> Admit {
        if self.limit == 0 || holding < self.limit {
            return Admit::Yes;
        }
        if self.idle_since_last_sample(now) {
            Admit::Idle
        } else {
            Admit::No
        }
    }

    /// True when at least [`SAMPLE`] has passed since the last sample and the CPUs were
    /// busy less than half of it (false without `/proc/stat`: then slots alone count).
    fn idle_since_last_sample(&mut self, now: Instant) -> bool {
        if self
            .last
            .is_some_and(|(_, _, at)| now.duration_since(at) < SAMPLE)
        {
            return false;
        }
        let Some((busy, all)) = cpu_totals() else {
            return false;
        };
        let previous = self.last.replace((busy, all, now));
        let Some((busy0, all0, _)) = previous else {
            return false;
        };
        let spent = all.saturating_sub(all0);
        spent > 0 && (busy.saturating_sub(busy0) as f64) < IDLE_BELOW * spent as f64
    }
}

impl Daemon {
    /// Takes a slot of the start gate for `name`'s start; false: it must wait.
    pub(super) fn take_slot(&mut self, name: &str, now: Instant) -> bool {
        if self.gate_shut {
            return false;
        }
        let holding = self
            .insts
            .iter()
            .filter(|(n, i)| n.as_str() != name && i.slot_until.is_some_and(|t| t > now))
            .count();
        match self.gate.admit(holding, now) {
            Admit::No => {
                self.gate_shut = true;
                return false;
            }
            Admit::Yes => {}
            Admit::Idle => {
                for inst in self.insts.values_mut() {
                    inst.slot_until = None;
                }
            }
        }
        if let Some(inst) = self.insts.get_mut(name) {
            inst.slot_until = Some(now + HOLD);
        }
        true
    }

    /// Gives `name`'s slot back (ready, stopped or ended).
    pub(super) fn release_slot(&mut self, name: &str) {
        if let Some(inst) = self.insts.get_mut(name) {
            if inst.slot_until.take().is_some() {
                self.gate_shut = false;
            }
        }
    }

    /// When a waiting start should look again: a slot's end, or the next CPU sample.
    pub(super) fn slot_free_at(&self) -> Instant {
        let now = Instant::now();
        let first_end = self.insts.values().filter_map(|i| i.slot_until).min();
        first_end.map_or(now + SAMPLE, |t| t.min(now + SAMPLE))
    }
}

/// The gate's answer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Admit {
    /// Start now.
    Yes,
    /// Start now, and the starts under way stop holding slots (the CPU is idle).
    Idle,
    /// Wait for a slot.
    No,
}

/// (busy, all) clock ticks of every CPU since boot, from the first line of `/proc/stat`.
fn cpu_totals() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(|t| t.parse().unwrap_or(0))
        .collect();
    let all: u64 = ticks.iter().sum();
    // idle and iowait are the 4th and 5th fields.
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    Some((all.saturating_sub(idle), all))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unbounded_gate_always_admits() {
        let mut g = StartGate::new(0);
        assert_eq!(g.admit(1000, Instant::now()), Admit::Yes);
    }

    #[test]
    fn full_gate_waits_until_a_sample_says_idle() {
        let mut g = StartGate::new(2);
        let t = Instant::now();
        assert_eq!(g.admit(1, t), Admit::Yes);
        // First sample only records a baseline; within SAMPLE nothing is sampled again.
        assert_eq!(g.admit(2, t), Admit::No);
        assert_eq!(g.admit(2, t + SAMPLE / 2), Admit::No);
    }

    #[test]
    fn cpu_totals_read_proc_stat() {
        if std::path::Path::new("/proc/stat").exists() {
            let (busy, all) = cpu_totals().expect("/proc/stat parses");
            assert!(busy <= all && all > 0);
        }
    }
}
