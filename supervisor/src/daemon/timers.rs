//! When each instance next needs a step of its own (a probe due, a backoff over), kept in
//! a heap: an idle loop over hundreds of instances finds what is due, and its next
//! deadline, without looking at every instance at each wake-up.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Instant;

/// Each instance's wake-up time, with a heap ordered by time. An entry whose time is no
/// longer the instance's (it was set again since) is stale and skipped when it comes up.
/// The heap and the map share each name (no copy of it per wake-up set).
#[derive(Debug, Default)]
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Arc<str>)>>,
    /// The time each instance was last set to, fired or not.
    armed: HashMap<Arc<str>, Instant>,
}

impl Timers {
    /// Sets `name`'s wake-up to `at` (`None`: none). A time equal to the last one set is
    /// not armed again: a wake-up that fired and that the step left unchanged (a start
    /// that waits for the gate, whose waiting list wakes it) must not fire at every pass.
    pub(super) fn set(&mut self, name: &str, at: Option<Instant>) {
        let Some(at) = at else {
            self.armed.remove(name);
            return;
        };
        let key = match self.armed.get_key_value(name) {
            Some((_, t)) if *t == at => return,
            Some((k, _)) => Arc::clone(k),
            None => Arc::from(name),
        };
        self.armed.insert(Arc::clone(&key), at);
        self.heap.push(Reverse((at, key)));
    }

    /// The instances whose wake-up is at or before `now`, each once.
    pub(super) fn due(&mut self, now: Instant) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        while let Some(Reverse((at, _))) = self.heap.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, name))) = self.heap.pop() else {
                break;
            };
            if self.armed.get(&name) == Some(&at) && !out.iter().any(|n| n.as_str() == &*name) {
                out.push(name.to_string());
            }
        }
        out
    }

    /// The earliest wake-up still armed (stale entries on top are dropped).
    pub(super) fn next(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, name))) = self.heap.peek() {
            if self.armed.get(name) == Some(at) {
                return Some(*at);
            }
            self.heap.pop();
        }
        None
    }

    /// Forgets every wake-up (a full pass sets them all again).
    pub(super) fn clear(&mut self) {
        self.heap.clear();
        self.armed.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fires_in_order_once_and_skips_what_was_moved() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut t = Timers::default();
        t.set("a", Some(ms(30)));
        t.set("b", Some(ms(10)));
        t.set("c", Some(ms(20)));
        t.set("c", Some(ms(50))); // moved: its entry at 20 is stale
        t.set("b", None); // cleared
        assert_eq!(t.next(), Some(ms(30)));
        assert_eq!(t.due(ms(5)), Vec::<String>::new());
        assert_eq!(t.due(ms(40)), vec!["a".to_string()]);
        // Fired and set to the same time again: not due again.
        t.set("a", Some(ms(30)));
        assert_eq!(t.due(ms(40)), Vec::<String>::new());
        assert_eq!(t.next(), Some(ms(50)));
        // A new time arms it again.
        t.set("a", Some(ms(45)));
        assert_eq!(t.due(ms(60)), vec!["a".to_string(), "c".to_string()]);
        assert_eq!(t.next(), None);
    }

    #[test]
    fn cleared_and_set_again_fires_once() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.set("a", Some(t0));
        t.set("a", None);
        t.set("a", Some(t0)); // two heap entries with the same time
        assert_eq!(t.due(t0), vec!["a".to_string()]);
        t.clear();
        assert_eq!(t.next(), None);
    }
}
