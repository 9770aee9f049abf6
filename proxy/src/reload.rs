//! Live reload: file-system events on the config's directory (so a rename into place is
//! seen), a poll that backs them up, and SIGHUP all lead to parse -> validate -> diff -> apply.

use crate::balancer::Backend;
use crate::conn::Shared;
use crate::listeners::{BindError, Registry};
use crate::routes;
use crate::server::ProxyError;
use lcc_core::proxy_config::{self as config, ConfigError};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Watches the directory holding `path` and sends a nudge on every event about the file
/// (or on a watcher error, such as a lost-events overflow).
pub(crate) fn watch(path: &Path, nudge: mpsc::Sender<()>) -> notify::Result<RecommendedWatcher> {
    let name = path.file_name().map(|n| n.to_os_string());
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let ours = match &event {
            // our own reads of the file raise access events: only changes count
            Ok(e) if e.kind.is_access() => false,
            Ok(e) => e.paths.iter().any(|p| p.file_name() == name.as_deref()),
            Err(_) => true,
        };
        if ours {
            // a full channel already holds a nudge: the reload will see this change too
            let _ = nudge.try_send(());
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

/// The config file, the last content seen and the listeners it drives.
#[derive(Debug)]
pub(crate) struct Reloader {
    path: PathBuf,
    last_seen: Option<Vec<u8>>,
    last_read_error: Option<String>,
    /// The last listen addresses that could not be opened; while set, every poll retries.
    bind_failure: Option<String>,
    /// The open listeners.
    pub(crate) registry: Registry,
    backends: HashMap<String, Arc<Backend>>,
    shared: Arc<Shared>,
    /// Where the digest of each applied config goes, if anywhere.
    marker: Option<PathBuf>,
}

impl Reloader {
    /// Loads and applies the config at `path`; any error refuses to start.
    pub(crate) fn start(
        path: &Path,
        marker: Option<PathBuf>,
        registry: Registry,
        shared: Arc<Shared>,
    ) -> Result<Self, ProxyError> {
        let text = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut reloader = Self {
            path: path.to_path_buf(),
            last_seen: None,
            last_read_error: None,
            bind_failure: None,
            registry,
            backends: HashMap::new(),
            shared,
            marker,
        };
        let parsed = config::parse(&String::from_utf8_lossy(&text), path)?;
        reloader.last_seen = Some(text);
        let (_, mut failed) = reloader.apply(&parsed)?;
        if !failed.is_empty() {
            reloader.registry.stop_all();
            let BindError { addr, source } = failed.swap_remove(0);
            return Err(ProxyError::Bind {
                path: path.to_path_buf(),
                addr,
                source,
            });
        }
        reloader.mark_applied();
        Ok(reloader)
    }

    /// Re-reads the file; applies it if it changed (or if `force`), or refuses it with a
    /// logged reason and keeps serving the last good config.
    pub(crate) fn reload(&mut self, force: bool) {
        let text = match std::fs::read(&self.path) {
            Ok(text) => text,
            Err(e) => {
                // a writer may be between unlink and rename: say it once, keep serving
                let reason = format!("{}: cannot read: {e}", self.path.display());
                if self.last_read_error.as_deref() != Some(reason.as_str()) {
                    self.refused(&reason);
                    self.last_read_error = Some(reason);
                }
                return;
            }
        };
        self.last_read_error = None;
        let retry = self.bind_failure.is_some();
        if !force && !retry && self.last_seen.as_deref() == Some(text.as_slice()) {
            return;
        }
        let changed = force || self.last_seen.as_deref() != Some(text.as_slice());
        let parsed = config::parse(&String::from_utf8_lossy(&text), &self.path);
        self.last_seen = Some(text);
        match parsed.and_then(|c| self.apply(&c)) {
            Ok((line, failed)) => self.applied(changed, &line, &failed),
            Err(e) => {
                // the file is not retried until it changes again
                self.bind_failure = None;
                self.refused(&e.to_string());
            }
        }
    }

    /// Logs an applied config; bind failures are logged once and retried on every poll.
    fn applied(&mut self, changed: bool, line: &str, failed: &[BindError]) {
        if changed {
            self.shared.metrics.reloads.fetch_add(1, Ordering::Relaxed);
        }
        let failure = (!failed.is_empty()).then(|| {
            let all: Vec<String> = failed.iter().map(|e| e.to_string()).collect();
            all.join("; ")
        });
        if changed || failure != self.bind_failure {
            let path = self.path.display();
            match &failure {
                None => tracing::info!("reloaded {path}: {line}"),
                Some(f) => tracing::warn!("reloaded {path}: {line}; {f} (retrying)"),
            }
        }
        self.bind_failure = failure;
        self.mark_applied();
    }

    /// Writes the digest of the config just applied to the marker file, if any.
    fn mark_applied(&self) {
        let (Some(marker), Some(text)) = (&self.marker, &self.last_seen) else {
            return;
        };
        if let Err(e) = crate::applied::write(marker, text) {
            tracing::error!("cannot write {}: {e}", marker.display());
        }
    }

    fn refused(&self, reason: &str) {
        self.shared
            .metrics
            .reloads_refused
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!("refused {reason}; the last good config keeps serving");
    }

    fn apply(&mut self, config: &config::Config) -> Result<(String, Vec<BindError>), ConfigError> {
        let plan = routes::build(
            config,
            &self.backends,
            &self.shared.metrics,
            self.shared.workers,
        )
        .map_err(|e| e.in_file(&self.path))?;
        // before the listeners: a connection accepted from now on has the new timeouts
        let limits = self.shared.defaults.with_timeouts(config.timeouts.as_ref());
        self.shared.limits.store(Arc::new(limits));
        let changes = self.registry.apply(plan.listeners);
        self.backends = plan.backends;
        let line = format!(
            "{} gateways, {} entrances; listeners opened {:?}, closed {:?}, kept {}",
            config.gateways.len(),
            config.entrances.len(),
            changes.opened,
            changes.closed,
            changes.kept
        );
        Ok((line, changes.failed))
    }
}
