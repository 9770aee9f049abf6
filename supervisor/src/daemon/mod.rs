//! The daemon: a reconcile loop on tokio that drives every pod of a cluster towards its
//! `pod.state`, woken by file-system events, child exits, probe results and timers,
//! with a periodic rescan as a safety net (docs/daemon.md).

mod acme;
mod adopt;
mod alarm;
mod apply;
mod depends;
mod due;
mod gate;
mod jobs;
mod lifecycle;
mod observe;
mod peers;
mod probes;
mod process;
mod proxy;
mod shutdown;
mod watching;

pub use process::{kill_recorded, run_pod_blocking};

use apply::manifest_signature;
use due::{Chore, Due, Work};
use lcc_core::events::Reason;

use crate::instance::{Inst, Op};
use crate::lock::DaemonLock;
use crate::podfs;
use crate::reaper::Reaper;
use crate::watch::{Change, Watch};
use lcc_compiler::Plan;
use lcc_core::events::EventLog;
use lcc_core::layout::Layout;
use lcc_core::status;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// Errors that stop the daemon before it runs.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// `.lcc` is a symlink leaving the cluster directory, or not a directory.
    #[error(transparent)]
    StateDir(#[from] lcc_core::layout::StateDirError),
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
    /// The program that runs the proxy: `lcc-proxy`, else `lcc` itself.
    pub proxy_bin: Option<PathBuf>,
    /// Arguments before `--config`: none for `lcc-proxy`, `proxy` for `lcc proxy`.
    pub proxy_args: Vec<String>,
    /// Period of the light check (foreign writes to the daemon's files, adopted pods'
    /// processes) while it has something to see soon (see `Daemon::next_rescan`; else
    /// every 10 s); once a minute it is a full re-read of every pod's files, a net for
    /// lost file events.
    pub rescan: Duration,
    /// Instances starting at once (0: no bound); see `gate.rs`.
    pub start_parallel: usize,
    /// How the manifests are read (`lcc up --env-file ...`), at start and at every reload.
    pub load: lcc_compiler::LoadOptions,
    /// `lcc up --watch`: restart instances when their `watch:` sources change.
    pub watch: bool,
}

impl Options {
    /// Defaults: this executable as `lcc`, `lcc-proxy` from `$LCC_PROXY_BIN` or next to it;
    /// without one (`cargo run --bin lcc` builds `lcc` alone), `lcc proxy`.
    pub fn from_env() -> Options {
        let lcc_bin = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("lcc"));
        let proxy_bin = std::env::var_os("LCC_PROXY_BIN")
            .map(PathBuf::from)
            .or_else(|| lcc_bin.parent().map(|d| d.join("lcc-proxy")))
            .filter(|p| p.is_file());
        let (proxy_bin, proxy_args) = match proxy_bin {
            Some(bin) => (Some(bin), Vec::new()),
            None => (
                Some(lcc_bin.clone()).filter(|p| p.is_file()),
                vec!["proxy".to_string()],
            ),
        };
        Options {
            lcc_bin,
            proxy_bin,
            proxy_args,
            rescan: Duration::from_secs(2),
            start_parallel: gate::StartGate::default_limit(),
            load: lcc_compiler::LoadOptions::default(),
            watch: false,
        }
    }
}

/// Shortest time between two writes of one status file.
const STATUS_GAP: Duration = Duration::from_millis(250);
/// How long a passing phase (Starting, Stopping) waits before its status is written: a
/// `pod run` or `pod stop` that ends sooner leaves only its outcome on disk, one status
/// write fewer per start when hundreds start at once.
const PASSING_PHASE: Duration = Duration::from_secs(1);

/// How often a rescan also re-reads all files: once a minute, as kubelet resyncs. It is
/// a net for lost file events only (an inotify overflow is reported and re-reads at
/// once), and costs a stat of every pod's files.
const FULL_RESCAN_EVERY: Duration = Duration::from_secs(60);

/// How often a rescan also reaps without a SIGCHLD: a net only (the signal wakes it for
/// every ending child), and each `wait4` looks at every child the daemon has, a cost an
/// idle daemon with hundreds of children should not pay often.
const REAP_EVERY: Duration = Duration::from_secs(10);

/// The light check's period while nothing needs `Options::rescan`'s (see
/// [`Daemon::next_rescan`]): on an idle machine each wake-up of the daemon costs more
/// than the little a light check then does.
const IDLE_RESCAN: Duration = Duration::from_secs(10);

