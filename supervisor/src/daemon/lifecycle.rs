//! Acting on instances: step/start/stop decisions, pod ops and their completion,
//! restart backoff, re-render and removal.

use super::probes::readiness;
use super::process::pod_command;
use super::{Daemon, Msg};
use crate::dependencies;
use crate::instance::Op;
use crate::podfs::{self, PodState};
use crate::reaper::RunError;
use crate::reconcile::{reconcile, stop_done, Action, Observed, Run, State, StopDone};
use crate::restart::{run_ended, Ended};
use lcc_compiler::podspec::AppKind;
use lcc_core::events::Reason;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long `pod run` may take (static sites fetch archives).
const RUN_DEADLINE: Duration = Duration::from_secs(60);

impl Daemon {
    /// Steps every instance.
    pub(super) fn tick(&mut self) {
        let names: Vec<String> = self.insts.keys().cloned().collect();
        for name in names {
            self.step(&name);
        }
        self.tick_proxy();
    }

    /// Moves one instance towards its desired state: observes it, asks [`reconcile`]
    /// what to do and when to look again, sets that wake-up and carries the actions out.
    pub(super) fn step(&mut self, name: &str) {
        let now = Instant::now();
        self.waiting.remove(name);
        let (stopped, change_at) = self.change_step(name, now);
        if stopped {
            return;
        }
        let job = self.tick_schedule(name);
        let Some(inst) = self.insts.get(name) else {
            return;
        };
        let deps = self.dependencies_of(inst);
        let unmet = dependencies::unmet(deps, |t| self.target(t));
        let down = inst.up() && dependencies::went_down(deps, |t| self.target(t)).is_some();
        let seen = Observed {
            desired: inst.desired,
            up: inst.up(),
            busy: inst.op.is_some(),
            new_spec: inst.pending_spec.is_some(),
            shutting_down: self.stopping,
            ready: inst.st.ready,
            readiness: readiness(&inst.spec),
            failures: inst.st.failures,
            forgive_after: crate::restart::reset_after(inst.spec.restart.backoff_max_ms),
            epoch: self.epoch,
            waiting: !unmet.is_empty(),
            dependency_down: down,
            scheduled: job.scheduled,
            fire: job.fire,
        };
        let (actions, requeue) = reconcile(&inst.state, &seen, now);
        let requeue = [requeue, job.next, change_at].into_iter().flatten().min();
        if let Some(inst) = self.insts.get_mut(name) {
            // What it waits on may change while it waits (one of two dependencies holds).
            if inst.state == State::Waiting && !unmet.is_empty() {
                inst.st.waiting_on = unmet.clone();
            }
        }
        self.due.instance(name, requeue);
        for action in actions {
            self.act(name, action, now);
        }
    }

