//! Readiness: probe scheduling and results, and marking instances ready or not.

use super::process::pod_command;
use super::{Daemon, Msg};
use crate::httpprobe::{Probe, Request};
use crate::instance::Op;
use crate::probe_grid::{self, read_at, STEADY_SETTLE};
use crate::reaper::RunError;
use crate::reconcile::{probe_missed, Miss, Readiness};
use lcc_compiler::podspec::{AppKind, ProbeAction};
use lcc_compiler::PodSpec;
use lcc_core::events::Reason;
use std::borrow::Cow;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A local app without a probe is ready once it has been up this long.
const NO_PROBE_READY_AFTER: Duration = Duration::from_secs(1);

impl Daemon {
    /// Sends the instance's probe ([`reconcile`](crate::reconcile::reconcile) found it
    /// due). Its result is judged now (a refused connection), at a later pass (a steady
    /// probe's answer) or when it comes back as `Msg::Probe` (a task's).
    pub(super) fn send_probe(&mut self, name: &str, now: Instant) {
        let (held, tasks) = (self.sent_probes.len(), self.probe_tasks);
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        let Some(probe) = effective_probe(&inst.spec) else {
            return;
        };
        let Some(run) = inst.state.run_mut() else {
            return;
        };
        let steady_http = run.ever_ready && matches!(probe.action, ProbeAction::Http { .. });
        if probe_grid::held_back(held, tasks, steady_http) {
            let at = now + STEADY_SETTLE;
            run.next_probe = Some(at);
            self.due.instance(name, Some(at));
            return;
        }
        run.probing = true;
        let ever_ready = run.ever_ready;
        let slack = probe_grid::grid_of(Duration::from_millis(probe.period_ms));
        let gen = inst.gen;
        let settle = if ever_ready {
            STEADY_SETTLE
        } else {
            Duration::ZERO
        };
        let timeout = Duration::from_millis(probe.timeout_ms.max(1));
        let tx = self.tx.clone();
        let tasks = &mut self.probe_tasks;
        let name = name.to_string();
        let host = inst
            .spec
            .remote
            .as_ref()
            // on a host of a multi-host cluster, where the other hosts reach it too
            .map_or(self.plan.this_address(), |r| r.host.as_str());
        let port_of = |iface: &str| {
            inst.st.ports.get(iface).copied().or_else(|| {
                inst.spec
                    .interfaces
                    .iter()
                    .find(|i| i.name == iface)
                    .and_then(|i| i.port)
            })
        };
        match &probe.action {
            ProbeAction::Http { interface, path } => {
                let port = port_of(interface).unwrap_or(0);
                if let Ok(ip) = host.parse::<std::net::IpAddr>() {
                    let addr = std::net::SocketAddr::new(ip, port);
                    let request = match &inst.http_request {
                        Some((a, r)) if *a == addr && r.path() == path => Arc::clone(r),
                        _ => {
                            let r = Request::new(&addr.to_string(), path);
                            inst.http_request = Some((addr, Arc::clone(&r)));
                            r
                        }
                    };
                    let period = Duration::from_millis(probe.period_ms);
                    let read_at =
                        ever_ready.then(|| read_at(now, timeout, period, self.epoch, slack));
                    self.send_http(name, gen, addr, request, timeout, read_at);
                    return;
                }
                let (host, path) = (host.to_string(), path.clone());
                spawn_probe(tasks, tx, name, gen, async move {
                    crate::probe::http_to(&host, port, &path, timeout, settle).await
                });
            }
            ProbeAction::Tcp { interface } => {
                let port = port_of(interface).unwrap_or(0);
                let host = host.to_string();
                spawn_probe(tasks, tx, name, gen, async move {
                    crate::probe::tcp_to(&host, port, timeout).await
                });
            }
            ProbeAction::Exec { .. } => {
                let cmd = pod_command(&inst.dir, &["readiness"]);
                let reaper = std::sync::Arc::clone(&self.reaper);
                spawn_probe(tasks, tx, name, gen, async move {
                    let mut cmd = cmd;
                    cmd.stderr(Stdio::null());
                    match reaper.run(cmd, timeout).await {
                        Ok(0) => Ok(()),
                        Ok(c) => Err(format!("readiness exited {c}")),
                        Err(RunError::Timeout) => Err("readiness timed out".to_string()),
                        Err(e) => Err(format!("cannot run readiness: {e}")),
                    }
                });
            }
        }
    }
}

