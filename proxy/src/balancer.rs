//! Round robin over a gateway's backends, trying backends that refused lately last.

use crate::clock::now_ms;
use crate::limits::Limits;
use crate::upstream::Pool;
use crate::workers;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// Why a connection to a backend could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    /// The backend refused or reset the connection (or its name did not resolve).
    #[error("{backend}: {source}")]
    Refused {
        /// The backend's `HOST:PORT`.
        backend: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The connect did not finish in time.
    #[error("{backend}: connect timed out after {after:?}")]
    Timeout {
        /// The backend's `HOST:PORT`.
        backend: String,
        /// The timeout that passed.
        after: Duration,
    },
}

/// One backend: its address, its idle keep-alive connections, and when it last refused.
#[derive(Debug)]
pub(crate) struct Backend {
    /// `HOST:PORT` as written in the config.
    pub(crate) authority: String,
    /// The same as a `Host` value, for requests that come without one (HTTP/2's carry
    /// `:authority` instead): made once, not per request.
    pub(crate) host: Option<http::HeaderValue>,
    addr: Option<SocketAddr>,
    down_until_ms: AtomicU64,
    /// Idle keep-alive connections to this backend, one pool per worker (a connection
    /// is registered with the runtime of the worker that opened it).
    pools: Box<[Pool]>,
}

impl Backend {
    /// A backend at `authority` (`HOST:PORT`, already validated), served by `workers`.
    pub(crate) fn new(authority: &str, workers: usize) -> Self {
        Self {
            authority: authority.to_string(),
            host: http::HeaderValue::from_str(authority).ok(),
            addr: authority.parse().ok(),
            down_until_ms: AtomicU64::new(0),
            pools: (0..workers.max(1)).map(|_| Pool::default()).collect(),
        }
    }

    /// The idle connections of the worker running the caller.
    pub(crate) fn pool(&self) -> &Pool {
        let index = workers::current().min(self.pools.len() - 1);
        &self.pools[index]
    }

    /// Opens a TCP connection to the backend; a failure marks it down for a while.
    pub(crate) async fn connect(&self, limits: &Limits) -> Result<TcpStream, ConnectError> {
        let connect = async {
            match self.addr {
                Some(addr) => TcpStream::connect(addr).await,
                None => TcpStream::connect(self.authority.as_str()).await,
            }
        };
        let result = match tokio::time::timeout(limits.connect_timeout, connect).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(source)) => Err(ConnectError::Refused {
                backend: self.authority.clone(),
                source,
            }),
            Err(_) => Err(ConnectError::Timeout {
                backend: self.authority.clone(),
                after: limits.connect_timeout,
            }),
        };
        let cooldown = u64::try_from(limits.backend_cooldown.as_millis()).unwrap_or(u64::MAX);
        self.down_until_ms
            .store(now_ms().saturating_add(cooldown), Ordering::Relaxed);
        result
    }

    /// True when the backend refused lately; the clock is read only for a backend that
    /// ever refused (`now` caches it for the rest of the request's candidates).
    fn is_down(&self, now: &mut Option<u64>) -> bool {
        match self.down_until_ms.load(Ordering::Relaxed) {
            0 => false,
            until => until > *now.get_or_insert_with(now_ms),
        }
    }
}

/// A gateway's backends and its round-robin position.
#[derive(Debug, Default)]
pub(crate) struct Balancer {
    backends: Vec<Arc<Backend>>,
    next: AtomicUsize,
}

impl Balancer {
    /// Balances over `backends` in order.
    pub(crate) fn new(backends: Vec<Arc<Backend>>) -> Self {
        Self {
            backends,
            next: AtomicUsize::new(0),
        }
    }

    /// True when the gateway has no backend at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.backends.is_empty()
    }

    /// The backends to try for one request, in order: the next one in turn first,
    /// then the others; those that refused lately come last; at most `max_tries`.
    pub(crate) fn candidates(&self, max_tries: usize) -> Candidates<'_> {
        let start = if self.backends.len() > 1 {
            self.next.fetch_add(1, Ordering::Relaxed)
        } else {
            0
        };
        Candidates {
            backends: &self.backends,
            start,
            index: 0,
            pass: 0,
            left: max_tries.max(1),
            now: None,
        }
    }
}

/// The order in which one request tries backends (see [`Balancer::candidates`]).
#[derive(Debug)]
pub(crate) struct Candidates<'a> {
    backends: &'a [Arc<Backend>],
    start: usize,
    index: usize,
    pass: u8,
    left: usize,
    now: Option<u64>,
}

impl<'a> Iterator for Candidates<'a> {
    type Item = &'a Arc<Backend>;

    fn next(&mut self) -> Option<Self::Item> {
        let n = self.backends.len();
        while self.left > 0 && self.pass < 2 {
            if self.index == n {
                self.index = 0;
                self.pass += 1;
                continue;
            }
            let backend = &self.backends[(self.start + self.index) % n];
            self.index += 1;
            // pass 0 takes the healthy ones, pass 1 the ones that refused lately
            if backend.is_down(&mut self.now) == (self.pass == 1) {
                self.left -= 1;
                return Some(backend);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(b: &Balancer, tries: usize) -> Vec<String> {
        b.candidates(tries).map(|x| x.authority.clone()).collect()
    }

    #[test]
    fn rotates_and_tries_down_backends_last() {
        let list: Vec<_> = ["a:1", "b:1", "c:1"]
            .iter()
            .map(|a| Arc::new(Backend::new(a, 1)))
            .collect();
        list[1].down_until_ms.store(u64::MAX, Ordering::Relaxed);
        let b = Balancer::new(list);
        assert_eq!(names(&b, 8), ["a:1", "c:1", "b:1"]);
        assert_eq!(names(&b, 8), ["c:1", "a:1", "b:1"]);
        assert_eq!(names(&b, 1), ["c:1"]);
        assert!(Balancer::default().candidates(3).next().is_none());
    }
}
