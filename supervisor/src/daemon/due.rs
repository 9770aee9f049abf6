//! The daemon's one queue of due work: each instance's next step of its own (a probe
//! due, a backoff over, ready after staying up: the `requeue_at` of
//! [`reconcile`](crate::reconcile::reconcile)) and the loop's own chores (the rescan, reading
//! probe answers, a full pass, waiting starts, held-back status files, restarting the
//! proxy), in one heap ordered by time. The loop sleeps until the first entry and runs
//! what is due; an idle loop over hundreds of instances finds both without looking at
//! every instance.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Instant;

/// A chore of the loop itself, at most one pending of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Chore {
    /// The periodic check for what events can miss (see `Options::rescan`).
    Rescan,
    /// Steady probes whose answers are to be read.
    ProbeAnswers,
    /// A full pass, asked for and held back to one per `MIN_FULL_GAP`.
    FullPass,
    /// Starts waiting for the start gate: a slot's end or the next CPU sample.
    WaitingStarts,
    /// Status files held back (see `STATUS_GAP`).
    StatusFiles,
    /// The proxy to start again after it exited.
    Proxy,
}

const CHORES: usize = 6;

impl Chore {
    fn index(self) -> usize {
        self as usize
    }
}

/// What is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Work {
    /// A step of this instance.
    Instance(Arc<str>),
    /// A chore of the loop.
    Chore(Chore),
}

/// A heap entry: `work` due at `at`, the `seq`th time anything was set. Ordered by time,
/// then by `seq` (the order things were set in): never by the work itself, so taking
/// the hundreds of steps due at one grid instant compares no names.
#[derive(Debug)]
struct Entry {
    at: Instant,
    seq: u64,
    work: Work,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The queue. Each instance and chore has one current setting (a time and its `seq`);
/// an entry that is not its work's current setting (set again since, or taken) is stale
/// and skipped when it comes up. Instances and the heap share each name (no copy per
/// set).
#[derive(Debug, Default)]
pub(super) struct Due {
    heap: BinaryHeap<Reverse<Entry>>,
    /// The time each instance was last set to, fired or not, and the `seq` of the entry
    /// that fires it (`None` once fired).
    instances: HashMap<Arc<str>, (Instant, Option<u64>)>,
    /// The same for each chore (a taken chore is not pending).
    chores: [Option<(Instant, u64)>; CHORES],
    /// Settings so far.
    seq: u64,
}

impl Due {
    /// Sets `name`'s next step to `at` (`None`: none). A time equal to the last one set is
    /// not armed again: a step that fired and left it unchanged (a start that waits for
    /// the gate, which `WaitingStarts` brings back) must not fire at every pass.
    pub(super) fn instance(&mut self, name: &str, at: Option<Instant>) {
        let Some(at) = at else {
            self.instances.remove(name);
            return;
        };
        let key = match self.instances.get_key_value(name) {
            Some((_, (t, _))) if *t == at => return,
            Some((k, _)) => Arc::clone(k),
            None => Arc::from(name),
        };
        let seq = self.next_seq();
        self.instances.insert(Arc::clone(&key), (at, Some(seq)));
        self.heap.push(Reverse(Entry {
            at,
            seq,
            work: Work::Instance(key),
        }));
    }

    /// Sets `chore` to `at` (`None`: not pending); the same time is not armed again.
    pub(super) fn chore(&mut self, chore: Chore, at: Option<Instant>) {
        if self.chore_at(chore) == at {
            return;
        }
        let Some(at) = at else {
            self.chores[chore.index()] = None;
            return;
        };
        let seq = self.next_seq();
        self.chores[chore.index()] = Some((at, seq));
        self.heap.push(Reverse(Entry {
            at,
            seq,
            work: Work::Chore(chore),
        }));
    }