/// Shortest time between two full passes.
const MIN_FULL_GAP: Duration = Duration::from_millis(100);
/// Group members created per full pass: a new pod costs a few synced file writes, and
/// rendering a large group whole before its first start would leave the cores idle
/// meanwhile; the first ones start while the next are written.
const CREATES_PER_PASS: usize = 16;

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
    /// An ACME task's attempt ended.
    Acme {
        entrance: String,
        host: String,
        outcome: crate::acme::Outcome,
    },
    /// A poller's answer from another host: its backends, or why it did not answer.
    Peer {
        host: String,
        answer: Result<crate::peers::HostBackends, String>,
    },
}

/// A signal's handler, installed now.
pub(super) fn signal(kind: tokio::signal::unix::SignalKind) -> tokio::signal::unix::Signal {
    #[allow(clippy::expect_used)]
    tokio::signal::unix::signal(kind).expect("signal handler can be installed")
}

/// Makes this process a session leader (detached from the terminal of `lcc up -d`).
pub fn new_session() {
    let _ = nix::unistd::setsid();
}

/// A future that completes on the first SIGTERM, SIGINT or SIGQUIT: the shutdown of
/// `lcc up` and `lcc daemon`. (Created outside a runtime: the handlers are installed when
/// it is first polled, inside the daemon's, before any pod is started.)
///
/// Handling INT and QUIT also gives the pods their default dispositions: a process
/// started in the background by a non-interactive shell has both ignored, an ignored
/// signal stays ignored across `exec` (and a shell cannot undo it), but a handled one
/// is reset to the default. Without this an app would ignore a `stop.signal: INT`.
pub async fn termination() {
    use tokio::signal::unix::SignalKind;
    let mut sigterm = signal(SignalKind::terminate());
    let mut sigint = signal(SignalKind::interrupt());
    let mut sigquit = signal(SignalKind::quit());
    tokio::select! {
        _ = sigterm.recv() => {}
        _ = sigint.recv() => {}
        _ = sigquit.recv() => {}
    }
}

