//! The proxy as a process: its log, its runtime, its stop signals and its config file.
//! Shared by the `lcc-proxy` binary and `lcc proxy`, the fallback the daemon runs when no
//! `lcc-proxy` binary sits next to `lcc` (as after `cargo run --bin lcc`).

use crate::listeners::Accept;
use crate::server::{run, Options, ProxyError};
use std::path::PathBuf;
use tokio::signal::unix::{signal, SignalKind};

/// Serves `config` until SIGTERM or SIGINT, logging to stderr at the levels `LCC_LOG`
/// names (`info` by default), on `min(cores, 2)` worker threads unless
/// `LCC_PROXY_THREADS=N` says otherwise (`LCC_PROXY_ACCEPT=shared|reuseport` picks how
/// they share a listen address), each kept on a core of its own unless `LCC_PROXY_PIN=0`.
/// With `applied`, the digest of each config applied is written there; with `listeners`,
/// the addresses served and those that cannot be bound yet.
pub fn serve_until_signalled(
    config: PathBuf,
    applied: Option<PathBuf>,
    listeners: Option<PathBuf>,
) -> Result<(), ProxyError> {
    // To stderr, which the daemon appends to `.lcc/proxy.log`.
    lcc_core::log::init();
    let workers = std::env::var("LCC_PROXY_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(default_workers);
    // one socket shared by the workers keeps binding exclusive: a second proxy on the
    // same port fails instead of silently taking part of the connections
    let accept = match std::env::var("LCC_PROXY_ACCEPT").as_deref() {
        Ok("reuseport") => Accept::ReusePort,
        _ => Accept::Shared,
    };
    // every worker runs a current-thread runtime: this one is worker 0
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ProxyError::Runtime)?;
    runtime.block_on(async {
        let mut term = signal(SignalKind::terminate()).map_err(ProxyError::Signal)?;
        let mut int = signal(SignalKind::interrupt()).map_err(ProxyError::Signal)?;
        let stop = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        let mut options = Options::new(config);
        options.workers = workers;
        options.accept = accept;
        options.pin = std::env::var("LCC_PROXY_PIN").as_deref() != Ok("0");
        options.applied = applied;
        options.listeners = listeners;
        run(options, stop).await
    })
}

/// One worker per core, at most 2 (docs/proxy.md, Threads; figures in bench/RESULTS.md).
fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .min(2)
}
