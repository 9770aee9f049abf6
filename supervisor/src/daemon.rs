//! The daemon: a reconcile loop on tokio that drives every pod of a cluster towards its
//! `pod.state`, woken by file-system events, child exits, probe results and timers,
//! with a periodic rescan as a safety net (docs/daemon.md).

use crate::compat;
use crate::events::EventLog;
use crate::instance::{Inst, Op, Owner};
use crate::layout::Layout;
use crate::lock::DaemonLock;
use crate::podfs::{self, PodState, ProcId};
use crate::reaper::Reaper;
use crate::status::{self, InstanceStatus, Phase};
use crate::watch::{Change, Watch};
use crate::{backoff, groups, proxyconf};
use lcc_compiler::podspec::{AppKind, ProbeAction, RestartPolicy};
use lcc_compiler::{Plan, PodSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// Errors that stop the daemon before it runs.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Another daemon runs this cluster, or the lock file is unusable.
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    /// The manifests are invalid at start.
    #[error("{dir}: invalid cluster:\n{diagnostics}")]
    Invalid {
        /// Cluster directory.
        dir: String,
        /// The compiler's diagnostics.
        diagnostics: String,
    },
    /// The runtime or a state directory could not be set up.
    #[error("{what}: {source}")]
    Setup {
        /// What failed.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `lcc` binary written into pods (their helper for probes, ports, static sites).
    pub lcc_bin: PathBuf,
    /// The `lcc-proxy` binary, if found.
    pub proxy_bin: Option<PathBuf>,
    /// Safety-net rescan period.
    pub rescan: Duration,
}

impl Options {
    /// Defaults: this executable as `lcc`, `lcc-proxy` from `$LCC_PROXY_BIN` or next to it.
    pub fn from_env() -> Options {
        let lcc_bin = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("lcc"));
        let proxy_bin = std::env::var_os("LCC_PROXY_BIN")
            .map(PathBuf::from)
            .or_else(|| lcc_bin.parent().map(|d| d.join("lcc-proxy")))
            .filter(|p| p.is_file());
        Options {
            lcc_bin,
            proxy_bin,
            rescan: Duration::from_secs(2),
        }
    }
}

/// Something that woke the loop.
#[derive(Debug)]
enum Msg {
    Fs(Change),
    Op {
        name: String,
        op: Op,
        code: i32,
    },
    Probe {
        name: String,
        gen: u64,
        result: Result<(), String>,
    },
    ProxyExited(i32),
}

/// How long `pod run` may take (static sites fetch archives).
const RUN_DEADLINE: Duration = Duration::from_secs(60);
/// First probe interval before a run's first pass (doubles with each miss).
const STARTUP_PROBE_MS: u64 = 100;
/// Before the first success, probe misses restart only after this long.
const STARTUP_WINDOW: Duration = Duration::from_secs(10);

/// Makes this process a session leader (detached from the terminal of `lcc up -d`).
pub fn new_session() {
    let _ = nix::unistd::setsid();
}

