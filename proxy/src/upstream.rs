//! Keep-alive HTTP/1 connections to backends: a small pool per backend.

use crate::balancer::{Backend, ConnectError};
use crate::body::UpBody;
use crate::h1;
use crate::limits::Limits;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::sync::Mutex;
use std::time::Instant;

/// A sender on one backend connection.
pub type Sender = SendRequest<UpBody>;

/// Idle connections to one backend, most recently used last: hyper's, and the lean
/// client's (see [`h1`]).
#[derive(Debug, Default)]
pub struct Pool {
    idle: Mutex<Vec<(Sender, Instant)>>,
    lean: Mutex<Vec<(h1::Conn, Instant)>>,
}

impl Pool {
    /// Takes the most recently used idle connection that is still open and fresh.
    fn take(&self, limits: &Limits) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((sender, since)) = idle.pop() {
            if !sender.is_closed() && since.elapsed() < limits.pool_idle_timeout {
                return Some(sender);
            }
        }
        None
    }

    /// Gives back a connection whose last response is complete.
    pub fn put(&self, sender: Sender, limits: &Limits) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < limits.max_idle_per_backend {
            idle.push((sender, Instant::now()));
        }
    }
}

impl Pool {
    /// Takes the most recently used idle lean connection that is still open and fresh.
    fn take_lean(&self, limits: &Limits) -> Option<h1::Conn> {
        let mut idle = self.lean.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((mut conn, since)) = idle.pop() {
            if since.elapsed() < limits.pool_idle_timeout && conn.is_open() {
                return Some(conn);
            }
        }
        None
    }

    /// Gives back a lean connection whose last response is complete; at most
    /// `max_idle` are kept.
    pub fn put_lean(&self, conn: h1::Conn, max_idle: usize) {
        let mut idle = self.lean.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < max_idle {
            idle.push((conn, Instant::now()));
        }
    }
}

/// An idle pooled lean connection to `backend`, or a new one.
pub async fn checkout_lean(backend: &Backend, limits: &Limits) -> Result<h1::Conn, ConnectError> {
    match backend.pool().take_lean(limits) {
        Some(conn) => Ok(conn),
        None => h1::Conn::connect(backend, limits).await,
    }
}

/// An idle pooled connection to `backend`, or a new one.
pub async fn checkout(backend: &Backend, limits: &Limits) -> Result<Sender, ConnectError> {
    match backend.pool().take(limits) {
        Some(sender) => Ok(sender),
        None => fresh(backend, limits).await,
    }
}

/// A new connection to `backend`, its HTTP/1 handshake done.
pub async fn fresh(backend: &Backend, limits: &Limits) -> Result<Sender, ConnectError> {
    let stream = backend.connect(limits).await?;
    let handshake = hyper::client::conn::http1::Builder::new()
        .handshake::<_, UpBody>(TokioIo::new(stream))
        .await;
    match handshake {
        Ok((sender, conn)) => {
            tokio::spawn(async move {
                // errors surface on the sender's request; nothing to add here
                let _ = conn.with_upgrades().await;
            });
            Ok(sender)
        }
        Err(e) => Err(ConnectError::Refused {
            backend: backend.authority.clone(),
            source: std::io::Error::other(e),
        }),
    }
}
