//! Creation of new pods and adoption of the ones already on disk.

use super::process::run_pod_blocking;
use super::Daemon;
use crate::instance::{Inst, Owner};
use crate::podfs::{self, PodState, ProcId};
use crate::reconcile::{adopted, kept, Adoption, State};
use lcc_compiler::podspec::AppKind;
use lcc_compiler::PodSpec;
use lcc_core::events::Reason;
use lcc_core::status::{self, InstanceStatus, Phase};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

impl Daemon {
    /// Renders a new pod for `spec` and starts managing it.
    pub(super) fn create(&mut self, spec: PodSpec, owner: Owner, state: PodState) {
        let name = spec.instance.clone();
        let dir = self.layout.pod(&name);
        if self.occupied(&name) {
            if self.blocked.insert(name.clone()) {
                self.emit(
                    &format!("instance/{name}"),
                    Reason::PodDirOccupied,
                    &format!(
                        "{} exists and is not a pod lcc made: lcc will not write into it; \
                         move it out of .lcc/pods/ and the instance is created",
                        dir.display()
                    ),
                );
            }
            return;
        }
        self.blocked.remove(&name);
        if let Err(e) = lcc_compiler::render::write_pod(&dir, &spec, &self.opts.lcc_bin)
            .map_err(|e| e.to_string())
        {
            self.emit(&format!("instance/{name}"), Reason::RenderFailed, &e);
            return;
        }
        let _ = podfs::write_state(&dir, state);
        // The directories `pod run` would otherwise make with one `mkdir` process each.
        for sub in [".pod", "run", "log"] {
            let _ = lcc_core::layout::make_private_dir(&dir.join(sub));
        }
        let _ = lcc_core::atomic::write_atomic(
            &self.layout.spec(&name),
            &serde_json::to_vec_pretty(&spec).unwrap_or_default(),
        );
        let st = new_status(&spec, state);
        let mut inst = new_inst(spec, dir, owner, st, state);
        inst.st
            .set_condition("Created", true, "PodRendered", lcc_core::events::now_secs());
        self.emit(
            &inst.object(),
            Reason::Created,
            &format!("pod rendered in {}", inst.dir.display()),
        );
        if let Some(w) = self.watch.as_mut() {
            w.add(&inst.dir);
        }
        self.insts.insert(name, inst);
    }

    /// Whether `.lcc/pods/<name>` holds something that is not a pod lcc made (a user's
    /// folder or file): it must not be rendered into.
    pub(super) fn occupied(&self, name: &str) -> bool {
        let dir = self.layout.pod(name);
        std::fs::symlink_metadata(&dir).is_ok() && !podfs::is_lcc_pod(&dir)
    }

    /// Takes over the pods found on disk: a live process with the same start time is
    /// kept as it is (no restart); a pod without a usable spec is stopped and moved to
    /// `orphans/`; an entry that is no pod of lcc's is left alone and reported.
    pub(super) fn adopt_all(&mut self) {
        let Ok(rd) = std::fs::read_dir(self.layout.pods()) else {
            return;
        };
        let mut names: Vec<String> = rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in &names {
            // A removal a killed daemon left half done (see `forget`): only lcc makes
            // these names, from a pod it recognised.
            if let Some(gone) = removing_of(name) {
                let _ = std::fs::remove_dir_all(self.layout.pods().join(name));
                forget_files(&self.layout, gone);
            }
        }
        for name in names.into_iter().filter(|n| !n.starts_with('.')) {
            let dir = self.layout.pod(&name);
            if podfs::is_lcc_pod(&dir) {
                self.adopt(&name);
                continue;
            }
            self.emit(
                &format!("cluster/{}", self.plan.name),
                Reason::UnknownEntry,
                &format!(
                    "{} is not a pod lcc made (no `pod` script with lcc's header); left alone",
                    dir.display()
                ),
            );
        }
    }