/// Runs the daemon for the cluster in `dir` until SIGTERM/SIGINT, then stops every pod.
pub fn run(dir: &Path, opts: Options) -> Result<(), DaemonError> {
    let layout = Layout::new(dir);
    let lock = DaemonLock::acquire(&layout)?;
    let plan = compat::load_plan(&layout.root).map_err(|diagnostics| DaemonError::Invalid {
        dir: layout.root.display().to_string(),
        diagnostics,
    })?;
    let setup = |what: &str| {
        let what = what.to_string();
        move |source| DaemonError::Setup { what, source }
    };
    for d in [
        layout.pods(),
        layout.status_dir(),
        layout.scale_dir(),
        layout.specs_dir(),
        layout.storage_dir(),
    ] {
        std::fs::create_dir_all(&d).map_err(setup(&d.display().to_string()))?;
    }
    let _ = std::fs::remove_file(layout.daemon_up());
    if let Err(e) = crate::reaper::become_subreaper() {
        eprintln!("lcc: cannot become child subreaper: {e}");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(setup("tokio runtime"))?;
    rt.block_on(async move {
        let (tx, rx) = unbounded_channel();
        let mut d = Daemon::new(layout, opts, plan, tx);
        d.main(rx).await;
    });
    drop(lock);
    Ok(())
}

/// The lcc-proxy child.
#[derive(Debug, Default)]
struct ProxySup {
    pid: Option<i32>,
    restart_at: Option<Instant>,
    missing_reported: bool,
}

/// The reconcile loop's state.
#[derive(Debug)]
struct Daemon {
    layout: Layout,
    opts: Options,
    events: EventLog,
    tx: UnboundedSender<Msg>,
    reaper: Arc<Reaper>,
    plan: Plan,
    manifest_sig: String,
    bad_sig: Option<String>,
    scale: BTreeMap<String, u32>,
    insts: BTreeMap<String, Inst>,
    watch: Option<Watch>,
    proxy: ProxySup,
    last_conf: Option<String>,
    stopping: bool,
    /// Readiness or membership changed: group controllers must look again.
    dirty: bool,
    /// The ready set changed: proxy.conf must be recomputed.
    backends_dirty: bool,
    /// Instances a message concerned since the last step.
    touched: BTreeSet<String>,
    /// Children reaped since the last full pass (pods' session leaders among them).
    reaped: std::collections::HashSet<i32>,
    /// `proxy.conf` as last written.
    conf_key: Option<podfs::FileKey>,
    /// The next full pass also checks the files the daemon wrote (set by the rescan).
    check_written: bool,
    /// Rescans so far.
    rescans: u64,
}

impl Daemon {
    fn new(layout: Layout, opts: Options, plan: Plan, tx: UnboundedSender<Msg>) -> Daemon {
        let events = EventLog::new(&layout.events());
        events.seal();
        let manifest_sig = manifest_signature(&layout.root);
        Daemon {
            layout,
            opts,
            events,
            tx,
            reaper: Arc::new(Reaper::default()),
            plan,
            manifest_sig,
            bad_sig: None,
            scale: BTreeMap::new(),
            insts: BTreeMap::new(),
            watch: None,
            proxy: ProxySup::default(),
            last_conf: None,
            stopping: false,
            dirty: true,
            backends_dirty: true,
            touched: BTreeSet::new(),
            reaped: Default::default(),
            conf_key: None,
            check_written: false,
            rescans: 0,
        }
    }

    fn emit(&self, object: &str, reason: &str, message: &str) {
        self.events.emit(object, reason, message);
    }

    async fn main(&mut self, mut rx: UnboundedReceiver<Msg>) {
        let cluster = format!("cluster/{}", self.plan.name);
        self.emit(
            &cluster,
            "DaemonStarted",
            &format!(
                "daemon pid {} for {}",
                std::process::id(),
                self.layout.root.display()
            ),
        );
        // Handlers first: a child that exits during the first pass must not go unseen.
        let mut sigchld = signal(tokio::signal::unix::SignalKind::child());
        let mut sigterm = signal(tokio::signal::unix::SignalKind::terminate());
        let mut sigint = signal(tokio::signal::unix::SignalKind::interrupt());
        self.start_watch();
        self.adopt_all();
        self.read_scale();
        self.reconcile_plan();
        self.sync();
        self.tick();
        self.flush(None);
        let _ = crate::atomic::write_atomic(
            &self.layout.daemon_up(),
            format!("{}\n", std::process::id()).as_bytes(),
        );
        let mut next_rescan = Instant::now() + self.opts.rescan;
        loop {
            let deadline = self
                .next_deadline()
                .map_or(next_rescan, |d| d.min(next_rescan));
            let mut full = false;
            tokio::select! {
                Some(msg) = rx.recv() => full |= self.handle(msg),
                _ = sigchld.recv() => full |= self.reap(),
                _ = sigterm.recv() => break,
                _ = sigint.recv() => break,
                _ = tokio::time::sleep_until(deadline.into()) => {}
            }
            while let Ok(msg) = rx.try_recv() {
                full |= self.handle(msg);
            }
            if Instant::now() >= next_rescan {
                next_rescan = Instant::now() + self.opts.rescan;
                full = true;
                self.rescans += 1;
                self.check_written = true;
                self.reap();
                self.reload_if_changed();
            }
            if full {
                self.read_scale();
                self.sync();
            }
            let replan = std::mem::take(&mut self.dirty);
            if full || replan {
                self.reconcile_plan();
            }
            if full || replan {
                self.backends_dirty = true;
                self.tick();
                self.flush(None);
            } else {
                // Quiet path (probe results, timers): only the instances concerned.
                let mut names = std::mem::take(&mut self.touched);
                names.extend(self.due());
                let names = names;
                for name in &names {
                    self.step(name);
                }
                self.tick_proxy();
                self.flush(Some(&names));
            }
            self.touched.clear();
        }
        self.shutdown(&mut rx, &mut sigchld).await;
        self.emit(
            &cluster,
            "DaemonStopped",
            "every pod and the proxy are stopped",
        );
    }

    /// Handles one message; returns whether a full re-read is needed.
    fn handle(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Fs(Change::Manifests) => {
                self.reload_if_changed();
                true
            }
            Msg::Fs(Change::State) => true,
            Msg::Op { name, op, code } => {
                self.op_done(&name, op, code);
                true
            }
            Msg::Probe { name, gen, result } => {
                self.probe_done(&name, gen, result);
                self.touched.insert(name);
                false
            }
            Msg::ProxyExited(code) => {
                self.proxy.pid = None;
                let _ = std::fs::remove_file(self.layout.proxy_pid());
                if !self.stopping {
                    self.emit(
                        "proxy",
                        "ProxyExited",
                        &format!("lcc-proxy exited with code {code}; restarting"),
                    );
                    self.proxy.restart_at = Some(Instant::now() + Duration::from_millis(200));
                }
                false
            }
        }
    }

    fn reap(&mut self) -> bool {
        let gone = self.reaper.reap().untracked;
        let any = !gone.is_empty();
        self.reaped.extend(gone);
        any
    }

    fn start_watch(&mut self) {
        let tx = self.tx.clone();
        match Watch::new(&self.layout.root, move |c| {
            let _ = tx.send(Msg::Fs(c));
        }) {
            Ok(mut w) => {
                w.add(&self.layout.root);
                w.add(&self.layout.pods());
                w.add(&self.layout.scale_dir());
                self.watch = Some(w);
            }
            Err(e) => self.emit(
                "daemon",
                "WatchFailed",
                &format!("file watching unavailable, rescanning only: {e}"),
            ),
        }
    }

    // ----- plan -----

    fn reload_if_changed(&mut self) {
        let sig = manifest_signature(&self.layout.root);
        if sig == self.manifest_sig || Some(&sig) == self.bad_sig.as_ref() {
            return;
        }
        match compat::load_plan(&self.layout.root) {
            Ok(plan) => {
                self.manifest_sig = sig;
                self.bad_sig = None;
                if plan != self.plan {
                    self.plan = plan;
                    self.emit(
                        &format!("cluster/{}", self.plan.name),
                        "ManifestsApplied",
                        "manifests changed; reconciling",
                    );
                }
            }
            Err(diag) => {
                self.bad_sig = Some(sig);
                self.emit(
                    &format!("cluster/{}", self.plan.name),
                    "InvalidManifests",
                    &format!("edit refused; running on the last good manifests:\n{diag}"),
                );
            }
        }
    }

    fn read_scale(&mut self) {
        let mut scale = BTreeMap::new();
        if let Ok(rd) = std::fs::read_dir(self.layout.scale_dir()) {
            for e in rd.flatten() {
                let Ok(name) = e.file_name().into_string() else {
                    continue;
                };
                if name.starts_with('.') {
                    continue;
                }
                match std::fs::read_to_string(e.path())
                    .ok()
                    .and_then(|t| t.trim().parse::<u32>().ok())
                {
                    Some(n) => {
                        scale.insert(name, n);
                    }
                    None => {
                        if !self.scale.contains_key(&name) {
                            self.emit(
                                &format!("group/{name}"),
                                "InvalidScale",
                                "scale override unreadable; ignored",
                            );
                        }
                    }
                }
            }
        }
        for (g, n) in &scale {
            if self.scale.get(g) != Some(n) && self.plan.groups.iter().any(|x| &x.name == g) {
                self.emit(
                    &format!("group/{g}"),
                    "Scaled",
                    &format!("replicas set to {n}"),
                );
            }
        }
        self.scale = scale;
    }

    /// Creates, replaces and removes instances so the set matches the plan.
    fn reconcile_plan(&mut self) {
        if self.stopping {
            return;
        }
        let explicit: Vec<_> = self.plan.instances.clone();
        for ip in &explicit {
            self.ensure_explicit(&ip.spec, ip.running);
        }
        let groups = self.plan.groups.clone();
        for g in &groups {
            let replicas = self.scale.get(&g.name).copied().unwrap_or(g.replicas);
            self.reconcile_group(&g.name, replicas, &g.template);
        }
        let names: Vec<String> = self.insts.keys().cloned().collect();
        for name in names {
            let owner = self.owner_of(&name);
            let Some(inst) = self.insts.get_mut(&name) else {
                continue;
            };
            if owner == Owner::Orphan && inst.owner != Owner::Orphan {
                inst.owner = Owner::Orphan;
                self.events.emit(
                    &format!("instance/{name}"),
                    "Orphaned",
                    "no manifest asks for it any more; removing",
                );
            }
            if inst.owner == Owner::Orphan && inst.desired != PodState::Removed {
                self.set_desired(&name, PodState::Removed);
            }
        }
    }

    fn owner_of(&self, name: &str) -> Owner {
        if self.plan.instances.iter().any(|i| i.spec.instance == name) {
            return Owner::Explicit;
        }
        let group = self.insts.get(name).and_then(|i| i.spec.group.clone());
        match group {
            Some(g) if self.plan.groups.iter().any(|x| x.name == g) => Owner::Group(g),
            _ => Owner::Orphan,
        }
    }

    fn ensure_explicit(&mut self, spec: &PodSpec, running: bool) {
        let name = spec.instance.clone();
        let Some(inst) = self.insts.get_mut(&name) else {
            let state = if running {
                PodState::Running
            } else {
                PodState::Stopped
            };
            self.create(spec.clone(), Owner::Explicit, state);
            if let Some(i) = self.insts.get_mut(&name) {
                i.plan_running = Some(running);
            }
            return;
        };
        if inst.desired == PodState::Removed {
            return;
        }
        let fp = spec.fingerprint();
        if inst.fp != fp && inst.pending_spec.as_ref().map(|s| s.fingerprint()) != Some(fp) {
            inst.pending_spec = Some(spec.clone());
            self.events.emit(
                &format!("instance/{name}"),
                "SpecChanged",
                "manifest changed; replacing the instance",
            );
        }
        if inst.plan_running != Some(running) {
            let first = inst.plan_running.is_none();
            inst.plan_running = Some(running);
            if !first {
                let state = if running {
                    PodState::Running
                } else {
                    PodState::Stopped
                };
                self.set_desired(&name, state);
            }
        }
    }

    fn reconcile_group(&mut self, group: &str, replicas: u32, template: &PodSpec) {
        let mut template = template.for_instance("");
        template.group = Some(group.to_string());
        let fp = template.fingerprint();
        let members: Vec<groups::Member> = self
            .insts
            .values()
            .filter(|i| {
                i.spec.group.as_deref() == Some(group)
                    && !self
                        .plan
                        .instances
                        .iter()
                        .any(|x| x.spec.instance == i.spec.instance)
            })
            .map(|i| groups::Member {
                name: i.spec.instance.clone(),
                current: i.fp == fp,
                ready: i.st.ready || i.desired == PodState::Stopped,
                failed: i.st.phase == Phase::Failed,
                removing: i.desired == PodState::Removed,
            })
            .collect();
        let taken: BTreeSet<String> = self.insts.keys().cloned().collect();
        for action in groups::plan(group, replicas, &members, &taken) {
            match action {
                groups::Action::Create(name) => {
                    self.emit(
                        &format!("group/{group}"),
                        "Scheduled",
                        &format!("creating {name}"),
                    );
                    self.create(
                        template.for_instance(&name),
                        Owner::Group(group.to_string()),
                        PodState::Running,
                    );
                }
                groups::Action::Remove(name) => {
                    self.emit(
                        &format!("group/{group}"),
                        "Removing",
                        &format!("removing {name}"),
                    );
                    self.set_desired(&name, PodState::Removed);
                }
            }
        }
    }

    // ----- instances: creation and adoption -----

    /// Renders a new pod for `spec` and starts managing it.
    fn create(&mut self, spec: PodSpec, owner: Owner, state: PodState) {
        let name = spec.instance.clone();
        let dir = self.layout.pod(&name);
        if let Err(e) = compat::render_pod(&dir, &spec, &self.opts.lcc_bin) {
            self.emit(&format!("instance/{name}"), "RenderFailed", &e);
            return;
        }
        let _ = podfs::write_state(&dir, state);
        let _ = crate::atomic::write_atomic(
            &self.layout.spec(&name),
            &serde_json::to_vec_pretty(&spec).unwrap_or_default(),
        );
        let st = new_status(&spec, state);
        let mut inst = new_inst(spec, dir, owner, st, state);
        inst.st
            .set_condition("Created", true, "PodRendered", crate::events::now_secs());
        self.emit(
            &inst.object(),
            "Created",
            &format!("pod rendered in {}", inst.dir.display()),
        );
        if let Some(w) = self.watch.as_mut() {
            w.add(&inst.dir);
        }
        self.insts.insert(name, inst);
    }

    /// Takes over the pods found on disk: a live process with the same start time is
    /// kept as it is (no restart), anything unreadable is replaced or removed.
    fn adopt_all(&mut self) {
        let Ok(rd) = std::fs::read_dir(self.layout.pods()) else {
            return;
        };
        let mut names: Vec<String> = rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names.into_iter().filter(|n| !n.starts_with('.')) {
            self.adopt(&name);
        }
    }

    fn adopt(&mut self, name: &str) {
        let dir = self.layout.pod(name);
        let spec: Option<PodSpec> = std::fs::read(self.layout.spec(name))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let Some(spec) = spec.filter(|s| s.instance == name) else {
            self.emit(
                &format!("instance/{name}"),
                "Unrecognized",
                "pod without a readable spec; stopping and removing it",
            );
            let timeout = 10;
            let _ = run_pod_blocking(&dir, &["rm", "--timeout", &timeout.to_string()]);
            let _ = std::fs::remove_dir_all(&dir);
            status::remove(&self.layout, name);
            return;
        };
        let desired = podfs::read_state(&dir)
            .ok()
            .flatten()
            .unwrap_or(PodState::Running);
        let st = status::read(&self.layout, name)
            .filter(|s| s.fingerprint == spec.fingerprint())
            .unwrap_or_else(|| new_status(&spec, desired));
        let mut inst = new_inst(spec, dir, Owner::Explicit, st, desired);
        inst.owner = match &inst.spec.group {
            Some(g) => Owner::Group(g.clone()),
            None => Owner::Explicit,
        };
        inst.plan_running = self
            .plan
            .instances
            .iter()
            .find(|i| i.spec.instance == name)
            .map(|i| i.running);
        let live = podfs::read_pid(&inst.dir).filter(|p| p.alive());
        // Ports the status lost are taken from the running app's environment (the truth),
        // else from pod.env.
        let mut env = podfs::read_env(&inst.dir).unwrap_or_default();
        env.extend(
            live.map(|p| podfs::ports_from_process(p.pid))
                .unwrap_or_default(),
        );
        for iface in inst.spec.interfaces.clone() {
            let from_env = env
                .get(&iface.env_name())
                .and_then(|v| v.parse::<u16>().ok());
            match (iface.port, inst.st.ports.get(&iface.name), from_env) {
                (Some(p), _, _) | (None, None, Some(p)) => {
                    inst.st.ports.insert(iface.name.clone(), p);
                }
                _ => {}
            }
        }
        let ports_known = inst
            .spec
            .interfaces
            .iter()
            .all(|i| inst.st.ports.contains_key(&i.name));
        if live.is_some() && !ports_known {
            self.emit(
                &inst.object(),
                "PortsUnknown",
                "the running pod's ports are not on record; replacing it",
            );
            inst.pending_spec = Some(inst.spec.clone());
        }
        let remote_up = inst.spec.kind == AppKind::Remote
            && desired == PodState::Running
            && inst.st.phase == Phase::Running;
        if live.is_some() || remote_up {
            let started = podfs::read_started(&inst.dir);
            let restarts = inst.st.restarts;
            inst.begin_run(live, started);
            inst.st.restarts = restarts;
            inst.set_phase(Phase::Running);
            let pid = live.map_or("remote".to_string(), |p| format!("pid {}", p.pid));
            self.emit(&inst.object(), "Adopted", &format!("{pid} kept running"));
        } else {
            // A new daemon gives Failed instances a fresh start, like `docker compose up`.
            inst.st.failures = 0;
            inst.st
                .set_condition("Failed", false, "DaemonStarted", crate::events::now_secs());
            inst.set_phase(Phase::Pending);
        }
        inst.st.ready = false;
        if let Some(w) = self.watch.as_mut() {
            w.add(&inst.dir);
        }
        self.insts.insert(name.to_string(), inst);
    }

    // ----- observation -----

    /// Re-reads every `pod.state` and checks every process.
    fn sync(&mut self) {
        // Files someone else overwrote (torn, garbage) are written again from memory;
        // checked on rescans only, as nothing but a foreign writer changes them.
        if std::mem::take(&mut self.check_written) {
            self.repair_written();
        }
        let names: Vec<String> = self.insts.keys().cloned().collect();
        for name in names {
            if self.files_changed(&name) {
                self.sync_state(&name);
                self.sync_env(&name);
            }
            self.sync_liveness(&name, false);
        }
        self.reaped.clear();
    }

    /// Rewrites `proxy.conf` and status files that are no longer the ones written.
    fn repair_written(&mut self) {
        if self.last_conf.is_some() && podfs::file_key(&self.layout.proxy_conf()) != self.conf_key {
            self.last_conf = None;
            self.backends_dirty = true;
            self.emit(
                "proxy",
                "ProxyConfRewritten",
                "proxy.conf was changed behind the daemon; rewritten from its state",
            );
        }
        let mut overwritten = Vec::new();
        for (name, inst) in self.insts.iter_mut() {
            if inst.written.is_some()
                && podfs::file_key(&self.layout.status(name)) != inst.status_key
            {
                inst.written = None;
                overwritten.push(name.clone());
            }
        }
        for name in overwritten {
            self.emit(
                &format!("instance/{name}"),
                "StatusRewritten",
                "status file was changed behind the daemon; rewritten from its state",
            );
        }
    }

    /// Whether `pod.state` or `pod.env` changed since last read (one stat each).
    fn files_changed(&mut self, name: &str) -> bool {
        let Some(inst) = self.insts.get_mut(name) else {
            return false;
        };
        let now = [
            podfs::file_key(&podfs::state_path(&inst.dir)),
            podfs::file_key(&podfs::env_path(&inst.dir)),
        ];
        let changed = inst.files_seen != Some(now);
        inst.files_seen = Some(now);
        changed
    }
    /// A `pod.env` that no longer parses is rewritten from the daemon's records.
    fn sync_env(&mut self, name: &str) {
        let Some(inst) = self.insts.get(name) else {
            return;
        };
        let problem = match podfs::read_env(&inst.dir) {
            Err(e) => e.to_string(),
            Ok(env) => {
                // A file that lost the ports the daemon allocated is as broken as garbage.
                let lost: Vec<String> = inst
                    .spec
                    .interfaces
                    .iter()
                    .filter(|i| i.port.is_none())
                    .filter_map(|i| {
                        let want = inst.st.ports.get(&i.name)?.to_string();
                        (env.get(&i.env_name()) != Some(&want)).then(|| i.env_name())
                    })
                    .collect();
                if lost.is_empty() {
                    return;
                }
                format!(
                    "{}: {} missing or changed",
                    podfs::env_path(&inst.dir).display(),
                    lost.join(", ")
                )
            }
        };
        let obj = inst.object();
        let mut env = podfs::read_env(&inst.dir).unwrap_or_default();
        for iface in &inst.spec.interfaces {
            if let Some(p) = inst.st.ports.get(&iface.name) {
                env.insert(iface.env_name(), p.to_string());
            }
        }
        env.insert("LCC_INSTANCE".to_string(), name.to_string());
        env.insert("LCC_CLUSTER".to_string(), self.plan.name.clone());
        env.insert(
            "LCC_HOST_PORTS".to_string(),
            format!("{}-{}", self.plan.host_ports.0, self.plan.host_ports.1),
        );
        let fixed = podfs::write_env(&inst.dir, &env);
        let how = if fixed.is_ok() {
            "rewritten from the daemon's records"
        } else {
            "could not be rewritten"
        };
        self.events
            .emit(&obj, "InvalidPodEnv", &format!("{problem}; {how}"));
    }

    fn sync_state(&mut self, name: &str) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        match podfs::read_state(&inst.dir) {
            Ok(Some(s)) => {
                if s != inst.desired {
                    if inst.desired == PodState::Removed {
                        // Removal is final: a late write does not resurrect it.
                        let _ = podfs::write_state(&inst.dir, PodState::Removed);
                        return;
                    }
                    let obj = inst.object();
                    inst.desired = s;
                    inst.st.desired = s.as_str().to_string();
                    if s == PodState::Running
                        && matches!(
                            inst.st.phase,
                            Phase::Failed | Phase::Exited | Phase::Stopped
                        )
                    {
                        inst.st.failures = 0;
                        inst.st.set_condition(
                            "Failed",
                            false,
                            "Restarted",
                            crate::events::now_secs(),
                        );
                        inst.set_phase(Phase::Pending);
                    }
                    self.events.emit(
                        &obj,
                        "DesiredState",
                        &format!("pod.state is now {}", s.as_str()),
                    );
                }
            }
            Ok(None) => {
                let d = inst.desired;
                if inst.dir.exists() {
                    let _ = podfs::write_state(&inst.dir, d);
                }
            }
            Err(e) => {
                let d = inst.desired;
                let obj = inst.object();
                let _ = podfs::write_state(&inst.dir, d);
                self.events.emit(
                    &obj,
                    "InvalidPodState",
                    &format!("{e}; rewritten as {}", d.as_str()),
                );
            }
        }
    }

    /// Checks whether the run ended: children by what the reaper saw, others (adopted
    /// pods) and `precise` checks by `/proc`.
    fn sync_liveness(&mut self, name: &str, precise: bool) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        if inst.op.is_some() || inst.st.phase != Phase::Running || inst.spec.kind == AppKind::Remote
        {
            return;
        }
        let alive = match inst.proc_id {
            Some(p) if inst.child && !precise => !self.reaped.contains(&p.pid),
            Some(p) => p.alive(),
            None => false,
        };
        if alive {
            return;
        }
        let exit = podfs::read_exit(&inst.dir);
        let stopped = podfs::was_stopped(&inst.dir) && exit.is_none();
        inst.end_run();
        inst.st.exit_code = exit;
        let obj = inst.object();
        if stopped {
            self.events.emit(
                &obj,
                "StoppedOutside",
                "the pod was stopped outside the daemon",
            );
            self.mark_unready(name, "Stopped");
            if let Some(i) = self.insts.get_mut(name) {
                i.set_phase(Phase::Stopped);
            }
            return;
        }
        let code = exit.map_or("unknown (killed)".to_string(), |c| c.to_string());
        self.events
            .emit(&obj, "Exited", &format!("process ended, exit code {code}"));
        self.ended(name, exit, "exited".to_string());
    }

    /// A run ended on its own (or failed to start): restart per policy, or give up.
    fn ended(&mut self, name: &str, exit: Option<i32>, why: String) {
        self.mark_unready(name, "Exited");
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        let policy = inst.spec.restart.policy;
        if inst.desired != PodState::Running {
            inst.set_phase(Phase::Stopped);
            return;
        }
        if policy == RestartPolicy::Never || (policy == RestartPolicy::OnFailure && exit == Some(0))
        {
            inst.set_phase(Phase::Exited);
            return;
        }
        let r = inst.spec.restart.clone();
        inst.st.failures += 1;
        let n = inst.st.failures;
        let obj = inst.object();
        if backoff::exhausted(n, r.max_retries) {
            inst.set_phase(Phase::Failed);
            inst.st
                .set_condition("Failed", true, "MaxRetries", crate::events::now_secs());
            self.events.emit(
                &obj,
                "Failed",
                &format!("gave up after {n} failures in a row ({why})"),
            );
            return;
        }
        let delay = backoff::delay(n, r.backoff_initial_ms, r.backoff_max_ms);
        inst.backoff_until = Some(Instant::now() + delay);
        inst.set_phase(Phase::BackOff);
        self.events.emit(
            &obj,
            "BackOff",
            &format!(
                "restarting in {}ms (failure {n} of {}; {why})",
                delay.as_millis(),
                r.max_retries
            ),
        );
    }

    fn mark_unready(&mut self, name: &str, reason: &str) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        if inst.st.ready {
            self.dirty = true;
            self.backends_dirty = true;
            inst.st.ready = false;
            inst.ready_since = None;
            inst.st
                .set_condition("Ready", false, reason, crate::events::now_secs());
            let obj = inst.object();
            self.events.emit(&obj, "NotReady", reason);
        }
    }

    fn mark_ready(&mut self, name: &str, reason: &str) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        if !inst.st.ready {
            self.dirty = true;
            self.backends_dirty = true;
            inst.st.ready = true;
            inst.ever_ready = true;
            inst.ready_since = Some(Instant::now());
            inst.st
                .set_condition("Ready", true, reason, crate::events::now_secs());
            let obj = inst.object();
            self.events.emit(&obj, "Ready", reason);
        }
    }

    fn set_desired(&mut self, name: &str, state: PodState) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        inst.desired = state;
        inst.st.desired = state.as_str().to_string();
        let _ = podfs::write_state(&inst.dir, state);
    }

    // ----- acting -----

    /// Drives every instance one step and runs due probes.
    fn tick(&mut self) {
        let names: Vec<String> = self.insts.keys().cloned().collect();
        for name in names {
            self.step(&name);
        }
        self.tick_proxy();
    }

    fn step(&mut self, name: &str) {
        let now = Instant::now();
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        if inst.op.is_some() {
            return;
        }
        let up = inst.up();
        match inst.desired {
            PodState::Removed => {
                if up {
                    self.stop(name, Op::Stop);
                } else {
                    self.spawn_op(name, Op::Remove);
                }
            }
            PodState::Stopped => {
                if up {
                    self.stop(name, Op::Stop);
                } else if inst.st.phase != Phase::Stopped {
                    inst.set_phase(Phase::Stopped);
                    inst.backoff_until = None;
                    self.mark_unready(name, "Stopped");
                }
            }
            PodState::Running if self.stopping => {}
            PodState::Running => {
                if inst.pending_spec.is_some() {
                    if up {
                        self.stop(name, Op::Replace);
                    } else {
                        self.rerender(name);
                    }
                    return;
                }
                if up {
                    self.running_step(name, now);
                    return;
                }
                let due = inst.backoff_until.is_none_or(|t| t <= now);
                if matches!(
                    inst.st.phase,
                    Phase::Pending | Phase::Stopped | Phase::BackOff
                ) && due
                {
                    if inst.st.phase == Phase::BackOff {
                        inst.st.restarts += 1;
                    }
                    inst.backoff_until = None;
                    self.start(name);
                }
            }
        }
    }

    fn running_step(&mut self, name: &str, now: Instant) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        if inst.st.phase != Phase::Running {
            inst.set_phase(Phase::Running);
        }
        // A run that stayed ready long enough forgets earlier failures.
        if let Some(since) = inst.ready_since {
            let r = &inst.spec.restart;
            if inst.st.failures > 0
                && now.duration_since(since) >= backoff::reset_after(r.backoff_max_ms)
            {
                inst.st.failures = 0;
            }
        }
        if inst.spec.probe.is_none() && inst.spec.kind == AppKind::Local {
            self.mark_ready(name, "Running (no probe)");
            return;
        }
        if inst.probing || inst.next_probe.is_some_and(|t| t > now) {
            return;
        }
        let Some(probe) = effective_probe(&inst.spec) else {
            self.mark_ready(name, "Running (no probe)");
            return;
        };
        inst.probing = true;
        // Until its first pass a run is probed sooner: 100 ms, then doubling up to the
        // period, so readiness is seen soon after the app listens without flooding a
        // slow starter; then at the manifest's period.
        let period = if inst.ever_ready {
            probe.period_ms
        } else {
            (STARTUP_PROBE_MS << inst.misses.min(16)).min(probe.period_ms)
        };
        inst.next_probe = Some(now + Duration::from_millis(period.max(10)));
        let gen = inst.gen;
        let timeout = Duration::from_millis(probe.timeout_ms.max(1));
        let tx = self.tx.clone();
        let name = name.to_string();
        let host = inst
            .spec
            .remote
            .as_ref()
            .map_or("127.0.0.1".to_string(), |r| r.host.clone());
        let port_of = |iface: &str| {
            inst.st.ports.get(iface).copied().or_else(|| {
                inst.spec
                    .interfaces
                    .iter()
                    .find(|i| i.name == iface)
                    .and_then(|i| i.port)
            })
        };
        match probe.action {
            ProbeAction::Http { interface, path } => {
                let port = port_of(&interface).unwrap_or(0);
                tokio::spawn(async move {
                    let result = compat::probe_http(&host, port, &path, timeout).await;
                    let _ = tx.send(Msg::Probe { name, gen, result });
                });
            }
            ProbeAction::Tcp { interface } => {
                let port = port_of(&interface).unwrap_or(0);
                tokio::spawn(async move {
                    let result = compat::probe_tcp(&host, port, timeout).await;
                    let _ = tx.send(Msg::Probe { name, gen, result });
                });
            }
            ProbeAction::Exec { .. } => {
                let dir = inst.dir.clone();
                let spawned = self
                    .reaper
                    .spawn(pod_command(&dir, &["readiness"]).stderr(Stdio::null()));
                tokio::spawn(async move {
                    let result = match spawned {
                        Ok((pid, rx)) => match tokio::time::timeout(timeout, rx).await {
                            Ok(Ok(0)) => Ok(()),
                            Ok(Ok(c)) => Err(format!("readiness exited {c}")),
                            _ => {
                                let _ = nix::sys::signal::kill(
                                    nix::unistd::Pid::from_raw(pid),
                                    nix::sys::signal::Signal::SIGKILL,
                                );
                                Err("readiness timed out".to_string())
                            }
                        },
                        Err(e) => Err(format!("cannot run readiness: {e}")),
                    };
                    let _ = tx.send(Msg::Probe { name, gen, result });
                });
            }
        }
    }

    fn probe_done(&mut self, name: &str, gen: u64, result: Result<(), String>) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        if inst.gen != gen {
            return;
        }
        inst.probing = false;
        if inst.op.is_some() || !inst.up() {
            return;
        }
        let Some(probe) = effective_probe(&inst.spec) else {
            return;
        };
        let err = match result {
            Ok(()) => {
                inst.misses = 0;
                self.mark_ready(name, "ProbePassed");
                return;
            }
            Err(e) => e,
        };
        inst.misses += 1;
        if inst.misses < probe.failure_threshold.max(1) {
            return;
        }
        let in_startup = !inst.ever_ready
            && inst
                .run_started
                .is_some_and(|t| t.elapsed() < STARTUP_WINDOW);
        let policy = inst.spec.restart.policy;
        let misses = inst.misses;
        self.mark_unready(name, &format!("ProbeFailed: {err}"));
        if in_startup || policy == RestartPolicy::Never {
            return;
        }
        let obj = format!("instance/{name}");
        self.emit(
            &obj,
            "Unhealthy",
            &format!("{misses} probes failed in a row ({err}); restarting"),
        );
        self.stop(name, Op::Restart);
    }

    fn start(&mut self, name: &str) {
        if let Err(why) = self.prepare_env(name) {
            self.emit(&format!("instance/{name}"), "StartFailed", &why);
            self.ended(name, None, why);
            return;
        }
        if let Some(inst) = self.insts.get_mut(name) {
            inst.set_phase(Phase::Starting);
            let _ = std::fs::remove_file(inst.dir.join(".pod/exit"));
        }
        self.spawn_op(name, Op::Start);
    }

    fn stop(&mut self, name: &str, op: Op) {
        if let Some(inst) = self.insts.get_mut(name) {
            inst.set_phase(if inst.desired == PodState::Removed {
                Phase::Removing
            } else {
                Phase::Stopping
            });
        }
        self.mark_unready(name, "Stopping");
        self.spawn_op(name, op);
    }

    fn spawn_op(&mut self, name: &str, op: Op) {
        let errfile = self.layout.status_dir().join(format!("{name}.err"));
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        let stop_s = inst.spec.stop.timeout_ms.div_ceil(1000).max(1);
        let (args, deadline): (Vec<String>, Duration) = match op {
            Op::Start => (vec!["run".into()], RUN_DEADLINE),
            Op::Stop | Op::Restart | Op::Replace => (
                vec!["stop".into(), "--timeout".into(), stop_s.to_string()],
                Duration::from_secs(stop_s + 5),
            ),
            Op::Remove => (
                vec!["rm".into(), "--timeout".into(), stop_s.to_string()],
                Duration::from_secs(stop_s + 5),
            ),
            Op::Kill => (vec!["kill".into()], Duration::from_secs(5)),
        };
        let arg_refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let mut cmd = pod_command(&inst.dir, &arg_refs);
        match std::fs::File::create(&errfile) {
            Ok(f) => cmd.stderr(f),
            Err(_) => cmd.stderr(Stdio::null()),
        };
        inst.op = Some(op);
        let tx = self.tx.clone();
        let name = name.to_string();
        match self.reaper.spawn(&mut cmd) {
            Ok((pid, rx)) => {
                tokio::spawn(async move {
                    let code = match tokio::time::timeout(deadline, rx).await {
                        Ok(Ok(c)) => c,
                        _ => {
                            let _ = nix::sys::signal::kill(
                                nix::unistd::Pid::from_raw(pid),
                                nix::sys::signal::Signal::SIGKILL,
                            );
                            124
                        }
                    };
                    let _ = tx.send(Msg::Op { name, op, code });
                });
            }
            Err(e) => {
                let _ = std::fs::write(
                    &errfile,
                    format!("cannot run {}/pod: {e}\n", inst.dir.display()),
                );
                let _ = tx.send(Msg::Op {
                    name,
                    op,
                    code: 127,
                });
            }
        }
    }

    fn op_done(&mut self, name: &str, op: Op, code: i32) {
        self.dirty = true;
        let err = std::fs::read_to_string(self.layout.status_dir().join(format!("{name}.err")))
            .unwrap_or_default();
        let err = err.lines().last().unwrap_or("").to_string();
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        inst.op = None;
        let obj = inst.object();
        match op {
            Op::Start if code == 0 => {
                let pid = podfs::read_pid(&inst.dir);
                inst.begin_run(pid, podfs::read_started(&inst.dir));
                inst.set_phase(Phase::Running);
                let ports: Vec<String> = inst
                    .st
                    .ports
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let pid_s = pid.map_or("remote".to_string(), |p| format!("pid {}", p.pid));
                self.events.emit(
                    &obj,
                    "Started",
                    &format!("{pid_s} ports {}", ports.join(",")),
                );
                self.sync_liveness(name, true);
            }
            Op::Start => {
                let why = format!("pod run failed (exit {code}): {err}");
                self.events.emit(&obj, "StartFailed", &why);
                inst.end_run();
                self.ended(name, None, why);
            }
            Op::Stop | Op::Restart | Op::Replace | Op::Kill => {
                if inst.proc_id.is_some_and(|p| p.alive()) && op != Op::Kill {
                    self.events.emit(
                        &obj,
                        "StopFailed",
                        &format!("still alive after pod stop ({err}); killing"),
                    );
                    self.spawn_op(name, Op::Kill);
                    return;
                }
                inst.end_run();
                match op {
                    Op::Restart => self.ended(name, None, "probe failures".to_string()),
                    _ => {
                        inst.set_phase(Phase::Stopped);
                        self.events.emit(&obj, "Stopped", "pod stopped");
                    }
                }
            }
            Op::Remove => self.forget(name),
        }
    }

    fn rerender(&mut self, name: &str) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        let Some(spec) = inst.pending_spec.take() else {
            return;
        };
        if let Err(e) = compat::render_pod(&inst.dir, &spec, &self.opts.lcc_bin) {
            let obj = inst.object();
            self.events.emit(&obj, "RenderFailed", &e);
            return;
        }
        let _ = crate::atomic::write_atomic(
            &self.layout.spec(name),
            &serde_json::to_vec_pretty(&spec).unwrap_or_default(),
        );
        inst.fp = spec.fingerprint();
        inst.st.fingerprint = inst.fp.clone();
        inst.st.app = spec.app.clone();
        inst.st.storages = spec.storage.iter().map(|b| b.storage.clone()).collect();
        inst.st.stop_timeout_ms = spec.stop.timeout_ms;
        inst.st.failures = 0;
        inst.spec = spec;
        inst.set_phase(Phase::Pending);
        let obj = inst.object();
        self.events
            .emit(&obj, "Replaced", "pod re-rendered from the new spec");
    }

    /// The pod is removed: delete its directory, spec and status.
    fn forget(&mut self, name: &str) {
        let Some(inst) = self.insts.remove(name) else {
            return;
        };
        if let Some(w) = self.watch.as_mut() {
            w.remove(&inst.dir);
        }
        // remove_dir_all does not follow the storage symlinks under run/.
        let _ = std::fs::remove_dir_all(&inst.dir);
        let _ = std::fs::remove_file(self.layout.spec(name));
        let _ = std::fs::remove_file(self.layout.status_dir().join(format!("{name}.err")));
        status::remove(&self.layout, name);
        self.emit(&inst.object(), "Removed", "pod stopped and removed");
    }

    /// Allocates the interface ports and writes `pod.env` before a run.
    fn prepare_env(&mut self, name: &str) -> Result<(), String> {
        let used: BTreeSet<u16> = self
            .insts
            .iter()
            .filter(|(n, _)| n.as_str() != name)
            .flat_map(|(_, i)| i.st.ports.values().copied())
            .chain(self.plan.gateways.iter().map(|g| g.port))
            .collect();
        let range = self.plan.host_ports;
        let cluster = self.plan.name.clone();
        let Some(inst) = self.insts.get_mut(name) else {
            return Ok(());
        };
        let obj = inst.object();
        let mut env = match podfs::read_env(&inst.dir) {
            Ok(env) => env,
            Err(e) => {
                self.events.emit(
                    &obj,
                    "InvalidPodEnv",
                    &format!("{e}; rewritten from the daemon's records"),
                );
                BTreeMap::new()
            }
        };
        if inst.spec.kind == AppKind::Remote {
            return Ok(());
        }
        let mut ports = BTreeMap::new();
        for iface in inst.spec.interfaces.clone() {
            let key = iface.env_name();
            if let Some(p) = iface.port {
                ports.insert(iface.name.clone(), p);
                env.insert(key, p.to_string());
                continue;
            }
            let known = env
                .get(&key)
                .and_then(|v| v.parse::<u16>().ok())
                .or_else(|| inst.st.ports.get(&iface.name).copied());
            let mut taken: std::collections::HashSet<u16> = used.iter().copied().collect();
            taken.extend(ports.values().copied());
            let port = match known {
                Some(p) if !taken.contains(&p) && crate::ports::is_free(p) => p,
                old => {
                    let p = crate::ports::pick_free(range.0..=range.1, &taken)
                        .ok_or_else(|| format!("no free port left in {}-{}", range.0, range.1))?;
                    if let Some(o) = old {
                        self.events.emit(
                            &obj,
                            "PortChanged",
                            &format!(
                                "port {o} of interface {} is taken by another program; now {p}",
                                iface.name
                            ),
                        );
                    }
                    p
                }
            };
            ports.insert(iface.name.clone(), port);
            env.insert(key, port.to_string());
        }
        env.insert("LCC_INSTANCE".into(), name.to_string());
        env.insert("LCC_CLUSTER".into(), cluster);
        env.insert("LCC_HOST_PORTS".into(), format!("{}-{}", range.0, range.1));
        inst.st.ports = ports;
        podfs::write_env(&inst.dir, &env).map_err(|e| e.to_string())
    }

    // ----- proxy -----

    fn backends(&self) -> proxyconf::Backends {
        let mut out = proxyconf::Backends::new();
        for g in &self.plan.gateways {
            let mut list: Vec<(String, (String, u64), String)> = Vec::new();
            for i in self
                .insts
                .values()
                .filter(|i| i.st.ready && i.desired == PodState::Running)
            {
                let owned = i.spec.instance == g.target
                    || (i.spec.group.as_deref() == Some(&g.target)
                        && i.owner == Owner::Group(g.target.clone()));
                if !owned {
                    continue;
                }
                let host = i
                    .spec
                    .remote
                    .as_ref()
                    .map_or("127.0.0.1".to_string(), |r| r.host.clone());
                let port = i.st.ports.get(&g.interface).copied().or_else(|| {
                    i.spec
                        .interfaces
                        .iter()
                        .find(|x| x.name == g.interface)
                        .and_then(|x| x.port)
                });
                if let Some(p) = port {
                    list.push((
                        i.spec.instance.clone(),
                        status::natural_key(&i.spec.instance),
                        format!("{host}:{p}"),
                    ));
                }
            }
            list.sort_by(|a, b| a.1.cmp(&b.1));
            out.insert(g.name.clone(), list.into_iter().map(|x| x.2).collect());
        }
        out
    }

    fn tick_proxy(&mut self) {
        if self.stopping || !proxyconf::needed(&self.plan) {
            return;
        }
        if std::mem::take(&mut self.backends_dirty) || self.last_conf.is_none() {
            self.write_proxy_conf();
        }
        if self.proxy.pid.is_none() && self.proxy.restart_at.is_none_or(|t| t <= Instant::now()) {
            self.proxy.restart_at = None;
            self.spawn_proxy();
        }
    }

    fn write_proxy_conf(&mut self) {
        let conf = proxyconf::build(&self.plan, &self.backends());
        let text = serde_yaml::to_string(&conf).unwrap_or_default();
        if self.last_conf.as_deref() == Some(text.as_str()) {
            return;
        }
        match crate::atomic::write_atomic(&self.layout.proxy_conf(), text.as_bytes()) {
            Ok(()) => {
                self.last_conf = Some(text);
                self.conf_key = podfs::file_key(&self.layout.proxy_conf());
            }
            Err(_) => self.backends_dirty = true,
        }
    }

    fn spawn_proxy(&mut self) {
        let Some(bin) = self.opts.proxy_bin.clone() else {
            if !self.proxy.missing_reported {
                self.proxy.missing_reported = true;
                self.emit("proxy", "ProxyMissing", "lcc-proxy not found next to lcc nor in $LCC_PROXY_BIN; gateways are not served");
            }
            return;
        };
        kill_recorded(&self.layout.proxy_pid());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.layout.state.join("proxy.log"));
        let mut cmd = Command::new(&bin);
        cmd.arg("--config")
            .arg(self.layout.proxy_conf())
            .stdin(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        match log {
            Ok(f) => {
                let f2 = f.try_clone();
                cmd.stdout(f);
                if let Ok(f2) = f2 {
                    cmd.stderr(f2);
                }
            }
            Err(_) => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        match self.reaper.spawn(&mut cmd) {
            Ok((pid, rx)) => {
                self.proxy.pid = Some(pid);
                if let Some(id) = ProcId::of(pid) {
                    let _ = crate::atomic::write_atomic(
                        &self.layout.proxy_pid(),
                        format!("{} {}\n", id.pid, id.start).as_bytes(),
                    );
                }
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let code = rx.await.unwrap_or(-1);
                    let _ = tx.send(Msg::ProxyExited(code));
                });
                self.emit("proxy", "ProxyStarted", &format!("lcc-proxy pid {pid}"));
            }
            Err(e) => {
                self.emit(
                    "proxy",
                    "ProxyFailed",
                    &format!("cannot start {}: {e}", bin.display()),
                );
                self.proxy.restart_at = Some(Instant::now() + Duration::from_secs(1));
            }
        }
    }

    // ----- timers, status, shutdown -----

    fn next_deadline(&self) -> Option<Instant> {
        let inst = self.insts.values().flat_map(|i| {
            let probe = if i.probing || i.op.is_some() {
                None
            } else {
                i.next_probe
            };
            [probe, i.backoff_until.filter(|_| i.op.is_none())]
        });
        inst.chain([self.proxy.restart_at]).flatten().min()
    }

    /// Writes the status files that changed (of `only`, if given).
    fn flush(&mut self, only: Option<&BTreeSet<String>>) {
        for (name, inst) in self.insts.iter_mut() {
            if only.is_some_and(|o| !o.contains(name)) {
                continue;
            }
            if inst.written.as_ref() != Some(&inst.st)
                && status::write(&self.layout, &inst.st).is_ok()
            {
                inst.written = Some(inst.st.clone());
                inst.status_key = podfs::file_key(&self.layout.status(name));
            }
        }
    }

    /// Instances whose probe or backoff timer is due.
    fn due(&self) -> Vec<String> {
        let now = Instant::now();
        self.insts
            .iter()
            .filter(|(_, i)| {
                i.op.is_none()
                    && ((!i.probing && i.next_probe.is_some_and(|t| t <= now))
                        || i.backoff_until.is_some_and(|t| t <= now))
            })
            .map(|(n, _)| n.clone())
            .collect()
    }

    async fn shutdown(
        &mut self,
        rx: &mut UnboundedReceiver<Msg>,
        sigchld: &mut tokio::signal::unix::Signal,
    ) {
        self.stopping = true;
        self.emit(
            &format!("cluster/{}", self.plan.name),
            "ShuttingDown",
            "stopping every pod",
        );
        let longest = self
            .insts
            .values()
            .map(|i| i.spec.stop.timeout_ms)
            .max()
            .unwrap_or(0);
        let deadline = Instant::now() + Duration::from_millis(longest) + Duration::from_secs(10);
        loop {
            let names: Vec<String> = self.insts.keys().cloned().collect();
            for name in &names {
                let Some(inst) = self.insts.get(name) else {
                    continue;
                };
                if inst.op.is_none() && inst.up() {
                    self.stop(name, Op::Stop);
                } else if inst.op.is_none() && inst.spec.kind == AppKind::Remote {
                    if let Some(i) = self.insts.get_mut(name) {
                        i.remote_up = false;
                    }
                }
            }
            self.flush(None);
            let busy = self.insts.values().any(|i| i.op.is_some() || i.up());
            if !busy || Instant::now() >= deadline {
                break;
            }
            tokio::select! {
                Some(msg) = rx.recv() => { self.handle(msg); }
                _ = sigchld.recv() => { self.reap(); }
                _ = tokio::time::sleep_until(deadline.into()) => {}
            }
        }
        for inst in self.insts.values_mut() {
            if let Some(p) = inst.proc_id.filter(|p| p.alive()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(p.pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            inst.end_run();
            inst.op = None;
            inst.st.ready = false;
            inst.set_phase(Phase::Stopped);
        }
        self.flush(None);
        self.stop_proxy().await;
        let _ = std::fs::remove_file(self.layout.daemon_up());
        let _ = std::fs::remove_file(self.layout.daemon_pid());
        self.reaper.reap();
    }

    async fn stop_proxy(&mut self) {
        let Some(pid) = self.proxy.pid.take() else {
            return;
        };
        let p = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..40 {
            self.reaper.reap();
            if nix::sys::signal::kill(p, None).is_err()
                || ProcId::of(pid).is_none_or(|id| !id.alive())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
        let _ = std::fs::remove_file(self.layout.proxy_pid());
    }
}

/// The manifest's probe; static and remote apps without one get a TCP connect to their
/// first interface (as `pod readiness` does).
fn effective_probe(spec: &PodSpec) -> Option<lcc_compiler::podspec::Probe> {
    if spec.probe.is_some() || spec.kind == AppKind::Local {
        return spec.probe.clone();
    }
    let iface = spec.interfaces.first()?;
    Some(lcc_compiler::podspec::Probe {
        action: ProbeAction::Tcp {
            interface: iface.name.clone(),
        },
        initial_delay_ms: 0,
        period_ms: 2000,
        timeout_ms: 1000,
        failure_threshold: 3,
    })
}

fn signal(kind: tokio::signal::unix::SignalKind) -> tokio::signal::unix::Signal {
    #[allow(clippy::expect_used)]
    tokio::signal::unix::signal(kind).expect("signal handler can be installed")
}

/// `<dir>/pod ARGS` with stdin/stdout closed: the pod detaches, nothing can hang on it.
fn pod_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(dir.join("pod"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

/// Runs a pod action synchronously (outside the loop: startup and `lcc down`).
pub fn run_pod_blocking(dir: &Path, args: &[&str]) -> std::io::Result<std::process::ExitStatus> {
    pod_command(dir, args).stderr(Stdio::null()).status()
}

/// Kills the process recorded as `PID STARTTIME` in `file`, if it is still that process.
pub fn kill_recorded(file: &Path) {
    let Some(id) = std::fs::read_to_string(file)
        .ok()
        .and_then(|t| ProcId::parse(&t))
    else {
        return;
    };
    if id.alive() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(id.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        // Its listeners close only once it is gone: wait a moment so a successor can bind.
        for _ in 0..100 {
            if !id.alive() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let _ = std::fs::remove_file(file);
}

/// Names, sizes and mtimes of the manifests: a change means a reload.
fn manifest_signature(root: &Path) -> String {
    let Ok(rd) = std::fs::read_dir(root) else {
        return String::new();
    };
    let mut parts: Vec<String> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if !(name.ends_with(".yaml") || name.ends_with(".yml")) {
                return None;
            }
            let m = e.metadata().ok()?;
            let mtime = m
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_nanos();
            Some(format!("{name}:{}:{mtime}", m.len()))
        })
        .collect();
    parts.sort();
    parts.join("|")
}

fn new_status(spec: &PodSpec, desired: PodState) -> InstanceStatus {
    InstanceStatus {
        instance: spec.instance.clone(),
        app: spec.app.clone(),
        group: spec.group.clone(),
        desired: desired.as_str().to_string(),
        phase: Phase::Pending,
        ready: false,
        conditions: Vec::new(),
        restarts: 0,
        failures: 0,
        exit_code: None,
        ports: BTreeMap::new(),
        pid: None,
        pid_start: None,
        pids: Vec::new(),
        fingerprint: spec.fingerprint(),
        started: None,
        created: crate::events::now_secs(),
        storages: spec.storage.iter().map(|b| b.storage.clone()).collect(),
        stop_timeout_ms: spec.stop.timeout_ms,
    }
}

fn new_inst(
    spec: PodSpec,
    dir: PathBuf,
    owner: Owner,
    st: InstanceStatus,
    desired: PodState,
) -> Inst {
    Inst {
        fp: spec.fingerprint(),
        spec,
        dir,
        owner,
        st,
        desired,
        proc_id: None,
        remote_up: false,
        op: None,
        gen: 0,
        run_started: None,
        ready_since: None,
        ever_ready: false,
        misses: 0,
        next_probe: None,
        probing: false,
        backoff_until: None,
        pending_spec: None,
        plan_running: None,
        written: None,
        child: false,
        files_seen: None,
        status_key: None,
    }
}
