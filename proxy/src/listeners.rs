//! The listener registry, keyed by listen address: a reload opens new addresses, closes
//! removed ones (their connections drain, bounded by a timeout) and only swaps what the
//! unchanged ones serve.

use crate::conn::{self, Shared};
use crate::routes::Role;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Listeners bound before the proxy opens them (tests bind port 0); the registry takes
/// one when the config names its address, and binds itself otherwise.
#[derive(Debug, Clone, Default)]
pub struct Prebound(Arc<Mutex<HashMap<SocketAddr, std::net::TcpListener>>>);

impl Prebound {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a bound listener; returns its address.
    pub fn add(&self, listener: std::net::TcpListener) -> std::io::Result<SocketAddr> {
        let addr = listener.local_addr()?;
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(addr, listener);
        Ok(addr)
    }

    /// Binds `127.0.0.1:0`, keeps the listener and returns its address.
    pub fn bind_local(&self) -> std::io::Result<SocketAddr> {
        self.add(std::net::TcpListener::bind("127.0.0.1:0")?)
    }

    fn take(&self, addr: &SocketAddr) -> Option<std::net::TcpListener> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(addr)
    }
}

/// A listen address that could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    /// The address.
    pub addr: SocketAddr,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// One open listener.
#[derive(Debug)]
struct Open {
    role: Arc<ArcSwap<Role>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// What a reload changed.
#[derive(Debug, Default)]
pub struct Changes {
    /// Addresses opened.
    pub opened: Vec<SocketAddr>,
    /// Addresses closed (draining).
    pub closed: Vec<SocketAddr>,
    /// Addresses kept, their role swapped.
    pub kept: usize,
    /// Addresses that could not be opened (the rest of the config applies regardless).
    pub failed: Vec<BindError>,
}

/// Every open listener by address.
#[derive(Debug)]
pub struct Registry {
    open: HashMap<SocketAddr, Open>,
    shared: Arc<Shared>,
    prebound: Prebound,
}

impl Registry {
    /// An empty registry.
    pub fn new(shared: Arc<Shared>, prebound: Prebound) -> Self {
        Self {
            open: HashMap::new(),
            shared,
            prebound,
        }
    }

    /// Makes the open listeners match `wanted`. An address that cannot be bound (taken
    /// by another process) is reported in [`Changes::failed`] and the rest still applies,
    /// so one stolen port does not freeze every other gateway's backends.
    pub fn apply(&mut self, wanted: Vec<(SocketAddr, Arc<Role>)>) -> Changes {
        let mut changes = Changes::default();
        let mut fresh = Vec::new();
        for (addr, _) in &wanted {
            if !self.open.contains_key(addr) {
                match self.bind(*addr) {
                    Ok(listener) => fresh.push((*addr, listener)),
                    Err(e) => changes.failed.push(e),
                }
            }
        }
        let keep: HashMap<SocketAddr, Arc<Role>> = wanted.into_iter().collect();
        let removed: Vec<SocketAddr> = self
            .open
            .keys()
            .filter(|a| !keep.contains_key(a))
            .copied()
            .collect();
        for addr in removed {
            if let Some(open) = self.open.remove(&addr) {
                let _ = open.stop.send(true);
                changes.closed.push(addr);
            }
        }
        for (addr, open) in &self.open {
            if let Some(role) = keep.get(addr) {
                open.role.store(role.clone());
                changes.kept += 1;
            }
        }
        for (addr, listener) in fresh {
            if let Some(role) = keep.get(&addr) {
                self.start(addr, listener, role.clone());
                changes.opened.push(addr);
            }
        }
        changes.opened.sort();
        changes.closed.sort();
        changes
    }

    /// Tells every listener to stop, without waiting for their connections.
    pub fn stop_all(&mut self) {
        for (_, open) in self.open.drain() {
            let _ = open.stop.send(true);
        }
    }

    /// Closes every listener and waits for their connections to drain (bounded).
    pub async fn close_all(&mut self) {
        for open in self.open.values() {
            let _ = open.stop.send(true);
        }
        for (_, open) in self.open.drain() {
            let _ = open.task.await;
        }
    }

    fn bind(&self, addr: SocketAddr) -> Result<TcpListener, BindError> {
        let err = |source| BindError { addr, source };
        if let Some(std) = self.prebound.take(&addr) {
            std.set_nonblocking(true).map_err(err)?;
            return TcpListener::from_std(std).map_err(err);
        }
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(err)?;
        socket.set_reuseaddr(true).map_err(err)?;
        socket.bind(addr).map_err(err)?;
        socket.listen(1024).map_err(err)
    }

    fn start(&mut self, addr: SocketAddr, listener: TcpListener, role: Arc<Role>) {
        let role = Arc::new(ArcSwap::new(role));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(
            listener,
            role.clone(),
            self.shared.clone(),
            stopped,
        ));
        self.open.insert(addr, Open { role, stop, task });
    }
}

/// Accepts until told to stop, then closes the socket and lets the connections drain.
async fn accept_loop(
    listener: TcpListener,
    role: Arc<ArcSwap<Role>>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    let (finish, finishing) = watch::channel(false);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    conns.spawn(conn::serve(stream, peer, role.clone(), shared.clone(), finishing.clone()));
                }
                // out of file descriptors or similar: back off instead of spinning
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = finish.send(true);
    let drained = async { while conns.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(shared.limits.drain_timeout, drained).await;
    conns.abort_all();
}