    pub(super) fn adopt(&mut self, name: &str) {
        let dir = self.layout.pod(name);
        let spec: Option<PodSpec> = std::fs::read(self.layout.spec(name))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let Some(spec) = spec.filter(|s| s.instance == name) else {
            self.move_aside(name, &dir);
            return;
        };
        // Pods of an older lcc were 0755, their script (which holds the env) too.
        let _ = lcc_core::layout::make_private(&dir);
        let _ = lcc_core::layout::make_private(&dir.join("pod"));
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
        let live = self.recover_ports(&mut inst);
        let remote_up = inst.spec.kind == AppKind::Remote
            && desired == PodState::Running
            && inst.st.phase == Phase::Running;
        match adopted(inst.st.phase, live.is_some() || remote_up, desired) {
            Adoption::KeepRunning => {
                let started = podfs::read_started(&inst.dir);
                inst.begin_run(live, started);
                let pid = live.map_or("remote".to_string(), |p| format!("pid {}", p.pid));
                self.emit(
                    &inst.object(),
                    Reason::Adopted,
                    &format!("{pid} kept running"),
                );
            }
            Adoption::KeepEnded => {
                // A run that ended for good stays so across a daemon restart, restart
                // count included: `lcc restart` or an edit of the instance starts it.
                let phase = inst.st.phase;
                inst.set_state(kept(phase));
                self.emit(
                    &inst.object(),
                    Reason::Adopted,
                    &format!("kept {} (lcc restart starts it again)", phase.as_str()),
                );
            }
            Adoption::Fresh => inst.fresh_start("DaemonStarted"),
        }
        inst.st.ready = false;
        if let Some(w) = self.watch.as_mut() {
            w.add(&inst.dir);
        }
        self.insts.insert(name.to_string(), inst);
    }

    /// Stops a pod of lcc's that has no usable spec and moves it to
    /// `orphans/<name>.<unix-seconds>`: the daemon cannot tell what it was, so it keeps
    /// its files (logs, data) for the user rather than deleting them.
    fn move_aside(&mut self, name: &str, dir: &Path) {
        let object = format!("instance/{name}");
        let _ = run_pod_blocking(dir, &["stop", "--timeout", "10"]);
        status::remove(&self.layout, name);
        let _ = std::fs::remove_file(self.layout.spec(name));
        let _ = std::fs::remove_file(self.layout.status_dir().join(format!("{name}.err")));
        let orphans = self.layout.orphans_dir();
        let secs = lcc_core::events::now_secs() as u64;
        let moved = lcc_core::layout::make_private_dir(&orphans).and_then(|()| {
            // A second orphan of the same name within the same second gets a suffix.
            let mut dest = orphans.join(format!("{name}.{secs}"));
            let mut n = 1;
            while std::fs::symlink_metadata(&dest).is_ok() {
                dest = orphans.join(format!("{name}.{secs}.{n}"));
                n += 1;
            }
            std::fs::rename(dir, &dest).map(|()| dest)
        });
        match moved {
            Ok(dest) => self.emit(
                &object,
                Reason::Orphaned,
                &format!(
                    "pod without a readable spec: stopped and moved to {}; \
                     delete it once nothing in it is needed",
                    dest.display()
                ),
            ),
            Err(e) => self.emit(
                &object,
                Reason::Orphaned,
                &format!(
                    "pod without a readable spec: stopped; it could not be moved to {} \
                     ({e}) and stays in {}",
                    orphans.display(),
                    dir.display()
                ),
            ),
        }
    }

    /// Restores an adopted pod's interface ports (marking it for replacement if they stay
    /// unknown); returns its live process, if any.
    fn recover_ports(&self, inst: &mut Inst) -> Option<ProcId> {
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
                Reason::PortsUnknown,
                "the running pod's ports are not on record; replacing it",
            );
            inst.pending_spec = Some(inst.spec.clone());
        }
        live
    }
}

pub(super) fn new_status(spec: &PodSpec, desired: PodState) -> InstanceStatus {
    InstanceStatus {
        instance: spec.instance.clone(),
        app: spec.app.clone(),
        group: spec.group.clone(),
        desired,
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
        created: lcc_core::events::now_secs(),
        storages: spec.storage.iter().map(|b| b.storage.clone()).collect(),
        stop_timeout_ms: spec.stop.timeout_ms,
        waiting_on: Vec::new(),
        next_run: None,
    }
}

pub(super) fn new_inst(
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
        state: State::Pending,
        http_request: None,
        slot_until: None,
        written_at: None,
        phase_since: None,
        pending_spec: None,
        plan_running: None,
        written: None,
        child: false,
        files_seen: None,
        status_key: None,
        schedule: None,
        change: Default::default(),
        changed: None,
    }
}

/// The name under which a pod directory is deleted: renamed first, so a daemon killed
/// meanwhile leaves either the whole pod or this (dot names are no instances).
pub(super) fn removing_name(instance: &str) -> String {
    format!(".{instance}.removing")
}

/// The instance whose removal left `name` behind, if it is such a name.
fn removing_of(name: &str) -> Option<&str> {
    name.strip_prefix('.')?
        .strip_suffix(".removing")
        .filter(|i| lcc_compiler::rules::name(i).is_ok())
}

/// Removes what the state directory records of a removed instance: its spec, status
/// and last error.
pub(super) fn forget_files(layout: &lcc_core::layout::Layout, instance: &str) {
    let _ = std::fs::remove_file(layout.spec(instance));
    let _ = std::fs::remove_file(layout.status_dir().join(format!("{instance}.err")));
    status::remove(layout, instance);
}
