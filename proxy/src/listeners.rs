//! The listener registry, keyed by listen address: a reload opens new addresses, closes
//! removed ones (their connections drain, bounded by a timeout) and only swaps what the
//! unchanged ones serve.

use crate::conn::{self, Shared};
use crate::metrics::ConnectionGauge;
use crate::routes::Role;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::runtime::Handle;
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
pub(crate) struct BindError {
    /// The address.
    pub(crate) addr: SocketAddr,
    /// The I/O error.
    #[source]
    pub(crate) source: std::io::Error,
}

/// How the workers share one listen address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Accept {
    /// One socket, every worker accepting from it (prebound listeners always are).
    #[default]
    Shared,
    /// One `SO_REUSEPORT` socket per worker: the kernel spreads connections over them.
    ReusePort,
}

/// One open listener (a socket per worker, or one shared by all).
#[derive(Debug)]
struct Open {
    role: Arc<ArcSwap<Role>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// What a reload changed.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    /// Addresses opened.
    pub(crate) opened: Vec<SocketAddr>,
    /// Addresses closed (draining).
    pub(crate) closed: Vec<SocketAddr>,
    /// Addresses kept, their role swapped.
    pub(crate) kept: usize,
    /// Addresses that could not be opened (the rest of the config applies regardless).
    pub(crate) failed: Vec<BindError>,
}

/// Every open listener by address, each accepted on by every worker.
#[derive(Debug)]
pub(crate) struct Registry {
    open: HashMap<SocketAddr, Open>,
    shared: Arc<Shared>,
    prebound: Prebound,
    workers: Vec<Handle>,
    accept: Accept,
}

impl Registry {
    /// An empty registry whose listeners are served by every runtime of `workers`.
    pub(crate) fn on_workers(
        shared: Arc<Shared>,
        prebound: Prebound,
        workers: Vec<Handle>,
        accept: Accept,
    ) -> Self {
        Self {
            open: HashMap::new(),
            shared,
            prebound,
            workers,
            accept,
        }
    }

    /// Makes the open listeners match `wanted`. An address that cannot be bound (taken
    /// by another process) is reported in [`Changes::failed`] and the rest still applies,
    /// so one stolen port does not freeze every other gateway's backends.
    pub(crate) fn apply(&mut self, wanted: Vec<(SocketAddr, Arc<Role>)>) -> Changes {
        let mut changes = Changes::default();
        let mut fresh = Vec::new();
        for (addr, _) in &wanted {
            if !self.open.contains_key(addr) {
                match self.bind(*addr) {
                    Ok(listeners) => fresh.push((*addr, listeners)),
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
                // one swap that every worker's connections see at once
                open.role.store(role.clone());
                changes.kept += 1;
            }
        }
        for (addr, listeners) in fresh {
            if let Some(role) = keep.get(&addr) {
                self.start(addr, listeners, role.clone());
                changes.opened.push(addr);
            }
        }
        changes.opened.sort();
        changes.closed.sort();
        changes
    }

    /// The addresses listened on.
    pub(crate) fn addresses(&self) -> Vec<SocketAddr> {
        self.open.keys().copied().collect()
    }

    /// Closes every listener and waits for their connections to drain (bounded).
    pub(crate) async fn close_all(&mut self) {
        for open in self.open.values() {
            let _ = open.stop.send(true);
        }
        for (_, open) in self.open.drain() {
            for task in open.tasks {
                let _ = task.await;
            }
        }
    }

    /// A listener per worker, each registered with that worker's runtime: the first
    /// socket (prebound or bound here), then either more `SO_REUSEPORT` sockets on the
    /// same address or duplicates of the first.
    fn bind(&self, addr: SocketAddr) -> Result<Vec<TcpListener>, BindError> {
        let err = |source| BindError { addr, source };
        let prebound = self.prebound.take(&addr);
        let reuse_port = prebound.is_none() && self.accept == Accept::ReusePort;
        let reuse_port = reuse_port && self.workers.len() > 1;
        let first = {
            let _runtime = self.workers[0].enter();
            match prebound {
                Some(std) => {
                    std.set_nonblocking(true).map_err(err)?;
                    TcpListener::from_std(std).map_err(err)?
                }
                None => listen(addr, reuse_port).map_err(err)?,
            }
        };
        // a port 0 in the config: the other workers take the port the first one got
        let local = first.local_addr().map_err(err)?;
        let mut all = Vec::with_capacity(self.workers.len());
        for handle in &self.workers[1..] {
            let _runtime = handle.enter();
            let next = match reuse_port {
                true => listen(local, true),
                false => first
                    .as_fd()
                    .try_clone_to_owned()
                    .and_then(|fd| TcpListener::from_std(std::net::TcpListener::from(fd))),
            };
            all.push(next.map_err(err)?);
        }
        all.insert(0, first);
        Ok(all)
    }

    fn start(&mut self, addr: SocketAddr, listeners: Vec<TcpListener>, role: Arc<Role>) {
        let role = Arc::new(ArcSwap::new(role));
        let (stop, stopped) = watch::channel(false);
        let workers: Arc<[Handle]> = self.workers.clone().into();
        let tasks = listeners
            .into_iter()
            .zip(&self.workers)
            .enumerate()
            .map(|(me, (listener, handle))| {
                let acceptor = Acceptor {
                    role: role.clone(),
                    shared: self.shared.clone(),
                    workers: workers.clone(),
                    me,
                };
                handle.spawn(accept_loop(listener, acceptor, stopped.clone()))
            })
            .collect();
        self.open.insert(addr, Open { role, stop, tasks });
    }
}

/// A listening socket on `addr`, bound here (address reuse on, port reuse if asked).
fn listen(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }?;
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    socket.listen(1024)
}

/// What one worker's accept loop needs: the listener's role and stop signal, and every
/// worker, to hand a connection to the least busy one.
#[derive(Debug)]
struct Acceptor {
    role: Arc<ArcSwap<Role>>,
    shared: Arc<Shared>,
    workers: Arc<[Handle]>,
    me: usize,
}

/// Accepts until told to stop, then closes the socket and lets the connections drain.
async fn accept_loop(listener: TcpListener, acceptor: Acceptor, mut stop: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    let (finish, finishing) = watch::channel(false);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => acceptor.dispatch(stream, peer, &mut conns, &finishing),
                // out of file descriptors or similar: back off instead of spinning
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = finish.send(true);
    let drained = async { while conns.join_next().await.is_some() {} };
    let drain = acceptor.shared.limits.load().drain_timeout;
    let _ = tokio::time::timeout(drain, drained).await;
    conns.abort_all();
}

impl Acceptor {
    /// Serves `stream` here, or on the worker with the fewest connections when this one
    /// has more: one hand-over per connection (never per request) keeps the workers even
    /// whatever the kernel's spread of connections over sockets.
    fn dispatch(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        conns: &mut JoinSet<()>,
        finishing: &watch::Receiver<bool>,
    ) {
        let metrics = &self.shared.metrics;
        let target = metrics.least_busy(self.me);
        let gauge = ConnectionGauge::open(metrics.clone(), target);
        let (role, shared, stop) = (self.role.clone(), self.shared.clone(), finishing.clone());
        if target == self.me {
            conns.spawn(conn::serve(stream, peer, role, shared, stop, gauge));
            return;
        }
        // the socket moves to the other worker's reactor
        let Ok(std) = stream.into_std() else { return };
        let serve = async move {
            if let Ok(stream) = TcpStream::from_std(std) {
                conn::serve(stream, peer, role, shared, stop, gauge).await;
            }
        };
        conns.spawn_on(serve, &self.workers[target]);
    }
}