/// Runs the daemon for the cluster in `layout` until `shutdown` completes, then stops
/// every pod and the proxy.
pub fn run(
    layout: &Layout,
    opts: Options,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), DaemonError> {
    let layout = layout.clone();
    // Before the lock: taking it creates `.lcc/daemon.lock`, at the end of the link.
    layout.check_state_dir()?;
    let lock = DaemonLock::acquire(&layout)?;
    let plan = lcc_compiler::load_cluster_with(&layout.root, &opts.load)
        .map_err(|d| d.to_string())
        .and_then(|plan| match not_a_host(&layout.root, &plan) {
            Some(why) => Err(why),
            None => Ok(plan.this_host_part()),
        })
        .map_err(|diagnostics| DaemonError::Invalid {
            dir: layout.root.display().to_string(),
            diagnostics,
        })?;
    let setup = |what: &str| {
        let what = what.to_string();
        move |source| DaemonError::Setup { what, source }
    };
    // Private: pod scripts and specs hold the manifests' env values. `.lcc` itself may be
    // a link within the cluster (checked above), so it is narrowed through it.
    let state = std::fs::canonicalize(&layout.state).unwrap_or_else(|_| layout.state.clone());
    lcc_core::layout::make_private(&state).map_err(setup(&layout.state.display().to_string()))?;
    for d in [
        layout.pods(),
        layout.status_dir(),
        layout.scale_dir(),
        layout.specs_dir(),
        layout.storage_dir(),
    ] {
        lcc_core::layout::make_private_dir(&d).map_err(setup(&d.display().to_string()))?;
    }
    // Made only when a pod is moved there, but narrowed like the others if it exists.
    let _ = lcc_core::layout::make_private(&layout.orphans_dir());
    let _ = std::fs::remove_file(layout.daemon_up());
    if let Err(e) = crate::reaper::become_subreaper() {
        tracing::warn!("cannot become child subreaper: {e}");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(setup("tokio runtime"))?;
    let token = crate::api::token::ensure(&layout)
        .map_err(setup(&layout.api_token().display().to_string()))?;
    let socket = layout.api_socket();
    let registry = register(&layout, &plan);
    let peer_token = peer_token(&layout, &plan);
    rt.block_on(async move {
        let (tx, rx) = unbounded_channel();
        let api = Arc::new(crate::api::Api::new(
            layout.clone(),
            plan.clone(),
            tcp_addr(&plan).map(|a| (a, token)),
            peer_addr(&plan).zip(peer_token.clone().and_then(Result::ok)),
        ));
        let mut d = Daemon::new(layout, opts, plan, tx);
        d.peer_token = match peer_token {
            Some(Ok(t)) => Some(t),
            Some(Err(why)) => {
                d.emit(
                    &format!("cluster/{}", d.plan.name),
                    Reason::ApiFailed,
                    &format!("no peer token ({why}): the other hosts are neither served nor asked; `lcc sync` sends it, then restart this daemon (`lcc down`, `lcc up -d`): the token is read at its start"),
                );
                None
            }
            None => None,
        };
        d.start_peers();
        let streams = Arc::clone(&api);
        d.events.on_append(move || streams.event_appended());
        let api_thread = d.serve_api(&api);
        d.api = Some(api);
        d.main(rx, shutdown).await;
        if let Some(t) = api_thread {
            t.stop();
        }
    });
    let _ = std::fs::remove_file(&socket);
    if let Some((registry, dir)) = registry {
        lcc_core::registry::unregister(&registry, &dir, std::process::id() as i32);
    }
    drop(lock);
    Ok(())
}

/// Enters the cluster in the user's registry of running clusters (`lcc ls`); returns
/// where, to leave it at the end. Without a registry (no home), nothing.
fn register(layout: &Layout, plan: &Plan) -> Option<(PathBuf, PathBuf)> {
    let registry = lcc_core::registry::dir()?;
    let dir = std::fs::canonicalize(&layout.root).unwrap_or_else(|_| layout.root.clone());
    let entry = lcc_core::registry::Entry {
        name: plan.name.clone(),
        dir: dir.clone(),
        socket: dir.join(".lcc/api.sock"),
        pid: std::process::id() as i32,
        started: lcc_core::events::now_secs(),
    };
    if let Err(e) = lcc_core::registry::register(&registry, &entry) {
        tracing::warn!("cannot register in {}: {e}", registry.display());
        return None;
    }
    // Entries of daemons that are gone (killed) go now.
    let _ = crate::control::live_entries(&registry);
    Some((registry, dir))
}

/// The API's TCP address from the plan (checked by the compiler).
fn tcp_addr(plan: &Plan) -> Option<std::net::SocketAddr> {
    let listen = plan.api_listen.as_deref()?;
    std::net::ToSocketAddrs::to_socket_addrs(listen)
        .ok()?
        .next()
}

/// The peer token of a host of a multi-host cluster that has peers: other hosts may
/// reach it (it has an address) or it may reach them (`None` on a single machine, and
/// on a `local` host with no other host to ask).
fn peer_token(layout: &Layout, plan: &Plan) -> Option<Result<String, String>> {
    let here = plan.host(plan.this_host.as_deref()?)?;
    let others = plan
        .hosts
        .iter()
        .any(|h| h.active && !h.is_local() && h.name != here.name);
    if here.is_local() && !others {
        return None;
    }
    Some(crate::peer_token::read(layout).map_err(|e| e.to_string()))
}

/// Where this host serves its peers: its address and `Cluster.peers.port`.
fn peer_addr(plan: &Plan) -> Option<std::net::SocketAddr> {
    let host = plan.host(plan.this_host.as_deref()?)?;
    std::net::ToSocketAddrs::to_socket_addrs(&plan.peer_address(host))
        .ok()?
        .next()
}

/// The lcc-proxy child.
#[derive(Debug, Default)]
struct ProxySup {
    pid: Option<i32>,
    restart_at: Option<Instant>,
    missing_reported: bool,
    /// When the running proxy was started.
    started: Option<Instant>,
    /// Exits in a row without a steady run (`proxy_restart`).
    exits: u32,
    /// Where `proxy.log` ended when the running proxy was started: what it wrote since.
    log_from: u64,
    /// Listen addresses reported busy (`ListenerBusy`) and not bound since.
    busy: BTreeSet<String>,
    /// Certificate problems reported (`CertRefused`, `CertExpired`) and not gone since.
    certs: BTreeSet<(String, String)>,
    /// `proxy.listeners` as last read.
    listeners_key: Option<podfs::FileKey>,
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
    /// Manifests changed while a sync was receiving: reloaded at a rescan once it is done.
    held_reload: bool,
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
    /// Children just reaped, while `reap` checks the instances they ran (empty otherwise).
    reaped: std::collections::HashSet<i32>,
    /// `proxy.conf` as last written.
    conf_key: Option<podfs::FileKey>,
    /// Probe tasks whose `Msg::Probe` has not come yet.
    probe_tasks: usize,
    /// When the last rescan that reaped and the last full one were.
    last_reap: Instant,
    last_full_rescan: Instant,
    /// Whether pods adopted from an earlier daemon were alive at the last light check
    /// (true until the first: adoption comes before it).
    adopted_alive: bool,
    /// Bounds the instances starting at once.
    gate: gate::StartGate,
    /// Instances whose start waits for a slot of the gate.
    waiting: BTreeSet<String>,
    /// Instances whose changed status waits for STATUS_GAP since its last write.
    held_back: BTreeSet<String>,
    /// A full pass was asked for and not done yet.
    want_full: bool,
    /// When the last full pass ended.
    last_full: Instant,
    /// The next pass is a full one whatever the time since the last.
    full_now: bool,
    /// When the daemon started: the origin of the probes' coalescing grid.
    epoch: Instant,
    /// The gate refused a start and no slot was given back since: the other waiting
    /// starts need not ask (each ask counts the holders).
    gate_shut: bool,
    /// Steady probes sent and not read yet.
    sent_probes: Vec<probes::SentProbe>,
    /// Their sockets once read, for the next ones.
    probe_sockets: crate::httpprobe::Sockets,
    /// Group members this pass may still create (see [`CREATES_PER_PASS`]).
    creates_left: usize,
    /// A pass left group members to create: `daemon.up` waits for them, since `lcc up`
    /// takes the status files it then finds for the whole cluster.
    creates_deferred: bool,
    /// `daemon.up` is not written yet.
    up_pending: bool,
    /// The work due next: each instance's own step, the loop's chores.
    due: Due,
    /// Instances whose pod directory holds something not lcc's: reported once, not
    /// created, and a name group controllers skip (see `create`).
    blocked: BTreeSet<String>,
    /// The HTTP API, told of every new plan.
    api: Option<Arc<crate::api::Api>>,
    /// The `watch:` items of the plan (with `lcc up --watch`).
    watch_rules: Vec<crate::source_watch::Rule>,
    /// The ACME task of each entrance whose certificate comes from an ACME CA.
    acme: BTreeMap<String, (crate::acme::Job, tokio::task::JoinHandle<()>)>,
    /// The cluster's peer token (a host of a multi-host cluster).
    peer_token: Option<String>,
    /// The other hosts as last heard from.
    peers: BTreeMap<String, crate::peers::Peer>,
    /// Their pollers.
    pollers: BTreeMap<String, peers::Poller>,
}

impl Daemon {
    fn new(layout: Layout, opts: Options, plan: Plan, tx: UnboundedSender<Msg>) -> Daemon {
        let events = EventLog::new(&layout.events());
        events.seal();
        let manifest_sig = manifest_signature(&layout.root);
        let opts_start_parallel = opts.start_parallel;
        Daemon {
            layout,
            opts,
            events,
            tx,
            reaper: Arc::new(Reaper::default()),
            plan,
            manifest_sig,
            bad_sig: None,
            held_reload: false,
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
            probe_tasks: 0,
            last_reap: Instant::now(),
            last_full_rescan: Instant::now(),
            adopted_alive: true,
            gate: gate::StartGate::new(opts_start_parallel),
            waiting: BTreeSet::new(),
            held_back: BTreeSet::new(),
            want_full: false,
            last_full: Instant::now(),
            full_now: false,
            creates_left: CREATES_PER_PASS,
            sent_probes: Vec::new(),
            probe_sockets: Default::default(),
            creates_deferred: false,
            up_pending: true,
            due: Due::default(),
            epoch: Instant::now(),
            gate_shut: false,
            blocked: BTreeSet::new(),
            api: None,
            watch_rules: Vec::new(),
            acme: BTreeMap::new(),
            peer_token: None,
            peers: BTreeMap::new(),
            pollers: BTreeMap::new(),
        }
    }

    fn emit(&self, object: &str, reason: Reason, message: &str) {
        self.events.emit(object, reason, message);
    }

    async fn main(
        &mut self,
        mut rx: UnboundedReceiver<Msg>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let cluster = format!("cluster/{}", self.plan.name);
        self.emit(
            &cluster,
            Reason::DaemonStarted,
            &format!(
                "daemon pid {} for {}",
                std::process::id(),
                self.layout.root.display()
            ),
        );
        // Handlers first: a child that exits during the first pass must not go unseen.
        let mut sigchld = signal(tokio::signal::unix::SignalKind::child());
        tokio::pin!(shutdown);
        // Polled once now, so that a shutdown on signals has its handlers in place
        // before the first pass (a SIGTERM then must not kill the daemon outright).
        let mut stop_now = false;
        tokio::select! {
            biased;
            _ = &mut shutdown => stop_now = true,
            _ = std::future::ready(()) => {}
        }
        self.start_watch();
        self.watch_sources();
        self.adopt_all();
        self.read_scale();
        self.reconcile_plan();
        self.sync_acme();
        self.sync();
        self.tick();
        self.flush(None);
        self.announce_up();
        let mut alarm = alarm::Alarm::new();
        self.due.chore(Chore::Rescan, Some(self.next_rescan()));
        while !stop_now {
            self.schedule();
            if let Some(at) = self.due.next() {
                alarm.set(at);
            }
            // A new pass: time alone (a slot's end, a CPU sample) may open the gate.
            self.gate_shut = false;
            tokio::select! {
                Some(msg) = rx.recv() => self.handle(msg),
                _ = sigchld.recv() => self.reap(),
                _ = &mut shutdown => stop_now = true,
                _ = alarm.rung() => {}
            }
            if stop_now {
                break;
            }
            while let Ok(msg) = rx.try_recv() {
                self.handle(msg);
            }
            for work in self.due.take(Instant::now()) {
                self.run_due(work);
            }
            self.pass();
            self.touched.clear();
            self.announce_up();
        }
        self.shutdown(&mut rx, &mut sigchld).await;
        self.emit(
            &cluster,
            Reason::DaemonStopped,
            "every pod and the proxy are stopped",
        );
    }

    /// The next rescan: on the probes' grid (multiples of the rescan period since the
    /// daemon started), so that an idle daemon wakes for both at once. The period is
    /// `Options::rescan` while something is seen only by looking and should be seen
    /// soon: the proxy runs (its `proxy.listeners`, and `proxy.conf` written behind the
    /// daemon), pods adopted from an earlier daemon are alive (no SIGCHLD for them), a
    /// manifest reload waits for a sync to end; else [`IDLE_RESCAN`].
    fn next_rescan(&self) -> Instant {
        let soon = self.proxy.pid.is_some() || self.adopted_alive || self.held_reload;
        let period = match soon {
            true => self.opts.rescan,
            false => self.opts.rescan.max(IDLE_RESCAN),
        };
        let step = period.as_millis().max(1) as u64;
        let since = Instant::now().duration_since(self.epoch).as_millis() as u64;
        self.epoch + Duration::from_millis((since / step + 1) * step)
    }

    /// Serves the API on `.lcc/api.sock` (owner only; a socket left by a dead daemon is
    /// replaced: this one holds the lock) and, when the plan asks, on TCP. A listener
    /// that cannot be had is an event; the cluster runs on without it.
    fn serve_api(&self, api: &Arc<crate::api::Api>) -> Option<crate::api::Thread> {
        use crate::api::Bound;
        use std::os::unix::fs::PermissionsExt;
        let socket = self.layout.api_socket();
        let _ = std::fs::remove_file(&socket);
        let cluster = format!("cluster/{}", self.plan.name);
        let mut listening = Vec::new();
        let mut bound = Vec::new();
        match std::os::unix::net::UnixListener::bind(&socket).and_then(|l| {
            std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))?;
            Ok(l)
        }) {
            Ok(l) => {
                listening.push(socket.display().to_string());
                bound.push(Bound::Unix(l));
            }
            Err(e) => self.emit(
                &cluster,
                Reason::ApiFailed,
                &format!("{}: {e}", socket.display()),
            ),
        }
        if let Some(addr) = tcp_addr(&self.plan) {
            match std::net::TcpListener::bind(addr) {
                Ok(l) => {
                    listening.push(format!("http://{addr}"));
                    bound.push(Bound::Tcp(l));
                }
                Err(e) => self.emit(
                    &cluster,
                    Reason::ApiFailed,
                    &format!("cannot listen on {addr}: {e}"),
                ),
            }
        }
        if let Some(addr) = peer_addr(&self.plan).filter(|_| self.peer_token.is_some()) {
            match std::net::TcpListener::bind(addr) {
                Ok(l) => {
                    listening.push(format!("peers on http://{addr}"));
                    bound.push(Bound::Peer(l));
                }
                Err(e) => self.emit(
                    &cluster,
                    Reason::ApiFailed,
                    &format!("peers: cannot listen on {addr}: {e}"),
                ),
            }
        }
        if bound.is_empty() {
            return None;
        }
        match crate::api::Thread::spawn(bound, Arc::clone(api)) {
            Ok(thread) => {
                self.emit(&cluster, Reason::ApiListening, &listening.join(" and "));
                Some(thread)
            }
            Err(e) => {
                self.emit(
                    &cluster,
                    Reason::ApiFailed,
                    &format!("no thread for the API: {e}"),
                );
                None
            }
        }
    }

    /// Writes `daemon.up` (this pid) once every instance of the plan has its pod and
    /// status: `lcc up` waits for it.
    fn announce_up(&mut self) {
        if self.up_pending && !self.creates_deferred {
            self.up_pending = false;
            let _ = lcc_core::atomic::write_atomic(
                &self.layout.daemon_up(),
                format!("{}\n", std::process::id()).as_bytes(),
            );
        }
    }

    /// Runs one piece of due work. An instance's step and the chores that wait for the
    /// pass (a full pass, waiting starts, status files, the proxy's restart) are done by
    /// the [`pass`](Self::pass) that follows, which looks at them all at once.
    fn run_due(&mut self, work: Work) {
        match work {
            Work::Instance(name) => {
                self.touched.insert(name.to_string());
            }
            Work::Chore(Chore::Rescan) => self.rescan(),
            Work::Chore(Chore::ProbeAnswers) => self.collect_probes(),
            Work::Chore(Chore::FullPass) => self.full_now = true,
            Work::Chore(Chore::WaitingStarts | Chore::StatusFiles | Chore::Proxy) => {}
        }
    }

    /// The light check for what events can miss (see [`Daemon::next_rescan`] for when);
    /// every [`REAP_EVERY`] it also reaps, every [`FULL_RESCAN_EVERY`] it re-reads
    /// everything.
    fn rescan(&mut self) {
        let now = Instant::now();
        if now >= self.last_reap + REAP_EVERY {
            self.last_reap = now;
            self.reap();
        }
        // The full re-read is a net for lost file events only: rarer.
        let full_rescan = now >= self.last_full_rescan + FULL_RESCAN_EVERY;
        if full_rescan {
            self.last_full_rescan = now;
        }
        self.light_check(full_rescan);
        self.due.chore(Chore::Rescan, Some(self.next_rescan()));
        if full_rescan {
            self.want_full = true;
        }
        if full_rescan || self.held_reload {
            self.reload_if_changed();
        }
    }

    /// Full passes cost a look at every instance: in a storm of changes (hundreds of
    /// instances starting) they are at most one per MIN_FULL_GAP, and the instances a
    /// message or due work concerned take the quiet path meanwhile.
    fn pass(&mut self) {
        let full_due = self.full_now
            || ((self.want_full || self.dirty) && Instant::now() >= self.last_full + MIN_FULL_GAP);
        if full_due {
            self.full_pass();
            self.last_full = Instant::now();
        } else {
            self.quiet_pass();
        }
    }

    /// Puts the chores that follow from the loop's state into the queue.
    fn schedule(&mut self) {
        // Something to look at soon since the last rescan (the proxy started, a reload
        // held for a sync): the next rescan comes sooner.
        let rescan = self.next_rescan();
        if self
            .due
            .chore_at(Chore::Rescan)
            .is_some_and(|at| rescan < at)
        {
            self.due.chore(Chore::Rescan, Some(rescan));
        }
        let gate = (!self.waiting.is_empty()).then(|| self.slot_free_at());
        self.due.chore(Chore::WaitingStarts, gate);
        let full = (self.want_full || self.dirty).then_some(self.last_full + MIN_FULL_GAP);
        self.due.chore(Chore::FullPass, full);
        let status = self.held_back_due();
        self.due.chore(Chore::StatusFiles, status);
        self.due.chore(Chore::Proxy, self.proxy.restart_at);
        let answers = self.next_probe_read();
        self.due.chore(Chore::ProbeAnswers, answers);
    }

    /// Re-reads everything, reconciles the plan and steps every instance.
    fn full_pass(&mut self) {
        self.full_now = false;
        if std::mem::take(&mut self.want_full) {
            self.read_scale();
            self.sync();
        }
        self.dirty = false;
        self.reconcile_plan();
        self.backends_dirty = true;
        self.tick();
        self.flush(None);
    }

    /// Steps only the instances concerned: messages, due steps, waiting starts.
    fn quiet_pass(&mut self) {
        let mut names = std::mem::take(&mut self.touched);
        for name in &names {
            self.step(name);
        }
        // Waiting starts, until the gate refuses one: the others would be refused too,
        // and stepping (and flushing) every waiting instance on every message would make
        // a storm of hundreds of starts cost the daemon quadratic work.
        while !self.gate_shut {
            let Some(name) = self.waiting.iter().find(|n| !names.contains(*n)).cloned() else {
                break;
            };
            self.step(&name);
            names.insert(name);
        }
        self.tick_proxy();
        self.flush(Some(&names));
    }

    /// Handles one message.
    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Fs(Change::Manifests) => {
                self.reload_if_changed();
                self.want_full = true;
            }
            Msg::Fs(Change::State) => self.want_full = true,
            Msg::Fs(Change::Source(path)) => self.source_changed(&path),
            Msg::Fs(Change::Status(name)) => {
                if self.status_overwritten(&name) {
                    self.touched.insert(name);
                }
            }
            Msg::Fs(Change::Pod(name)) => {
                // A user's `lcc delete`/`stop`/`start`: the group controllers look at once,
                // while a deleted replica still holds its name (its replacement gets a
                // new one, as a deleted Kubernetes pod's does).
                if self.sync_one(&name) {
                    self.full_now = true;
                }
                self.touched.insert(name);
            }
            Msg::Op { name, op, code } => {
                // op_done marks the plan dirty; the pod's own files are reported by the
                // watch, so no re-read of every pod's (in a start storm, one per start).
                self.op_done(&name, op, code);
                self.touched.insert(name);
            }
            Msg::Probe { name, gen, result } => {
                self.probe_tasks = self.probe_tasks.saturating_sub(1);
                if self.probe_done(&name, gen, result) {
                    self.touched.insert(name);
                }
            }
            Msg::ProxyExited(code) => self.proxy_exited(code),
            Msg::Acme {
                entrance,
                host,
                outcome,
            } => self.acme_done(&entrance, &host, outcome),
            Msg::Peer { host, answer } => self.peer_answered(host, answer),
        }
    }

    /// Reaps exited children. Only a pod's session leader matters: the instance whose
    /// run it was is looked at now. The rest (an app's orphaned grandchildren, which
    /// a shim like pyenv's leaves by the hundred in a start storm) cost no re-read of
    /// every pod's files.
    fn reap(&mut self) {
        let gone = self.reaper.reap().untracked;
        if gone.is_empty() {
            return;
        }
        self.reaped.extend(gone);
        let ended: Vec<String> = self
            .insts
            .iter()
            .filter(|(_, i)| i.child && i.proc_id.is_some_and(|p| self.reaped.contains(&p.pid)))
            .map(|(n, _)| n.clone())
            .collect();
        for name in ended {
            self.sync_liveness(&name, false);
            self.touched.insert(name);
            self.dirty = true;
        }
        // A leader reaped before its start was recorded is seen by the precise check
        // that ends the start.
        self.reaped.clear();
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
                w.add(&self.layout.status_dir());
                self.watch = Some(w);
            }
            Err(e) => self.emit(
                "daemon",
                Reason::WatchFailed,
                &format!("file watching unavailable, rescanning only: {e}"),
            ),
        }
    }

    /// Writes the status files that changed (of `only`, if given, and those held back);
    /// a file written less than STATUS_GAP ago waits (see `flush_with`).
    fn flush(&mut self, only: Option<&BTreeSet<String>>) {
        self.flush_with(only, STATUS_GAP);
    }

    /// Writes the changed status files, each at most once per `gap`: an instance passes
    /// Starting, Running and Ready within a fraction of a second, and each atomic write
    /// costs a new file; the later ones wait and are written together.
    fn flush_with(&mut self, only: Option<&BTreeSet<String>>, gap: Duration) {
        let now = Instant::now();
        // Only the instances concerned (a probe result concerns one), not all of them.
        let mut names: BTreeSet<String> = match only {
            Some(o) => o.clone(),
            None => self.insts.keys().cloned().collect(),
        };
        // Held-back files not yet due stay held, without comparing their statuses again.
        for name in std::mem::take(&mut self.held_back) {
            let Some(inst) = self.insts.get(&name) else {
                continue;
            };
            if !names.contains(&name) && write_due(inst, gap).is_some_and(|t| now < t) {
                self.held_back.insert(name);
            } else {
                names.insert(name);
            }
        }
        for name in names {
            let Some(inst) = self.insts.get_mut(&name) else {
                continue;
            };
            if inst.written.as_ref() == Some(&inst.st) {
                continue;
            }
            if write_due(inst, gap).is_some_and(|t| now < t) {
                self.held_back.insert(name);
                continue;
            }
            if status::write_unsynced(&self.layout, &inst.st).is_ok() {
                inst.written = Some(inst.st.clone());
                inst.written_at = Some(now);
                inst.status_key = podfs::file_key(&self.layout.status(&name));
            }
        }
    }

    /// When the first held-back status file is due.
    fn held_back_due(&self) -> Option<Instant> {
        self.held_back
            .iter()
            .filter_map(|n| write_due(self.insts.get(n)?, STATUS_GAP))
            .min()
    }
}

