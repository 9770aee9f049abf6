//! Observation: sync of `pod.state` and `pod.env`, process liveness, and repair of the
//! files the daemon wrote when someone else overwrote them.

use super::Daemon;
use crate::podfs::{self, PodState};
use crate::reconcile::State;
use lcc_compiler::podspec::AppKind;
use lcc_core::events::Reason;
use lcc_core::status::Phase;

impl Daemon {
    /// Re-reads every `pod.state` and checks every process.
    pub(super) fn sync(&mut self) {
        let names: Vec<String> = self.insts.keys().cloned().collect();
        for name in names {
            if self.files_changed(&name) {
                self.sync_state(&name);
                self.sync_env(&name);
            }
            self.sync_liveness(&name, false);
        }
    }

    /// Re-reads one instance's files (if they changed) and checks its process.
    /// Returns whether its desired state changed.
    pub(super) fn sync_one(&mut self, name: &str) -> bool {
        let before = self.insts.get(name).map(|i| i.desired);
        if self.files_changed(name) {
            self.sync_state(name);
            self.sync_env(name);
        }
        self.sync_liveness(name, false);
        self.insts.get(name).map(|i| i.desired) != before
    }

    /// The periodic look that needs no full pass: files the daemon wrote that someone
    /// else overwrote (torn, garbage) are written again from memory, and processes that
    /// are not the daemon's children (adopted pods) are checked in `/proc`.
    pub(super) fn light_check(&mut self, statuses: bool) {
        self.read_proxy_listeners();
        let overwritten = self.repair_written(statuses);
        self.touched.extend(overwritten);
        let adopted: Vec<String> = self
            .insts
            .iter()
            .filter(|(_, i)| !i.child && i.proc_id.is_some())
            .map(|(n, _)| n.clone())
            .collect();
        self.adopted_alive = !adopted.is_empty();
        for name in adopted {
            self.sync_liveness(&name, false);
            self.touched.insert(name);
        }
    }

    /// Rewrites `proxy.conf` (and with `statuses`, the status files) when no longer the
    /// ones written; returns the instances whose status is to be written again.
    pub(super) fn repair_written(&mut self, statuses: bool) -> Vec<String> {
        if self.last_conf.is_some() && podfs::file_key(&self.layout.proxy_conf()) != self.conf_key {
            self.last_conf = None;
            self.backends_dirty = true;
            self.emit(
                "proxy",
                Reason::ProxyConfRewritten,
                "proxy.conf was changed behind the daemon; rewritten from its state",
            );
        }
        // One stat per instance: with hundreds of instances, only on the full rescans
        // (a net under the watch of `status/`).
        if !statuses {
            return Vec::new();
        }
        let names: Vec<String> = self.insts.keys().cloned().collect();
        names
            .into_iter()
            .filter(|name| self.status_overwritten(name))
            .collect()
    }

    /// Whether the instance's status file is no longer the one the daemon wrote; if so
    /// it is forgotten (so written again) and an event says why.
    pub(super) fn status_overwritten(&mut self, name: &str) -> bool {
        let Some(inst) = self.insts.get_mut(name) else {
            return false;
        };
        if inst.written.is_none() || podfs::file_key(&self.layout.status(name)) == inst.status_key {
            return false;
        }
        inst.written = None;
        self.emit(
            &format!("instance/{name}"),
            Reason::StatusRewritten,
            "status file was changed behind the daemon; rewritten from its state",
        );
        true
    }

    /// Whether `pod.state` or `pod.env` changed since last read (one stat each).
    pub(super) fn files_changed(&mut self, name: &str) -> bool {
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
    pub(super) fn sync_env(&mut self, name: &str) {
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
        for (k, v) in super::lifecycle::host_env(&self.plan) {
            env.insert(k.to_string(), v);
        }
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
            .emit(&obj, Reason::InvalidPodEnv, &format!("{problem}; {how}"));
    }

    pub(super) fn sync_state(&mut self, name: &str) {
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
                    inst.st.desired = s;
                    if s == PodState::Running
                        && matches!(
                            inst.st.phase,
                            Phase::Failed | Phase::Exited | Phase::Completed | Phase::Stopped
                        )
                    {
                        inst.fresh_start("Restarted");
                    }
                    self.events.emit(
                        &obj,
                        Reason::DesiredState,
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
                    Reason::InvalidPodState,
                    &format!("{e}; rewritten as {}", d.as_str()),
                );
            }
        }
    }

    /// Checks whether the run ended: children by what the reaper saw, others (adopted
    /// pods) and `precise` checks by `/proc`.
    pub(super) fn sync_liveness(&mut self, name: &str, precise: bool) {
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
                Reason::StoppedOutside,
                "the pod was stopped outside the daemon",
            );
            self.mark_unready(name, "Stopped");
            if let Some(i) = self.insts.get_mut(name) {
                i.set_state(State::Stopped);
            }
            return;
        }
        let code = exit.map_or("unknown (killed)".to_string(), |c| c.to_string());
        self.events.emit(
            &obj,
            Reason::Exited,
            &format!("process ended, exit code {code}"),
        );
        // the Failed and BackOff events name the exit, so `lcc up --wait` can tell why
        self.ended(name, exit, format!("exit code {code}"));
    }
}
