//! Live reload: file-system events on the config's directory (so a rename into place is
//! seen), a poll that backs them up, and SIGHUP all lead to parse -> validate -> diff -> apply.
//! Listen addresses that cannot be bound are applied again on the schedule of
//! [`crate::busy`], and reported in the `--listeners` file.

use crate::balancer::Backend;
use crate::busy::Retry;
use crate::conn::Shared;
use crate::listeners::{BindError, Registry};
use crate::routes;
use crate::server::ProxyError;
use lcc_core::proxy_config::{self as config, ConfigError};
use lcc_core::proxy_listeners::{Busy, Listeners};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
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
    /// The listen addresses that could not be opened, retried on [`Reloader::retry`]'s
    /// schedule.
    busy: BTreeMap<SocketAddr, Busy>,
    /// When to try the busy addresses again.
    retry: Retry,
    /// Where the proxy's word on its listeners goes, if anywhere.
    listeners_file: Option<PathBuf>,
    /// What was written there last.
    last_listeners: Option<Listeners>,
    /// The open listeners.
    pub(crate) registry: Registry,
    backends: HashMap<String, Arc<Backend>>,
    shared: Arc<Shared>,
    /// Where the digest of each applied config goes, if anywhere.
    marker: Option<PathBuf>,
    /// The https listener's certificates, kept across reloads.
    certs: crate::tls::Certs,
    /// What is wrong with them, as of the last config applied.
    cert_notes: Vec<lcc_core::proxy_listeners::CertNote>,
    /// The config applied last.
    current: Option<config::Config>,
}

impl Reloader {
    /// Loads and applies the config at `path`; a config that cannot be read, parsed or
    /// validated refuses to start. An address that cannot be bound does not: the rest
    /// is served and that one is retried.
    pub(crate) fn start(
        path: &Path,
        marker: Option<PathBuf>,
        listeners_file: Option<PathBuf>,
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
            busy: BTreeMap::new(),
            retry: Retry::default(),
            listeners_file,
            last_listeners: None,
            registry,
            backends: HashMap::new(),
            shared,
            marker,
            certs: Default::default(),
            cert_notes: Vec::new(),
            current: None,
        };
        let parsed = config::parse(&String::from_utf8_lossy(&text), path)?;
        reloader.last_seen = Some(text);
        let (_, failed) = reloader.apply(&parsed)?;
        reloader.note_busy(failed);
        // before the marker: whoever sees the config applied sees its listeners too
        reloader.write_listeners();
        reloader.mark_applied();
        Ok(reloader)
    }

    /// When the addresses that could not be bound are due to be tried again, if any.
    pub(crate) fn next_retry(&self) -> Option<Instant> {
        self.retry.next()
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
        let retry = self.retry.due(Instant::now());
        // a certificate file replaced is a change too (the config's text is the same)
        let certs = self.current.as_ref().is_some_and(|c| self.certs.changed(c));
        if !force && !retry && !certs && self.last_seen.as_deref() == Some(text.as_slice()) {
            return;
        }
        let changed = force || certs || self.last_seen.as_deref() != Some(text.as_slice());
        let parsed = config::parse(&String::from_utf8_lossy(&text), &self.path);
        self.last_seen = Some(text);
        match parsed.and_then(|c| self.apply(&c)) {
            Ok((line, failed)) => self.applied(changed, &line, failed),
            Err(e) => {
                // the file is not retried until it changes again; its busy addresses
                // were the last good config's, which keeps serving: still retried
                self.refused(&e.to_string());
                let busy = !self.busy.is_empty();
                self.retry.attempted(Instant::now(), busy, false);
            }
        }
    }

    /// Logs an applied config, notes the addresses that could not be bound and writes
    /// the markers.
    fn applied(&mut self, changed: bool, line: &str, failed: Vec<BindError>) {
        if changed {
            self.shared.metrics.reloads.fetch_add(1, Ordering::Relaxed);
            tracing::info!("reloaded {}: {line}", self.path.display());
        }
        self.note_busy(failed);
        self.write_listeners();
        self.mark_applied();
    }

    /// Records the addresses that could not be bound this time: a newly taken one is
    /// logged once with its holder, one bound at last is logged, and the retry
    /// schedule moves on (starting over when an address was not taken before).
    fn note_busy(&mut self, failed: Vec<BindError>) {
        let mut busy = BTreeMap::new();
        let mut grew = false;
        for BindError { addr, source } in failed {
            let known = self.busy.remove(&addr);
            let entry = known.unwrap_or_else(|| {
                grew = true;
                let holder = lcc_core::holder::find(addr);
                let entry = Busy {
                    listen: addr.to_string(),
                    error: source.to_string(),
                    holder,
                };
                tracing::warn!(
                    "cannot listen on {addr}: {source}{}; serving the rest, retrying",
                    entry
                        .holder
                        .as_ref()
                        .map_or(String::new(), |h| format!(" (taken by {h})"))
                );
                entry
            });
            busy.insert(addr, entry);
        }
        let open = self.registry.addresses();
        for addr in self.busy.keys().filter(|a| open.contains(a)) {
            tracing::info!("listening on {addr} (it was taken)");
        }
        self.busy = busy;
        self.retry
            .attempted(Instant::now(), !self.busy.is_empty(), grew);
    }

    /// Writes the listeners file when what it says changed.
    fn write_listeners(&mut self) {
        let Some(path) = &self.listeners_file else {
            return;
        };
        let mut listening: Vec<SocketAddr> = self.registry.addresses();
        listening.sort();
        let now = Listeners {
            listening: listening.iter().map(ToString::to_string).collect(),
            busy: self.busy.values().cloned().collect(),
            certs: self.cert_notes.clone(),
        };
        if self.last_listeners.as_ref() == Some(&now) {
            return;
        }
        match now.write(path) {
            Ok(()) => self.last_listeners = Some(now),
            Err(e) => tracing::error!("cannot write {}: {e}", path.display()),
        }
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
        // validated already: the https listener's address is good
        let (tls, notes) = match &config.https {
            Some(_) => {
                let (tls, notes) = self.certs.build(config);
                (Some(tls), notes)
            }
            None => (None, Vec::new()),
        };
        let plan = routes::build(
            config,
            &self.backends,
            &self.shared.metrics,
            self.shared.workers,
            tls,
        )
        .map_err(|e| e.in_file(&self.path))?;
        self.cert_notes = notes;
        self.current = Some(config.clone());
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
