//! The proxy as a process: its runtime, its stop signals and its config file. Shared by
//! the `lcc-proxy` binary and `lcc proxy`, the fallback the daemon runs when no
//! `lcc-proxy` binary sits next to `lcc` (as after `cargo run --bin lcc`).

use crate::server::{run, Options, ProxyError};
use std::path::PathBuf;
use tokio::signal::unix::{signal, SignalKind};

/// Serves `config` until SIGTERM or SIGINT, on one thread unless `LCC_PROXY_THREADS=N`.
pub fn serve_until_signalled(config: PathBuf) -> Result<(), ProxyError> {
    // one thread by default: no cross-thread wake-ups, the least CPU per request;
    // LCC_PROXY_THREADS=N (N > 1) spreads the work over N threads
    let threads = std::env::var("LCC_PROXY_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1);
    let mut builder = if threads > 1 {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = builder.enable_all().build().map_err(ProxyError::Runtime)?;
    runtime.block_on(async {
        let mut term = signal(SignalKind::terminate()).map_err(ProxyError::Signal)?;
        let mut int = signal(SignalKind::interrupt()).map_err(ProxyError::Signal)?;
        let stop = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        run(Options::new(config), stop).await
    })
}
