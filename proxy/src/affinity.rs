//! Pinning each worker thread to a core of its own.
//!
//! Why: with as many workers as cores, the scheduler sometimes puts two workers on one
//! core and leaves them there. Both are always busy, so they take turns a whole tick
//! (4 ms at HZ=250) each, and every connection of the waiting worker waits that long,
//! which shows as the p99 tail. A worker pinned to its own core cannot be stacked (the
//! figures are in bench/RESULTS.md).

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// The cores this process may run on, in order.
pub(crate) fn allowed() -> Vec<usize> {
    let Ok(set) = sched_getaffinity(Pid::from_raw(0)) else {
        return Vec::new();
    };
    (0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect()
}

/// The core worker `index` of `workers` runs on: one each, or none when the workers are
/// one (it may go wherever is free) or outnumber the cores (stacking is then certain).
pub(crate) fn core_for(index: usize, workers: usize, allowed: &[usize]) -> Option<usize> {
    if workers < 2 || workers > allowed.len() {
        return None;
    }
    allowed.get(index).copied()
}

/// Keeps the calling thread on `cpu` (threads it starts later inherit that).
pub(crate) fn pin_current(cpu: usize) -> nix::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(Pid::from_raw(0), &set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_core_each_only_when_the_cores_suffice() {
        let cores = [2, 5, 7];
        assert_eq!(core_for(0, 2, &cores), Some(2));
        assert_eq!(core_for(1, 2, &cores), Some(5));
        assert_eq!(core_for(2, 3, &cores), Some(7));
        assert_eq!(core_for(0, 1, &cores), None);
        assert_eq!(core_for(0, 4, &cores), None);
    }
}
