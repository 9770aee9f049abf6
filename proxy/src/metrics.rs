//! Counters served at `/_lcc/metrics` in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What a set of counters belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// An entrance on the http listener.
    Entrance,
    /// A gateway's own listener.
    Gateway,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Entrance => "entrance",
            Kind::Gateway => "gateway",
        }
    }
}

/// Traffic counters of one entrance or gateway.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Requests (http) or connections (tcp) handled.
    pub(crate) requests: AtomicU64,
    /// Requests or connections answered with an error by the proxy.
    pub(crate) errors: AtomicU64,
    /// Body bytes received from clients.
    pub(crate) bytes_in: AtomicU64,
    /// Body bytes sent to clients.
    pub(crate) bytes_out: AtomicU64,
}

impl Counters {
    /// Adds `n` to a counter.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// All counters of one proxy.
#[derive(Debug)]
pub(crate) struct Metrics {
    by_name: Mutex<BTreeMap<(Kind, String), Arc<Counters>>>,
    /// Config files applied.
    pub(crate) reloads: AtomicU64,
    /// Config files refused.
    pub(crate) reloads_refused: AtomicU64,
    /// Client connections open now on each worker thread.
    active: Box<[AtomicI64]>,
    /// Client connections served by each worker thread so far (shows how they spread).
    accepted: Box<[AtomicU64]>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::with_workers(1)
    }
}

impl Metrics {
    /// Counters for a proxy with `workers` worker threads.
    pub(crate) fn with_workers(workers: usize) -> Self {
        Self {
            by_name: Mutex::default(),
            reloads: AtomicU64::new(0),
            reloads_refused: AtomicU64::new(0),
            active: (0..workers.max(1)).map(|_| AtomicI64::new(0)).collect(),
            accepted: (0..workers.max(1)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The worker with the fewest open client connections; `me` when it is among them
    /// (as haproxy and nginx do, so that no thread holds more than its share).
    pub(crate) fn least_busy(&self, me: usize) -> usize {
        let load = |i: usize| {
            self.active
                .get(i)
                .map_or(i64::MAX, |a| a.load(Ordering::Relaxed))
        };
        let mut best = me.min(self.active.len() - 1);
        for i in 0..self.active.len() {
            if load(i) < load(best) {
                best = i;
            }
        }
        best
    }

    /// Client connections open now, over every worker.
    pub(crate) fn active_connections(&self) -> i64 {
        self.active.iter().map(|a| a.load(Ordering::Relaxed)).sum()
    }

    /// The counters of `name`, created at first use and kept across reloads.
    pub(crate) fn counters(&self, kind: Kind, name: &str) -> Arc<Counters> {
        let mut map = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((kind, name.to_string())).or_default().clone()
    }

    /// Renders every counter in the Prometheus text exposition format.
    pub(crate) fn render(&self) -> String {
        let mut out = String::with_capacity(1024);
        let map = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
        type Pick = fn(&Counters) -> &AtomicU64;
        let families: [(&str, &str, Pick); 4] = [
            (
                "lcc_proxy_requests_total",
                "Requests (http) or connections (tcp) handled.",
                |c| &c.requests,
            ),
            (
                "lcc_proxy_errors_total",
                "Requests or connections answered with a proxy error.",
                |c| &c.errors,
            ),
            (
                "lcc_proxy_received_bytes_total",
                "Body bytes received from clients.",
                |c| &c.bytes_in,
            ),
            (
                "lcc_proxy_sent_bytes_total",
                "Body bytes sent to clients.",
                |c| &c.bytes_out,
            ),
        ];
        for (name, help, pick) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((kind, label), c) in map.iter() {
                let v = pick(c).load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "{name}{{kind=\"{}\",name=\"{label}\"}} {v}",
                    kind.label()
                );
            }
        }
        let reloads = self.reloads.load(Ordering::Relaxed);
        let refused = self.reloads_refused.load(Ordering::Relaxed);
        let active = self.active_connections();
        let _ = writeln!(
            out,
            "# HELP lcc_proxy_reloads_total Config files applied or refused.\n\
             # TYPE lcc_proxy_reloads_total counter\n\
             lcc_proxy_reloads_total{{result=\"applied\"}} {reloads}\n\
             lcc_proxy_reloads_total{{result=\"refused\"}} {refused}\n\
             # HELP lcc_proxy_active_connections Client connections open now.\n\
             # TYPE lcc_proxy_active_connections gauge\n\
             lcc_proxy_active_connections {active}\n\
             # HELP lcc_proxy_worker_connections_total Client connections accepted per worker thread.\n\
             # TYPE lcc_proxy_worker_connections_total counter"
        );
        for (worker, n) in self.accepted.iter().enumerate() {
            let n = n.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "lcc_proxy_worker_connections_total{{worker=\"{worker}\"}} {n}"
            );
        }
        out
    }
}

/// Counts one open client connection, on the worker serving it, for as long as it lives.
#[derive(Debug)]
pub(crate) struct ConnectionGauge {
    metrics: Arc<Metrics>,
    worker: usize,
}

impl ConnectionGauge {
    /// Counts a connection as open and served by `worker`.
    pub(crate) fn open(metrics: Arc<Metrics>, worker: usize) -> Self {
        let worker = worker.min(metrics.active.len() - 1);
        metrics.active[worker].fetch_add(1, Ordering::Relaxed);
        metrics.accepted[worker].fetch_add(1, Ordering::Relaxed);
        Self { metrics, worker }
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        self.metrics.active[self.worker].fetch_sub(1, Ordering::Relaxed);
    }
}