/// A steady HTTP probe sent at one wake-up of the loop, read at a later one.
#[derive(Debug)]
pub(super) struct SentProbe {
    name: String,
    gen: u64,
    /// When its answer is read (see [`read_at`]).
    read_at: Instant,
    probe: Probe,
}

impl Daemon {
    /// Sends an HTTP probe now. Refused (the app does not listen yet: most of a start's
    /// probes), it is judged at once, in this pass, with no task or message. A steady
    /// probe (`read_at`) is kept for [`Daemon::collect_probes`]; a startup probe, or one
    /// whose request cannot go out at once (a full listen backlog), waits for its answer
    /// in the event loop, which wakes when it comes.
    fn send_http(
        &mut self,
        name: String,
        gen: u64,
        addr: std::net::SocketAddr,
        request: Arc<Request>,
        timeout: Duration,
        read_at: Option<Instant>,
    ) {
        let started = Probe::start_with(&mut self.probe_sockets, addr, request, timeout);
        match (started, read_at) {
            (Ok(probe), Some(read_at))
                if probe.sent() && self.sent_probes.len() < probe_grid::MAX_HELD =>
            {
                self.sent_probes.push(SentProbe {
                    name,
                    gen,
                    read_at,
                    probe,
                })
            }
            (Ok(probe), _) => self.wait_probe(name, gen, probe),
            // Judged within the instance's own step: no further step is wanted.
            (Err(e), _) => {
                self.probe_done(&name, gen, Err(e));
            }
        }
    }

    /// Reads the answers of the steady probes due: those there are judged now, the
    /// others wait in the event loop until their deadline.
    pub(super) fn collect_probes(&mut self) {
        let now = Instant::now();
        let mut i = 0;
        while i < self.sent_probes.len() {
            if self.sent_probes[i].read_at > now {
                i += 1;
                continue;
            }
            let SentProbe {
                name,
                gen,
                mut probe,
                ..
            } = self.sent_probes.swap_remove(i);
            let Some(result) = probe.try_answer() else {
                self.wait_probe(name, gen, probe);
                continue;
            };
            probe.recycle(&mut self.probe_sockets);
            if self.probe_done(&name, gen, result) {
                self.touched.insert(name);
            }
        }
    }

    /// A pass on a ready instance with no misses changes nothing but its next wake-up:
    /// it is only re-armed, with one lookup and no step or status compared (20 times a
    /// second with 200 instances). False if it is not that case (then it is judged).
    fn passed_again(&mut self, name: &str, gen: u64) -> bool {
        let Some(inst) = self.insts.get_mut(name) else {
            return false;
        };
        let quiet = inst.gen == gen
            && inst.st.ready
            && inst.op.is_none()
            && inst.st.failures == 0
            && inst.slot_until.is_none()
            && inst.up();
        let next = match inst.state.run_mut() {
            Some(run) if quiet && run.misses == 0 => {
                run.probing = false;
                run.next_probe
            }
            _ => return false,
        };
        self.due.instance(name, next);
        true
    }

    /// When the next steady probe is to be read.
    pub(super) fn next_probe_read(&self) -> Option<Instant> {
        self.sent_probes.iter().map(|p| p.read_at).min()
    }

    fn wait_probe(&mut self, name: String, gen: u64, probe: Probe) {
        spawn_probe(
            &mut self.probe_tasks,
            self.tx.clone(),
            name,
            gen,
            probe.answer(),
        );
    }
}

/// Runs a probe off the loop, counted in `tasks` until its result comes back as
/// `Msg::Probe`.
fn spawn_probe(
    tasks: &mut usize,
    tx: tokio::sync::mpsc::UnboundedSender<Msg>,
    name: String,
    gen: u64,
    probe: impl std::future::Future<Output = Result<(), String>> + Send + 'static,
) {
    *tasks += 1;
    tokio::spawn(async move {
        let result = probe.await;
        let _ = tx.send(Msg::Probe { name, gen, result });
    });
}

