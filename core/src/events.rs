//! The event log `events.jsonl`: one JSON object per line, appended by the daemon and
//! read by `lcc events`, `lcc up` and tests. Every reason the daemon gives is a
//! [`Reason`], so readers match an enum, not a string.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// One transition of one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unix time in seconds, with milliseconds.
    pub time: f64,
    /// What it concerns: `instance/NAME`, `group/NAME`, `cluster/NAME`, `proxy`.
    pub object: String,
    /// Why: one word of [`Reason`].
    pub reason: Reason,
    /// A sentence for people.
    pub message: String,
}

/// Every reason an event can give, written as its CamelCase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reason {
    /// A pod still running from an earlier daemon was taken over (or an ended one kept).
    Adopted,
    /// The HTTP API cannot listen where it was asked to.
    ApiFailed,
    /// The HTTP API listens (on its socket, and on TCP when asked).
    ApiListening,
    /// A run ended; the next start waits for the backoff delay.
    BackOff,
    /// An ACME certificate could not be obtained or renewed; retried after a backoff.
    CertFailed,
    /// An ACME certificate was obtained for an entrance's host (the first one).
    CertObtained,
    /// An ACME certificate was renewed; the new one serves from the next handshake.
    CertRenewed,
    /// A certificate of the https listener is served past its end of validity.
    CertExpired,
    /// A certificate of the https listener (or the local CA) is refused: unreadable, or
    /// the key is not the certificate's; the last good one keeps serving.
    CertRefused,
    /// A run ended with exit code 0 and is not restarted (a job done).
    Completed,
    /// A pod was rendered for a new instance.
    Created,
    /// The daemon started.
    DaemonStarted,
    /// The daemon stopped.
    DaemonStopped,
    /// A dependency with `restart: true` went down: the dependant is restarted after it.
    DependencyRestarted,
    /// `pod.state` changed.
    DesiredState,
    /// A run ended with another code and is not restarted (policy never).
    Exited,
    /// maxRetries failures in a row: the instance gave up.
    Failed,
    /// The manifests do not load; the last good ones stay in force.
    InvalidManifests,
    /// A `pod.env` could not be read.
    InvalidPodEnv,
    /// A `pod.state` holds something else than running|stopped|removed.
    InvalidPodState,
    /// A scale override could not be read.
    InvalidScale,
    /// Edited manifests were applied.
    ManifestsApplied,
    /// A ready instance stopped passing its probe.
    NotReady,
    /// A pod without a usable spec was moved aside, or one no manifest wants removed.
    Orphaned,
    /// Another host's daemon answers again: its ready backends are back in every
    /// gateway of this host.
    HostBack,
    /// Another host's daemon stopped answering: its backends left every gateway of this
    /// host.
    HostLost,
    /// A listen address the proxy could not bind is served now.
    ListenerBound,
    /// A listen address of the proxy is taken by another program: the proxy serves the
    /// others and retries it.
    ListenerBusy,
    /// `.lcc/pods/<name>` is taken by something that is not lcc's pod.
    PodDirOccupied,
    /// An interface's port changed between runs.
    PortChanged,
    /// A running pod's ports are not on record: it is replaced.
    PortsUnknown,
    /// `proxy.conf` was rewritten.
    ProxyConfRewritten,
    /// The proxy exited.
    ProxyExited,
    /// The proxy could not be started.
    ProxyFailed,
    /// No proxy binary was found.
    ProxyMissing,
    /// The proxy started.
    ProxyStarted,
    /// The instance passed its probe (or started, without one).
    Ready,
    /// The pod was removed.
    Removed,
    /// The pod is being stopped and removed.
    Removing,
    /// The pod could not be rendered.
    RenderFailed,
    /// The pod was rendered again from a new spec.
    Replaced,
    /// A group's replicas changed.
    Scaled,
    /// A start was scheduled.
    Scheduled,
    /// The daemon is stopping every pod.
    ShuttingDown,
    /// A watched source changed (`lcc up --watch`): the instance is restarted.
    SourceChanged,
    /// The instance's spec changed.
    SpecChanged,
    /// `pod run` failed.
    StartFailed,
    /// The pod started.
    Started,
    /// A status file was rewritten from the daemon's view.
    StatusRewritten,
    /// `pod stop` failed.
    StopFailed,
    /// The pod stopped.
    Stopped,
    /// The pod was stopped by something other than the daemon.
    StoppedOutside,
    /// A live instance missed its probe failureThreshold times: restarted.
    Unhealthy,
    /// An entry of `.lcc/pods/` is not a pod lcc made: left alone.
    UnknownEntry,
    /// A start waits for the instance's dependencies (`dependsOn`).
    Waiting,
    /// The file-system watch failed; polling takes over.
    WatchFailed,
    /// A reason this version does not know (written by another version).
    #[serde(other)]
    Unknown,
}

