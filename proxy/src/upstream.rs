//! The pool of keep-alive connections to one backend ([`h1::Conn`]), one per worker
//! (a socket belongs to the reactor of the worker that opened it), most recently used
//! first.

use crate::balancer::Backend;
use crate::h1;
use crate::limits::Limits;
use std::sync::Mutex;
use std::time::Instant;

/// Idle connections to one backend, most recently used last.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<Vec<(h1::Conn, Instant)>>,
}

impl Pool {
    /// Takes the most recently used idle connection that is still open and fresh.
    fn take(&self, limits: &Limits) -> Option<h1::Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((mut conn, since)) = idle.pop() {
            if since.elapsed() < limits.pool_idle_timeout && conn.is_open() {
                return Some(conn);
            }
        }
        None
    }

    /// Gives back a connection whose last exchange is complete; at most `max_idle` are
    /// kept.
    pub(crate) fn put(&self, conn: h1::Conn, max_idle: usize) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < max_idle {
            idle.push((conn, Instant::now()));
        }
    }
}

/// An idle pooled connection to `backend` that is still open and fresh, if it has one.
pub(crate) fn checkout(backend: &Backend, limits: &Limits) -> Option<h1::Conn> {
    backend.pool().take(limits)
}