impl Daemon {
    /// Judges a probe's result. Returns whether the instance wants a step (which sets
    /// its next wake-up): not after a pass that found it ready already.
    pub(super) fn probe_done(&mut self, name: &str, gen: u64, result: Result<(), String>) -> bool {
        if result.is_ok() && self.passed_again(name, gen) {
            return false;
        }
        self.judge_probe(name, gen, result);
        true
    }

    fn judge_probe(&mut self, name: &str, gen: u64, result: Result<(), String>) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        if inst.gen != gen {
            return;
        }
        if let Some(run) = inst.state.run_mut() {
            run.probing = false;
        }
        if inst.op.is_some() || !inst.up() {
            return;
        }
        let Some(threshold) = effective_probe(&inst.spec).map(|p| p.failure_threshold.max(1))
        else {
            return;
        };
        let policy = inst.spec.restart.policy;
        let Some(run) = inst.state.run_mut() else {
            return;
        };
        let err = match result {
            Ok(()) => {
                run.misses = 0;
                self.mark_ready(name, "ProbePassed");
                return;
            }
            Err(e) => e,
        };
        let miss = probe_missed(run, threshold, policy, Instant::now());
        let misses = run.misses;
        if miss == Miss::Tolerated {
            return;
        }
        self.mark_unready(name, &format!("ProbeFailed: {err}"));
        if miss == Miss::Unready {
            return;
        }
        let obj = format!("instance/{name}");
        self.emit(
            &obj,
            Reason::Unhealthy,
            &format!("{misses} probes failed in a row ({err}); restarting"),
        );
        self.stop(name, Op::Restart);
    }

    pub(super) fn mark_ready(&mut self, name: &str, reason: &str) {
        self.release_slot(name);
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        if !inst.st.ready {
            self.dirty = true;
            self.backends_dirty = true;
            inst.st.ready = true;
            if let Some(run) = inst.state.run_mut() {
                run.ever_ready = true;
                run.ready_since = Some(Instant::now());
            }
            inst.st
                .set_condition("Ready", true, reason, lcc_core::events::now_secs());
            let obj = inst.object();
            self.events.emit(&obj, Reason::Ready, reason);
        }
    }

    pub(super) fn mark_unready(&mut self, name: &str, reason: &str) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        if inst.st.ready {
            self.dirty = true;
            self.backends_dirty = true;
            inst.st.ready = false;
            if let Some(run) = inst.state.run_mut() {
                run.ready_since = None;
            }
            inst.st
                .set_condition("Ready", false, reason, lcc_core::events::now_secs());
            let obj = inst.object();
            self.events.emit(&obj, Reason::NotReady, reason);
        }
    }
}

/// How `spec`'s readiness is judged (see [`effective_probe`]).
pub(super) fn readiness(spec: &PodSpec) -> Readiness {
    match effective_probe(spec) {
        Some(p) => Readiness::Probe {
            period: Duration::from_millis(p.period_ms),
            initial_delay: Duration::from_millis(p.initial_delay_ms),
        },
        None if spec.kind == AppKind::Local => Readiness::UpFor(NO_PROBE_READY_AFTER),
        None => Readiness::Up,
    }
}

/// The manifest's probe; static and remote apps without one get a TCP connect to their
/// first interface (as `pod readiness` does).
pub(super) fn effective_probe(spec: &PodSpec) -> Option<Cow<'_, lcc_compiler::podspec::Probe>> {
    if spec.probe.is_some() || spec.kind == AppKind::Local {
        return spec.probe.as_ref().map(Cow::Borrowed);
    }
    let iface = spec.interfaces.first()?;
    Some(Cow::Owned(lcc_compiler::podspec::Probe {
        action: ProbeAction::Tcp {
            interface: iface.name.clone(),
        },
        initial_delay_ms: 0,
        period_ms: 2000,
        timeout_ms: 1000,
        failure_threshold: 3,
    }))
}
