//! The tasks of one HTTP/2 connection's streams (a response on its way from a backend,
//! a response body read a frame at a time), polled by the connection's own task, each
//! only when its waker was called. Unlike a set that only yields what finished, a task
//! here stays in its slot between polls and is dropped by its slot, so the connection
//! can poll a body again once the client's window opens, and drop the task of a stream
//! the client reset. A slot's waker is made once and kept for every task the slot holds.

use futures_util::task::AtomicWaker;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

/// The slots woken since the connection last looked, and the connection's own waker.
#[derive(Debug, Default)]
struct Woken {
    slots: Mutex<Vec<usize>>,
    conn: AtomicWaker,
}

/// The waker of one slot.
#[derive(Debug)]
struct SlotWaker {
    slot: usize,
    woken: Arc<Woken>,
    /// Already in the list: a second wake-up adds nothing.
    queued: AtomicBool,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.mark();
        self.woken.conn.wake();
    }
}

impl SlotWaker {
    /// Puts the slot in the woken list, once.
    fn mark(&self) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.woken
                .slots
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(self.slot);
        }
    }
}

#[derive(Debug)]
struct Slot<T> {
    task: Option<T>,
    signal: Arc<SlotWaker>,
    waker: Waker,
}

/// The set.
#[derive(Debug)]
pub(crate) struct Tasks<T> {
    slots: Vec<Slot<T>>,
    free: Vec<usize>,
    woken: Arc<Woken>,
    /// Slots taken from the woken list and not polled yet.
    due: Vec<usize>,
}

impl<T> Default for Tasks<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            woken: Arc::default(),
            due: Vec::new(),
        }
    }
}

impl<T> Tasks<T> {
    /// Wakes the connection's task (`waker`) whenever a task is woken.
    pub(crate) fn register(&self, waker: &Waker) {
        self.woken.conn.register(waker);
    }

    /// Puts `task` in a slot, due to be polled.
    pub(crate) fn insert(&mut self, task: T) -> usize {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = self.slots.len();
                let signal = Arc::new(SlotWaker {
                    slot,
                    woken: self.woken.clone(),
                    queued: AtomicBool::new(false),
                });
                let waker = Waker::from(signal.clone());
                self.slots.push(Slot {
                    task: None,
                    signal,
                    waker,
                });
                slot
            }
        };
        self.slots[slot].task = Some(task);
        self.wake(slot);
        slot
    }

    /// Drops the task of `slot`.
    pub(crate) fn remove(&mut self, slot: usize) -> Option<T> {
        let task = self.slots.get_mut(slot)?.task.take();
        if task.is_some() {
            self.free.push(slot);
        }
        task
    }

    /// Replaces the task of `slot` by `task`, due to be polled.
    pub(crate) fn replace(&mut self, slot: usize, task: T) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.task = Some(task);
            self.wake(slot);
        }
    }

    /// The task of `slot`.
    pub(crate) fn get(&self, slot: usize) -> Option<&T> {
        self.slots.get(slot)?.task.as_ref()
    }

    /// Makes `slot` due to be polled. The connection's task is not woken: the
    /// connection calls this from its own poll, and looks at what is due before it
    /// sleeps.
    pub(crate) fn wake(&self, slot: usize) {
        if let Some(s) = self.slots.get(slot) {
            s.signal.mark();
        }
    }

    /// The next slot due to be polled, if any.
    pub(crate) fn next_due(&mut self) -> Option<usize> {
        if self.due.is_empty() {
            let mut woken = self.woken.slots.lock().unwrap_or_else(|e| e.into_inner());
            // the oldest first: the list is drained from its end
            woken.reverse();
            std::mem::swap(&mut self.due, &mut woken);
        }
        let slot = self.due.pop()?;
        // woken again from here on, it is due again, even if the caller passes it over
        if let Some(s) = self.slots.get(slot) {
            s.signal.queued.store(false, Ordering::Release);
        }
        Some(slot)
    }

    /// Whether slots were woken and wait to be polled.
    pub(crate) fn has_due(&self) -> bool {
        !self.due.is_empty()
            || !self
                .woken
                .slots
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
    }

    /// Polls the task of `slot` with its own waker; `None` when the slot is empty.
    pub(crate) fn poll<R>(
        &mut self,
        slot: usize,
        f: impl FnOnce(&mut T, &mut Context<'_>) -> R,
    ) -> Option<R> {
        let s = self.slots.get_mut(slot)?;
        let task = s.task.as_mut()?;
        let mut cx = Context::from_waker(&s.waker);
        Some(f(task, &mut cx))
    }

    /// How many tasks there are.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[derive(Default)]
    struct Counting(AtomicUsize);

    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn only_woken_tasks_are_due_each_once_and_in_order() {
        let mut tasks = Tasks::default();
        let conn = Arc::new(Counting::default());
        tasks.register(&Waker::from(conn.clone()));
        let (a, b, c) = (tasks.insert("a"), tasks.insert("b"), tasks.insert("c"));
        assert_eq!(
            conn.0.load(Ordering::Relaxed),
            0,
            "the connection's own inserts do not wake it"
        );
        let mut due = Vec::new();
        while let Some(slot) = tasks.next_due() {
            let waker = tasks.poll(slot, |_, cx| cx.waker().clone()).unwrap();
            due.push((slot, waker));
        }
        assert_eq!(due.iter().map(|d| d.0).collect::<Vec<_>>(), [a, b, c]);
        assert!(tasks.next_due().is_none(), "nothing woken since");
        due[2].1.wake_by_ref();
        due[2].1.wake_by_ref();
        due[0].1.wake_by_ref();
        assert_eq!(tasks.next_due(), Some(c));
        assert_eq!(tasks.next_due(), Some(a));
        assert_eq!(tasks.next_due(), None, "woken twice, due once");
        assert_eq!(
            conn.0.load(Ordering::Relaxed),
            1,
            "the connection was woken, once a poll"
        );
    }

    #[test]
    fn a_slot_passed_over_is_due_again_when_woken() {
        let mut tasks = Tasks::default();
        let a = tasks.insert(());
        assert_eq!(tasks.next_due(), Some(a));
        // not polled: the caller passed it over
        tasks.wake(a);
        assert_eq!(tasks.next_due(), Some(a), "woken after being passed over");
        assert!(!tasks.has_due());
    }

    #[test]
    fn a_removed_task_frees_its_slot_and_is_not_polled() {
        let mut tasks = Tasks::default();
        let a = tasks.insert(1);
        assert_eq!(tasks.remove(a), Some(1));
        assert_eq!(tasks.remove(a), None);
        assert_eq!(tasks.len(), 0);
        assert_eq!(tasks.next_due(), Some(a));
        assert_eq!(tasks.poll(a, |t, _| *t), None);
        let b = tasks.insert(2);
        assert_eq!(b, a, "the slot is taken again");
        assert_eq!(tasks.len(), 1);
    }
}
