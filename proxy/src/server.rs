//! The proxy's entry point: serve a config file on already-bound (or self-bound)
//! listeners, reload it live, and stop when the shutdown future completes.

use crate::conn::Shared;
use crate::limits::Limits;
use crate::listeners::{Accept, Prebound, Registry};
use crate::metrics::Metrics;
use crate::reload::{self, Reloader};
use crate::workers::Workers;
use arc_swap::ArcSwap;
use lcc_core::proxy_config::ConfigError;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;

/// How to run one proxy.
#[derive(Debug)]
pub struct Options {
    /// The config file, reloaded whenever it changes.
    pub config: PathBuf,
    /// Timeouts and bounds; the config's `timeouts` override these.
    pub limits: Limits,
    /// Listeners bound in advance (may be empty).
    pub prebound: Prebound,
    /// Reload on SIGHUP (the binary does; tests that share a process may not).
    pub sighup: bool,
    /// Worker threads, each with its own runtime, accept loops and backend pools; the
    /// runtime calling [`run`] is the first, so 1 spawns no thread.
    pub workers: usize,
    /// How the workers share each listen address (with more than one worker).
    pub accept: Accept,
    /// Keep each worker on a core of its own (the binary does; tests that share a
    /// process do not).
    pub pin: bool,
    /// Where to write the digest of each config applied
    /// ([`lcc_core::proxy_config::digest`]), atomically.
    pub applied: Option<PathBuf>,
    /// Where to write the listen addresses served and those that cannot be bound yet
    /// ([`lcc_core::proxy_listeners`]), atomically, whenever that changes.
    pub listeners: Option<PathBuf>,
}

impl Options {
    /// Default limits, nothing prebound, SIGHUP on.
    pub fn new(config: impl Into<PathBuf>) -> Self {
        Self {
            config: config.into(),
            limits: Limits::default(),
            prebound: Prebound::new(),
            sighup: true,
            workers: 1,
            accept: Accept::default(),
            pin: false,
            applied: None,
            listeners: None,
        }
    }
}

/// Why the proxy could not run.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The first config is missing, unparsable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The config file's directory cannot be watched.
    #[error("{path}: cannot watch: {source}")]
    Watch {
        /// The config file.
        path: PathBuf,
        /// The watcher's error.
        #[source]
        source: notify::Error,
    },
    /// A signal handler (SIGHUP, SIGTERM, SIGINT) cannot be installed.
    #[error("cannot handle signals: {0}")]
    Signal(#[source] std::io::Error),
    /// The async runtime (or a worker thread's) cannot start.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// Serves `options.config` until `shutdown` completes, then closes every listener and
/// lets open connections drain (bounded by the drain timeout).
pub async fn run(options: Options, shutdown: impl Future<Output = ()>) -> Result<(), ProxyError> {
    let mut workers = Workers::start(options.workers, options.pin).map_err(ProxyError::Runtime)?;
    let shared = Arc::new(Shared {
        limits: ArcSwap::from_pointee(options.limits.clone()),
        defaults: options.limits,
        metrics: Arc::new(Metrics::with_workers(workers.count())),
        workers: workers.count(),
    });
    let registry = Registry::on_workers(
        shared.clone(),
        options.prebound,
        workers.handles().to_vec(),
        options.accept,
    );
    let mut reloader = Reloader::start(
        &options.config,
        options.applied.clone(),
        options.listeners.clone(),
        registry,
        shared.clone(),
    )?;
    tracing::info!("serving {}", options.config.display());
    let (nudge, mut nudged) = mpsc::channel(1);
    let _watcher = reload::watch(&options.config, nudge).map_err(|source| ProxyError::Watch {
        path: options.config.clone(),
        source,
    })?;
    let mut hangup = match options.sighup {
        true => Some(signal(SignalKind::hangup()).map_err(ProxyError::Signal)?),
        false => None,
    };
    let mut poll = tokio::time::interval(shared.defaults.poll_interval);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll.tick().await;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(()) = nudged.recv() => {
                // let a burst of events from one write settle into one reload
                tokio::time::sleep(Duration::from_millis(5)).await;
                while nudged.try_recv().is_ok() {}
                reloader.reload(false);
            }
            _ = poll.tick() => reloader.reload(false),
            _ = retry_due(reloader.next_retry()) => reloader.reload(false),
            _ = hangup_received(&mut hangup) => reloader.reload(true),
        }
    }
    reloader.registry.close_all().await;
    workers.stop();
    Ok(())
}

/// Completes when the addresses that could not be bound are due to be tried again.
async fn retry_due(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

async fn hangup_received(hangup: &mut Option<Signal>) {
    match hangup {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}