impl Reason {
    /// Whether it reports something that went wrong (shown in red).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Reason::Failed
                | Reason::ApiFailed
                | Reason::StartFailed
                | Reason::Unhealthy
                | Reason::InvalidManifests
                | Reason::InvalidPodState
                | Reason::InvalidPodEnv
                | Reason::InvalidScale
                | Reason::RenderFailed
                | Reason::StopFailed
                | Reason::ProxyFailed
                | Reason::PodDirOccupied
                | Reason::ListenerBusy
                | Reason::CertRefused
                | Reason::CertExpired
                | Reason::CertFailed
                | Reason::HostLost
        )
    }

    /// Whether it reports progress (shown in green).
    pub fn is_progress(self) -> bool {
        matches!(
            self,
            Reason::Ready
                | Reason::Started
                | Reason::Completed
                | Reason::ListenerBound
                | Reason::CertObtained
                | Reason::CertRenewed
                | Reason::HostBack
        )
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// Current unix time in seconds, as a float.
pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Called after each event is appended (see [`EventLog::on_append`]).
type Hook = Box<dyn Fn() + Send + Sync>;

/// Appends events to one file.
pub struct EventLog {
    path: PathBuf,
    /// The file, open for appending since the first event: a start storm emits
    /// thousands, and opening the path for each was a visible share of the daemon's CPU.
    file: std::sync::Mutex<Option<std::fs::File>>,
    /// Who wants to know of a new line (the API's event streams), at once and without
    /// polling the file.
    hook: std::sync::OnceLock<Hook>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl EventLog {
    /// The log at `path` (created on first append).
    pub fn new(path: &Path) -> EventLog {
        EventLog {
            path: path.to_path_buf(),
            file: std::sync::Mutex::new(None),
            hook: std::sync::OnceLock::new(),
        }
    }

    /// Calls `hook` after every event appended from now on (one hook per log).
    pub fn on_append(&self, hook: impl Fn() + Send + Sync + 'static) {
        let _ = self.hook.set(Box::new(hook));
    }

    /// Ends a torn last line (a writer killed mid-line) so the next event parses.
    pub fn seal(&self) {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
        else {
            return;
        };
        let mut last = [0u8; 1];
        let torn = f.seek(SeekFrom::End(-1)).is_ok()
            && f.read_exact(&mut last).is_ok()
            && last[0] != b'\n';
        if torn {
            let _ = f.write_all(b"\n");
        }
    }

    /// Appends one event; a full line per write so concurrent readers never see half.
    pub fn emit(&self, object: &str, reason: Reason, message: &str) {
        let ev = Event {
            time: now_secs(),
            object: object.to_string(),
            reason,
            message: message.to_string(),
        };
        match self.append(&ev) {
            Ok(()) => {
                if let Some(hook) = self.hook.get() {
                    hook();
                }
            }
            Err(e) => tracing::warn!("cannot append to {}: {e}", self.path.display()),
        }
    }

    fn append(&self, ev: &Event) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let mut line = serde_json::to_vec(ev).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // A log deleted or replaced meanwhile (no links left) is opened again by path, as
        // a writer that opened it for each event would.
        if file
            .as_ref()
            .is_none_or(|f| f.metadata().map_or(true, |m| m.nlink() == 0))
        {
            *file = Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        match file.as_mut() {
            Some(f) => f.write_all(&line),
            None => Ok(()),
        }
    }
}

/// A reader of the log that picks up where it left off (`lcc events -f`, `lcc up`, the
/// API's event stream). Each event comes with its id, its line number in the file: a
/// garbled line keeps its number, a torn last line is read again next time, and a log
/// that shrank (replaced) is read again from its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    offset: u64,
    next_id: u64,
}

impl Default for Tail {
    fn default() -> Tail {
        Tail {
            offset: 0,
            next_id: 1,
        }
    }
}

impl Tail {
    /// A reader from the log's first line.
    pub fn start() -> Tail {
        Tail::default()
    }

    /// A reader from what `path` holds now on: only later lines are read.
    pub fn at_end(path: &Path) -> Tail {
        let mut tail = Tail::start();
        tail.read(path);
        tail
    }

    /// The id the next line will get.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// The complete lines appended since the last read, each event with its id.
    pub fn read(&mut self, path: &Path) -> Vec<(u64, Event)> {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(path) else {
            return Vec::new();
        };
        if f.metadata().is_ok_and(|m| m.len() < self.offset) {
            *self = Tail::start();
        }
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.offset)).is_err() || f.read_to_end(&mut buf).is_err() {
            return Vec::new();
        }
        let complete = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        self.offset += complete as u64;
        let mut out = Vec::new();
        for line in buf[..complete]
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            if let Ok(ev) = serde_json::from_slice::<Event>(line) {
                out.push((self.next_id, ev));
            }
            self.next_id += 1;
        }
        out
    }
}