    /// Carries out one action [`reconcile`] decided.
    fn act(&mut self, name: &str, action: Action, now: Instant) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        match action {
            Action::Stop(op) => self.stop(name, op),
            Action::Remove => self.spawn_op(name, Op::Remove),
            Action::Rerender => self.rerender(name),
            Action::BecomeStopped => {
                inst.set_state(State::Stopped);
                self.mark_unready(name, "Stopped");
            }
            Action::Wait => self.wait(name),
            Action::StopForDependency => self.stop_for_dependency(name),
            Action::Start { restart } => {
                if let Some(inst) = self.insts.get_mut(name) {
                    inst.st.waiting_on.clear();
                }
                if !self.take_slot(name, now) {
                    self.waiting.insert(name.to_string());
                    return;
                }
                let Some(inst) = self.insts.get_mut(name) else {
                    return;
                };
                if restart {
                    inst.st.restarts += 1;
                }
                self.run_started(name);
                self.start(name);
            }
            Action::TrackRun => inst.set_state(State::Running(Run::new(now))),
            Action::ForgetFailures => inst.st.failures = 0,
            Action::MarkReady => self.mark_ready(name, "Running (no probe)"),
            Action::Probe { next } => {
                if let Some(run) = inst.state.run_mut() {
                    run.next_probe = Some(next);
                }
                self.send_probe(name, now);
            }
        }
    }

    /// A run ended on its own (or failed to start): restart per policy, or give up.
    pub(super) fn ended(&mut self, name: &str, exit: Option<i32>, why: String) {
        self.mark_unready(name, "Exited");
        self.release_slot(name);
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        let r = inst.spec.restart.clone();
        let outcome = run_ended(&r, inst.desired, inst.st.failures, exit);
        inst.set_state(outcome.state(Instant::now()));
        let obj = inst.object();
        match outcome {
            Ended::Stopped => {}
            Ended::Completed => {
                self.events
                    .emit(&obj, Reason::Completed, "exited with code 0: completed");
            }
            // Its `Exited` event (with the code) is already written.
            Ended::Exited => {}
            Ended::Failed { failures } => {
                inst.st.failures = failures;
                inst.st
                    .set_condition("Failed", true, "MaxRetries", lcc_core::events::now_secs());
                self.events.emit(
                    &obj,
                    Reason::Failed,
                    &format!("gave up after {failures} failures in a row ({why})"),
                );
            }
            Ended::BackOff { failures, delay } => {
                inst.st.failures = failures;
                self.events.emit(
                    &obj,
                    Reason::BackOff,
                    &format!(
                        "restarting in {}ms (failure {failures} of {}; {why})",
                        delay.as_millis(),
                        r.max_retries
                    ),
                );
            }
        }
    }

    pub(super) fn start(&mut self, name: &str) {
        if let Err(why) = self.prepare_env(name) {
            self.emit(&format!("instance/{name}"), Reason::StartFailed, &why);
            self.ended(name, None, why);
            return;
        }
        if let Some(inst) = self.insts.get_mut(name) {
            inst.set_state(State::Starting);
            let _ = std::fs::remove_file(inst.dir.join(".pod/exit"));
        }
        self.spawn_op(name, Op::Start);
    }

    pub(super) fn stop(&mut self, name: &str, op: Op) {
        self.release_slot(name);
        if let Some(inst) = self.insts.get_mut(name) {
            inst.set_state(if inst.desired == PodState::Removed {
                State::Removing
            } else {
                State::Stopping
            });
        }
        self.mark_unready(name, "Stopping");
        self.spawn_op(name, op);
    }

    pub(super) fn spawn_op(&mut self, name: &str, op: Op) {
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
        if op == Op::Start {
            // `prepare_env` has just checked them: `pod run` need not start `lcc port`.
            cmd.env("LCC_PORTS_CHECKED", "1");
        }
        match std::fs::File::create(&errfile) {
            Ok(f) => cmd.stderr(f),
            Err(_) => cmd.stderr(Stdio::null()),
        };
        inst.op = Some(op);
        let tx = self.tx.clone();
        let name = name.to_string();
        let dir = inst.dir.clone();
        let reaper = Arc::clone(&self.reaper);
        tokio::spawn(async move {
            let code = match reaper.run(cmd, deadline).await {
                Ok(c) => c,
                Err(RunError::Timeout) => 124,
                Err(RunError::Spawn(e)) => {
                    let _ = std::fs::write(
                        &errfile,
                        format!("cannot run {}/pod: {e}\n", dir.display()),
                    );
                    127
                }
            };
            let _ = tx.send(Msg::Op { name, op, code });
        });
    }

    pub(super) fn op_done(&mut self, name: &str, op: Op, code: i32) {
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
                let ports: Vec<String> = inst
                    .st
                    .ports
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let mut message = pid.map_or("remote".to_string(), |p| format!("pid {}", p.pid));
                if !ports.is_empty() {
                    message = format!("{message} ports {}", ports.join(","));
                }
                self.events.emit(&obj, Reason::Started, &message);
                self.sync_liveness(name, true);
            }
            Op::Start => {
                let why = format!("pod run failed (exit {code}): {err}");
                self.events.emit(&obj, Reason::StartFailed, &why);
                inst.end_run();
                self.ended(name, None, why);
            }
            Op::Stop | Op::Restart | Op::Replace | Op::Kill => {
                let alive = inst.proc_id.is_some_and(|p| p.alive());
                match stop_done(op, alive) {
                    StopDone::Kill => {
                        self.events.emit(
                            &obj,
                            Reason::StopFailed,
                            &format!("still alive after pod stop ({err}); killing"),
                        );
                        self.spawn_op(name, Op::Kill);
                    }
                    StopDone::Failure => {
                        inst.end_run();
                        self.ended(name, None, "probe failures".to_string());
                    }
                    StopDone::Stopped => {
                        inst.end_run();
                        inst.set_state(State::Stopped);
                        self.events.emit(&obj, Reason::Stopped, "pod stopped");
                    }
                }
            }
            Op::Remove => self.forget(name),
        }
    }

    pub(super) fn rerender(&mut self, name: &str) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        let Some(spec) = inst.pending_spec.take() else {
            return;
        };
        if let Err(e) = lcc_compiler::render::write_pod(&inst.dir, &spec, &self.opts.lcc_bin)
            .map_err(|e| e.to_string())
        {
            let obj = inst.object();
            self.events.emit(&obj, Reason::RenderFailed, &e);
            return;
        }
        let _ = lcc_core::atomic::write_atomic(
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
        inst.set_state(State::Pending);
        let obj = inst.object();
        self.events
            .emit(&obj, Reason::Replaced, "pod re-rendered from the new spec");
    }

    /// The pod is removed: delete its directory, spec and status.
    pub(super) fn forget(&mut self, name: &str) {
        let Some(inst) = self.insts.remove(name) else {
            return;
        };
        self.due.instance(name, None);
        if let Some(w) = self.watch.as_mut() {
            w.remove(&inst.dir);
        }
        // Renamed away first, in one step: a daemon killed during the deletion leaves the
        // whole pod or a `.NAME.removing` the next one finishes (`adopt_all`), never a
        // half-deleted pod it would no longer recognise. remove_dir_all does not follow
        // the storage symlinks under run/.
        let doomed = self.layout.pods().join(super::adopt::removing_name(name));
        let gone = std::fs::rename(&inst.dir, &doomed).map_or(inst.dir.clone(), |()| doomed);
        super::adopt::forget_files(&self.layout, name);
        let _ = std::fs::remove_dir_all(&gone);
        self.emit(&inst.object(), Reason::Removed, "pod stopped and removed");
    }

    /// Allocates the interface ports and writes `pod.env` before a run.
    pub(super) fn prepare_env(&mut self, name: &str) -> Result<(), String> {
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
        let read = podfs::read_env(&inst.dir);
        let mut env = match read.as_ref() {
            Ok(env) => env.clone(),
            Err(e) => {
                self.events.emit(
                    &obj,
                    Reason::InvalidPodEnv,
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
                            Reason::PortChanged,
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
        for (k, v) in host_env(&self.plan) {
            env.insert(k.into(), v);
        }
        env.insert("LCC_HOST_PORTS".into(), format!("{}-{}", range.0, range.1));
        inst.st.ports = ports;
        // Unchanged (a restart on the same ports): no rewrite, no new file.
        if read.as_ref().is_ok_and(|old| *old == env) {
            return Ok(());
        }
        podfs::write_env(&inst.dir, &env).map_err(|e| e.to_string())
    }
}

/// What a pod is told of its host (docs/hosts.md): `LCC_HOST_ADDRESS`, the address its
/// app binds so that the probes and every host's gateways reach it (`127.0.0.1` on a
/// single machine), and `LCC_HOST`, the Host's name (a cluster with Hosts only).
pub(super) fn host_env(plan: &lcc_compiler::Plan) -> Vec<(&'static str, String)> {
    let mut env = vec![("LCC_HOST_ADDRESS", plan.this_address().to_string())];
    if let Some(host) = &plan.this_host {
        env.push(("LCC_HOST", host.clone()));
    }
    env
}