/// When `inst`'s changed status may be written (`None`: now): `gap` after the last write,
/// and a passing phase [`PASSING_PHASE`] after it began, unless no status file exists yet
/// (`ps` and `up` must see the instance) or `gap` is zero (shutdown).
fn write_due(inst: &Inst, gap: Duration) -> Option<Instant> {
    let after_gap = inst.written_at.map(|t| t + gap);
    let passing = matches!(
        inst.st.phase,
        status::Phase::Starting | status::Phase::Stopping
    ) && inst.written.is_some()
        && !gap.is_zero();
    let after_phase = inst
        .phase_since
        .filter(|_| passing)
        .map(|t| t + PASSING_PHASE);
    after_gap.max(after_phase)
}

/// Why a cluster with Hosts cannot run here: this machine is none of them.
pub fn not_a_host(dir: &std::path::Path, plan: &lcc_compiler::Plan) -> Option<String> {
    if !plan.has_hosts() || plan.this_host.is_some() {
        return None;
    }
    Some(format!(
        "{}: this machine is none of the cluster's hosts: no Host has `address: local`, and \
         `lcc sync` has not put the cluster here; run `lcc sync` to start it on its hosts",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kills what a test's cluster left running, even when the test fails.
    struct Reap(Layout);

    impl Drop for Reap {
        fn drop(&mut self) {
            for st in status::read_all(&self.0) {
                for pid in st.pids {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
    }

    #[test]
    fn run_stops_every_pod_when_the_callers_shutdown_completes() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("app.yaml"),
            "kind: Application\nname: s\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [sleep, \"300\"]\nstop: {signal: KILL, timeout: 1s}\n---\nkind: Instance\nname: s\napp: s\n",
        )
        .expect("manifest");
        let layout = Layout::new(dir.path());
        let _reap = Reap(layout.clone());
        let opts = Options {
            // The app has no interfaces, probe or site: its pod never calls lcc.
            lcc_bin: PathBuf::from("/nonexistent/lcc"),
            proxy_bin: None,
            proxy_args: Vec::new(),
            rescan: Duration::from_millis(200),
            start_parallel: 0,
            load: lcc_compiler::LoadOptions::default(),
            watch: false,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let daemon = {
            let layout = layout.clone();
            std::thread::spawn(move || {
                run(&layout, opts, async {
                    let _ = stopped.await;
                })
            })
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let pid = loop {
            let running = status::read(&layout, "s")
                .filter(|s| s.phase == status::Phase::Running)
                .and_then(|s| s.pid);
            if let Some(pid) = running {
                break pid;
            }
            assert!(Instant::now() < deadline, "instance s never ran");
            std::thread::sleep(Duration::from_millis(20));
        };
        stop.send(()).expect("the daemon listens");
        let result = daemon.join().expect("daemon thread");
        assert!(result.is_ok(), "{result:?}");
        let st = status::read(&layout, "s").expect("status");
        assert_eq!(st.phase, status::Phase::Stopped);
        assert_eq!(st.pid, None);
        let gone = !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || podfs::proc_stat(pid).is_some_and(|(state, _)| state == 'Z');
        assert!(gone, "pid {pid} outlived the daemon");
    }
}