    /// When `chore` is set for (`None`: not pending).
    pub(super) fn chore_at(&self, chore: Chore) -> Option<Instant> {
        self.chores[chore.index()].map(|(at, _)| at)
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Whether `entry` is its work's current setting (not stale).
    fn current(&self, entry: &Entry) -> bool {
        match &entry.work {
            Work::Instance(name) => self.instances.get(name) == Some(&(entry.at, Some(entry.seq))),
            Work::Chore(c) => self.chores[c.index()] == Some((entry.at, entry.seq)),
        }
    }

    /// The work due at or before `now`, each once, in time order; a chore taken is no
    /// longer pending, an instance taken keeps its time (see [`Due::instance`]).
    pub(super) fn take(&mut self, now: Instant) -> Vec<Work> {
        let mut out: Vec<Work> = Vec::new();
        while let Some(Reverse(first)) = self.heap.peek() {
            if first.at > now {
                break;
            }
            let Some(Reverse(entry)) = self.heap.pop() else {
                break;
            };
            if !self.current(&entry) {
                continue;
            }
            match &entry.work {
                Work::Instance(name) => {
                    if let Some(set) = self.instances.get_mut(name) {
                        set.1 = None;
                    }
                }
                Work::Chore(c) => self.chores[c.index()] = None,
            }
            out.push(entry.work);
        }
        out
    }

    /// When the first work is due (stale entries on top are dropped).
    pub(super) fn next(&mut self) -> Option<Instant> {
        while let Some(Reverse(entry)) = self.heap.peek() {
            if self.current(entry) {
                return Some(entry.at);
            }
            self.heap.pop();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn inst(name: &str) -> Work {
        Work::Instance(Arc::from(name))
    }

    #[test]
    fn fires_in_order_once_and_skips_what_was_moved() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut d = Due::default();
        d.instance("a", Some(ms(30)));
        d.instance("b", Some(ms(10)));
        d.instance("c", Some(ms(20)));
        d.instance("c", Some(ms(50))); // moved: its entry at 20 is stale
        d.instance("b", None); // cleared
        assert_eq!(d.next(), Some(ms(30)));
        assert_eq!(d.take(ms(5)), vec![]);
        assert_eq!(d.take(ms(40)), vec![inst("a")]);
        // Fired and set to the same time again: not due again.
        d.instance("a", Some(ms(30)));
        assert_eq!(d.take(ms(40)), vec![]);
        assert_eq!(d.next(), Some(ms(50)));
        // A new time arms it again.
        d.instance("a", Some(ms(45)));
        assert_eq!(d.take(ms(60)), vec![inst("a"), inst("c")]);
        assert_eq!(d.next(), None);
    }

    #[test]
    fn cleared_and_set_again_fires_once() {
        let t0 = Instant::now();
        let mut d = Due::default();
        d.instance("a", Some(t0));
        d.instance("a", None);
        d.instance("a", Some(t0)); // two heap entries with the same time
        assert_eq!(d.take(t0), vec![inst("a")]);
        assert_eq!(d.next(), None);
    }

    #[test]
    fn chores_and_instances_share_one_order_and_a_taken_chore_is_done() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut d = Due::default();
        d.chore(Chore::Rescan, Some(ms(100)));
        d.instance("a", Some(ms(50)));
        d.chore(Chore::Proxy, Some(ms(20)));
        d.chore(Chore::Proxy, Some(ms(70))); // moved
        d.chore(Chore::FullPass, Some(ms(10)));
        d.chore(Chore::FullPass, None); // no longer wanted
        assert_eq!(d.next(), Some(ms(50)));
        assert_eq!(
            d.take(ms(100)),
            vec![
                inst("a"),
                Work::Chore(Chore::Proxy),
                Work::Chore(Chore::Rescan)
            ]
        );
        // Taken, the chore is not pending: the same time arms it again.
        d.chore(Chore::Rescan, Some(ms(100)));
        assert_eq!(d.take(ms(100)), vec![Work::Chore(Chore::Rescan)]);
        assert_eq!(d.next(), None);
    }
}