/// Reads every complete, parsable event of the log at `path` (none if it is missing).
pub fn read_events(path: &Path) -> Vec<Event> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    parse_events(&text)
}

/// Parses complete lines; a torn last line or a garbled one is skipped.
pub fn parse_events(text: &str) -> Vec<Event> {
    text.split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .filter_map(|l| serde_json::from_str(l.trim_end()).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_reads_what_was_appended_with_line_numbers_as_ids() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.jsonl");
        let line = |msg: &str| {
            format!(
                "{{\"time\":1.0,\"object\":\"x\",\"reason\":\"Started\",\"message\":\"{msg}\"}}\n"
            )
        };
        std::fs::write(
            &path,
            format!("{}garbled\n{}{{\"torn", line("a"), line("b")),
        )
        .expect("write");
        let mut tail = Tail::start();
        let ids: Vec<(u64, String)> = tail
            .read(&path)
            .into_iter()
            .map(|(i, e)| (i, e.message))
            .collect();
        assert_eq!(ids, vec![(1, "a".into()), (3, "b".into())]);
        assert!(tail.read(&path).is_empty(), "a torn line waits");
        let mut text = std::fs::read_to_string(&path).expect("read");
        text.truncate(text.len() - 6);
        text.push_str(&line("c"));
        std::fs::write(&path, &text).expect("write");
        assert_eq!(tail.read(&path).first().map(|(i, _)| *i), Some(4));
        assert_eq!(Tail::at_end(&path).next_id(), 5);
        // Replaced by a shorter log: read again from its start.
        std::fs::write(&path, line("d")).expect("write");
        assert_eq!(tail.read(&path).first().map(|(i, _)| *i), Some(1));
    }

    #[test]
    fn appends_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::new(&dir.path().join("events.jsonl"));
        log.emit("instance/a", Reason::Started, "pid 1");
        log.emit("instance/a", Reason::Ready, "probe passed");
        let evs = read_events(&dir.path().join("events.jsonl"));
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[1].reason, Reason::Ready);
    }

    #[test]
    fn a_deleted_log_is_created_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let log = EventLog::new(&path);
        log.emit("instance/a", Reason::Started, "pid 1");
        std::fs::remove_file(&path).unwrap();
        log.emit("instance/a", Reason::Ready, "probe passed");
        let evs = read_events(&path);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].reason, Reason::Ready);
    }

    #[test]
    fn seal_ends_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, "{\"time\":1.0,\"obj").unwrap();
        let log = EventLog::new(&path);
        log.seal();
        log.emit("instance/a", Reason::Started, "pid 1");
        assert_eq!(read_events(&path).len(), 1);
    }

    #[test]
    fn skips_torn_lines() {
        let evs = parse_events("{\"time\":1.0,\"object\":\"x\",\"reason\":\"SomethingNew\",\"message\":\"m\"}\ngarbage\n{\"time\":");
        assert_eq!(evs.len(), 1);
    }
}
