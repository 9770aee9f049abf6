//! Each instance's status file `status/<instance>.json`, written by the daemon and
//! read by `lcc ps`, `lcc up` and tests.

use crate::layout::Layout;
use crate::pod_state::PodState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Lifecycle phase of an instance, as `lcc ps` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub enum Phase {
    /// Known, not started yet.
    Pending,
    /// Not started until its dependencies hold (`dependsOn`).
    Waiting,
    /// `pod run` in progress.
    Starting,
    /// The process runs.
    Running,
    /// `pod stop` in progress.
    Stopping,
    /// Stopped on request (`pod.state` stopped, or `lcc down`).
    Stopped,
    /// Ended with an exit code other than 0 and not restarted (policy never).
    Exited,
    /// Ended with exit code 0 and not restarted (policy never or on-failure): a job done.
    Completed,
    /// Ended; waiting for the backoff delay before a restart.
    BackOff,
    /// Gave up after maxRetries failures in a row.
    Failed,
    /// Being stopped and removed.
    Removing,
}

impl Phase {
    /// The word shown by `ps`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Waiting => "Waiting",
            Phase::Starting => "Starting",
            Phase::Running => "Running",
            Phase::Stopping => "Stopping",
            Phase::Stopped => "Stopped",
            Phase::Exited => "Exited",
            Phase::Completed => "Completed",
            Phase::BackOff => "BackOff",
            Phase::Failed => "Failed",
            Phase::Removing => "Removing",
        }
    }
}

/// A condition (Created, Ready, Failed) with when and why it last changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// Created | Ready | Failed.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether it holds.
    pub status: bool,
    /// Unix seconds of the last change.
    pub time: f64,
    /// Why it changed.
    pub reason: String,
}

/// Everything `lcc ps` shows about one instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// Instance name.
    pub instance: String,
    /// Application.
    pub app: String,
    /// Owning group, if any.
    pub group: Option<String>,
    /// Desired state from `pod.state`.
    pub desired: PodState,
    /// Phase.
    pub phase: Phase,
    /// Whether the Ready condition holds.
    pub ready: bool,
    /// Conditions Created, Ready, Failed.
    pub conditions: Vec<Condition>,
    /// Restarts done by the daemon (not counting `lcc restart`).
    pub restarts: u32,
    /// Failures in a row (reset after a run that stayed ready).
    pub failures: u32,
    /// Exit code of the last run that ended on its own.
    pub exit_code: Option<i32>,
    /// Interface name -> port.
    pub ports: BTreeMap<String, u16>,
    /// Process id of the running pod (process-group leader).
    pub pid: Option<i32>,
    /// Its start time in clock ticks (`/proc/PID/stat` field 22).
    pub pid_start: Option<u64>,
    /// Every pid this instance ever ran, for `lcc down` and tests.
    #[serde(default)]
    pub pids: Vec<i32>,
    /// Fingerprint of the spec the pod was compiled from.
    pub fingerprint: String,
    /// Unix seconds when the current run started.
    pub started: Option<f64>,
    /// Unix seconds when the instance was created.
    pub created: f64,
    /// Storages bound by this instance.
    #[serde(default)]
    pub storages: Vec<String>,
    /// Stop timeout in milliseconds, for `lcc down` without a daemon.
    #[serde(default)]
    pub stop_timeout_ms: u64,
    /// While Waiting: the dependencies that do not hold yet, as `TARGET: CONDITION`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting_on: Vec<String>,
    /// A scheduled instance: Unix seconds of its next run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run: Option<f64>,
}

impl InstanceStatus {
    /// Whether `lcc up --wait` has nothing more to wait for: it is Ready, a job that
    /// Completed, a scheduled job between runs, or not wanted running.
    pub fn settled(&self) -> bool {
        let job_between_runs = self.next_run.is_some()
            && matches!(self.phase, Phase::Pending | Phase::Exited | Phase::Failed);
        self.ready
            || self.phase == Phase::Completed
            || job_between_runs
            || self.desired != PodState::Running
    }

    /// The condition of that type, if set.
    pub fn condition(&self, kind: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.kind == kind)
    }
    /// Sets a condition; returns whether its status changed.
    pub fn set_condition(&mut self, kind: &str, status: bool, reason: &str, now: f64) -> bool {
        match self.conditions.iter_mut().find(|c| c.kind == kind) {
            Some(c) if c.status == status => false,
            Some(c) => {
                *c = Condition {
                    kind: kind.into(),
                    status,
                    time: now,
                    reason: reason.into(),
                };
                true
            }
            None => {
                self.conditions.push(Condition {
                    kind: kind.into(),
                    status,
                    time: now,
                    reason: reason.into(),
                });
                true
            }
        }
    }
}

/// Writes one status file atomically without fsync (the daemon's own writes; see
/// `atomic::replace_reusing`): a status describes live processes, which a crash of the
/// machine ends, and a new daemon writes every status again. Status files are rewritten
/// at every phase change, and an fsync each would be a large share of the daemon's work
/// when hundreds of instances start (ext4 without a journal writes the data and the
/// inode in the caller's context; the figure is in bench/RESULTS.md).
pub fn write_unsynced(layout: &Layout, st: &InstanceStatus) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(st).map_err(std::io::Error::other)?;
    crate::atomic::replace_reusing(&layout.status(&st.instance), &json)
}

/// Reads one status file; `None` if missing or unparsable.
pub fn read(layout: &Layout, instance: &str) -> Option<InstanceStatus> {
    serde_json::from_slice(&std::fs::read(layout.status(instance)).ok()?).ok()
}

/// Reads every parsable status file, sorted by instance name.
pub fn read_all(layout: &Layout) -> Vec<InstanceStatus> {
    let Ok(dir) = std::fs::read_dir(layout.status_dir()) else {
        return Vec::new();
    };
    let mut out: Vec<InstanceStatus> = dir
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let inst = name.strip_suffix(".json")?;
            read(layout, inst)
        })
        .collect();
    out.sort_by_key(|a| natural_key(&a.instance));
    out
}

/// Sort key so that `web-2` comes before `web-10`.
pub fn natural_key(name: &str) -> (String, u64) {
    match name.rsplit_once('-') {
        Some((base, n)) if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => {
            (base.to_string(), n.parse().unwrap_or(0))
        }
        _ => (name.to_string(), 0),
    }
}

/// Removes a status file and its spare (missing is fine).
pub fn remove(layout: &Layout, instance: &str) {
    crate::atomic::remove_reusing(&layout.status(instance));
}
