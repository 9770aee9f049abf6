//! One managed instance in the daemon's memory: its spec, what was last observed of
//! its pod, its probe and backoff bookkeeping, and the status file it mirrors.

use crate::podfs::{PodState, ProcId};
use crate::reconcile::{Run, State};
use lcc_compiler::podspec::AppKind;
use lcc_compiler::PodSpec;
use lcc_core::status::InstanceStatus;
use std::path::PathBuf;
use std::time::Instant;

/// A pod operation in flight (a `./pod` subprocess).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `pod run`.
    Start,
    /// `pod stop` because the desired state says so (or the cluster goes down).
    Stop,
    /// `pod stop` because probes failed: a failure follows.
    Restart,
    /// `pod stop` before the pod is re-rendered from a new spec.
    Replace,
    /// `pod rm` before the directory is deleted.
    Remove,
    /// `pod kill` after a stop that left the process alive.
    Kill,
}

/// Who asked for an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// An explicit `kind: Instance`.
    Explicit,
    /// A replica of this group.
    Group(String),
    /// Nobody: it is removed.
    Orphan,
}

/// The daemon's view of one instance.
#[derive(Debug)]
pub struct Inst {
    /// The spec the pod on disk was rendered from.
    pub spec: PodSpec,
    /// Its fingerprint.
    pub fp: String,
    /// The pod directory.
    pub dir: PathBuf,
    /// Who owns it.
    pub owner: Owner,
    /// Mirror of the status file.
    pub st: InstanceStatus,
    /// Desired state last read from `pod.state`.
    pub desired: PodState,
    /// The running process, if one was seen.
    pub proc_id: Option<ProcId>,
    /// Remote apps: `pod run` succeeded and no stop since.
    pub remote_up: bool,
    /// Operation in flight.
    pub op: Option<Op>,
    /// Run generation: probe results of an older run are dropped.
    pub gen: u64,
    /// Where it is in its life, with that phase's data (`st.phase` mirrors it).
    pub state: State,
    /// The HTTP probe's request and the address it was built for (built again when the
    /// port or the path changes).
    pub http_request: Option<(
        std::net::SocketAddr,
        std::sync::Arc<crate::httpprobe::Request>,
    )>,
    /// Its start holds a slot of the start gate until then (or until ready or ended).
    pub slot_until: Option<Instant>,
    /// A new spec to render once the pod is stopped (explicit instance edited).
    pub pending_spec: Option<PodSpec>,
    /// The manifest's `state:` last applied to `pod.state` (explicit instances).
    pub plan_running: Option<bool>,
    /// The status as last written, to skip identical writes.
    pub written: Option<InstanceStatus>,
    /// When the status file was last written.
    pub written_at: Option<Instant>,
    /// When the phase last changed.
    pub phase_since: Option<Instant>,
    /// The process is our child (subreaper): its end arrives as SIGCHLD, no /proc polling.
    pub child: bool,
    /// `pod.state` and `pod.env` as last read: re-read only when they change.
    pub files_seen: Option<[Option<crate::podfs::FileKey>; 2]>,
    /// The status file as last written: another writer's change is undone.
    pub status_key: Option<crate::podfs::FileKey>,
    /// Its `schedule:`, with the next time a run is due (explicit Instances only).
    pub schedule: Option<crate::schedule::Schedule>,
    /// A restart for a change of a watched source (`lcc up --watch`).
    pub change: crate::source_watch::Restart,
    /// The last such change, for its event.
    pub changed: Option<PathBuf>,
}

impl Inst {
    /// Whether the app is up: a live process, or a started remote.
    pub fn up(&self) -> bool {
        // Deaths are noticed by the loop (SIGCHLD, rescan), which clears `proc_id`.
        if self.spec.kind == AppKind::Remote {
            self.remote_up
        } else {
            self.proc_id.is_some()
        }
    }

    /// `instance/NAME`, the object of its events.
    pub fn object(&self) -> String {
        format!("instance/{}", self.spec.instance)
    }

    /// Moves to `state`, mirrored in the status's phase.
    pub fn set_state(&mut self, state: State) {
        let phase = state.phase();
        if self.st.phase != phase {
            self.phase_since = Some(Instant::now());
        }
        self.st.phase = phase;
        self.state = state;
    }

    /// A fresh start for `why` (a new daemon, `lcc restart`): failures forgotten, the
    /// Failed condition cleared, Pending.
    pub fn fresh_start(&mut self, why: &str) {
        self.st.failures = 0;
        self.st
            .set_condition("Failed", false, why, lcc_core::events::now_secs());
        self.set_state(State::Pending);
    }

    /// Forgets the current run's process (gone); the next state says what follows.
    pub fn end_run(&mut self) {
        self.proc_id = None;
        self.remote_up = false;
        self.st.pid = None;
        self.st.pid_start = None;
    }

    /// Records a new run of `proc_id` (or a remote start), now: the state is Running.
    pub fn begin_run(&mut self, proc_id: Option<ProcId>, started: Option<f64>) {
        self.gen += 1;
        self.proc_id = proc_id;
        let me = std::process::id() as i32;
        self.child = proc_id.is_some_and(|p| crate::podfs::proc_ppid(p.pid) == Some(me));
        self.remote_up = self.spec.kind == AppKind::Remote;
        self.st.pid = proc_id.map(|p| p.pid);
        self.st.pid_start = proc_id.map(|p| p.start);
        if let Some(p) = proc_id {
            if !self.st.pids.contains(&p.pid) {
                self.st.pids.push(p.pid);
                let excess = self.st.pids.len().saturating_sub(64);
                self.st.pids.drain(..excess);
            }
        }
        self.st.started = started.or(Some(lcc_core::events::now_secs()));
        let now = Instant::now();
        self.set_state(State::Running(Run::new(now)));
    }
}
