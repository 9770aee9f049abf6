//! How parallel tests share the machine. Every test of the crate runs in one process,
//! two at a time on two cores; a cluster, a pod or a set of hosts takes a
//! [`Turn::shared`], so any number of them run together. A test that measures how
//! long a repair takes runs with the machine to itself (faults::proxy_kill: the
//! requests that fail between a kill and the new proxy; faults::app_kill: a killed or
//! hung app taken out of the gateway and back), so its figures are the system's and
//! not the load's. Its cluster takes a [`Turn::alone`], which waits until no other
//! cluster, pod or set of hosts runs, and holds off new ones (the lock prefers writers)
//! until it is dropped. Those tests read what happened from records (events,
//! timestamps), so a thread kept waiting still sees it.

use std::cell::Cell;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static MACHINE: RwLock<()> = RwLock::new(());

thread_local! {
    /// Whether this thread (one test) holds a turn already: a second one is not taken,
    /// as a waiting writer would make it wait for the first forever.
    static HELD: Cell<bool> = const { Cell::new(false) };
}

/// A test's turn on the machine, held until dropped.
#[derive(Debug)]
pub enum Turn {
    /// Alongside other shared turns (None: this thread holds a turn already).
    Shared(#[allow(dead_code)] Option<RwLockReadGuard<'static, ()>>),
    /// With the machine to itself.
    Alone(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

impl Turn {
    /// A turn alongside the other tests.
    pub fn shared() -> Turn {
        if HELD.get() {
            return Turn::Shared(None);
        }
        let guard = MACHINE.read().unwrap_or_else(|e| e.into_inner());
        HELD.set(true);
        Turn::Shared(Some(guard))
    }

    /// The machine alone: waits for every other turn to end.
    pub fn alone() -> Turn {
        assert!(
            !HELD.get(),
            "a test that runs alone takes its turn before any other"
        );
        let guard = MACHINE.write().unwrap_or_else(|e| e.into_inner());
        HELD.set(true);
        Turn::Alone(guard)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if !matches!(self, Turn::Shared(None)) {
            HELD.set(false);
        }
    }
}
