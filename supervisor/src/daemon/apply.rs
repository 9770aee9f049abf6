//! Applying the plan (the desired cluster the compiler builds from the manifests):
//! manifest reloads, scale overrides, explicit pods and group replicas brought to what
//! the plan asks for.

use super::{Daemon, CREATES_PER_PASS};
use crate::groups;
use crate::instance::Owner;
use crate::podfs::{self, PodState};
use lcc_compiler::PodSpec;
use lcc_core::events::Reason;
use lcc_core::status::Phase;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

impl Daemon {
    pub(super) fn reload_if_changed(&mut self) {
        let sig = manifest_signature(&self.layout.root);
        if sig == self.manifest_sig || Some(&sig) == self.bad_sig.as_ref() {
            return;
        }
        // A sync moves its files in one by one: the set is applied once it is all in
        // (the next rescan after the lock goes), never half of it.
        self.held_reload = sync_receiving(&self.layout);
        if self.held_reload {
            return;
        }
        let loaded = lcc_compiler::load_cluster_with(&self.layout.root, &self.opts.load)
            .map_err(|d| d.to_string())
            .and_then(|plan| match super::not_a_host(&self.layout.root, &plan) {
                Some(why) => Err(why),
                None => Ok(plan.this_host_part()),
            });
        // A sync that took its lock, or an edit, while the files were read may have
        // left them half old, half new: this read is dropped and the next rescan reads
        // again.
        self.held_reload = sync_receiving(&self.layout);
        if self.held_reload || manifest_signature(&self.layout.root) != sig {
            return;
        }
        match loaded {
            Ok(plan) => {
                self.manifest_sig = sig;
                self.bad_sig = None;
                if plan != self.plan {
                    if let Some(api) = &self.api {
                        api.set_plan(plan.clone());
                    }
                    self.plan = plan;
                    self.watch_sources();
                    self.sync_acme();
                    self.start_peers();
                    self.want_full = true;
                    self.emit(
                        &format!("cluster/{}", self.plan.name),
                        Reason::ManifestsApplied,
                        "manifests changed; reconciling",
                    );
                }
            }
            Err(diag) => {
                self.bad_sig = Some(sig);
                self.emit(
                    &format!("cluster/{}", self.plan.name),
                    Reason::InvalidManifests,
                    &format!("edit refused; running on the last good manifests:\n{diag}"),
                );
            }
        }
    }

    pub(super) fn read_scale(&mut self) {
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
                                Reason::InvalidScale,
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
                    Reason::Scaled,
                    &format!("replicas set to {n}"),
                );
            }
        }
        self.scale = scale;
    }

    /// Creates, replaces and removes instances so the set matches the plan.
    pub(super) fn reconcile_plan(&mut self) {
        if self.stopping {
            return;
        }
        self.creates_left = CREATES_PER_PASS;
        self.creates_deferred = false;
        // A name whose folder the user moved away is free again (and reported again if
        // something takes it).
        let blocked = std::mem::take(&mut self.blocked);
        self.blocked = blocked.into_iter().filter(|n| self.occupied(n)).collect();
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
                    Reason::Orphaned,
                    "no manifest asks for it any more; removing",
                );
            }
            if inst.owner == Owner::Orphan && inst.desired != PodState::Removed {
                self.set_desired(&name, PodState::Removed);
            }
        }
    }

    pub(super) fn owner_of(&self, name: &str) -> Owner {
        if self.plan.instances.iter().any(|i| i.spec.instance == name) {
            return Owner::Explicit;
        }
        let group = self.insts.get(name).and_then(|i| i.spec.group.clone());
        match group {
            Some(g) if self.plan.groups.iter().any(|x| x.name == g) => Owner::Group(g),
            _ => Owner::Orphan,
        }
    }

    pub(super) fn ensure_explicit(&mut self, spec: &PodSpec, running: bool) {
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
                Reason::SpecChanged,
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

    pub(super) fn reconcile_group(&mut self, group: &str, replicas: u32, template: &PodSpec) {
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
        // An occupied pod directory takes its name too: the group uses the next one.
        let taken: BTreeSet<String> = self.insts.keys().chain(&self.blocked).cloned().collect();
        let share = self.plan.share(group, replicas);
        for action in groups::reconcile(group, share, &members, &taken) {
            match action {
                groups::Action::Create(_) if self.creates_left == 0 => {
                    // The rest in the next full pass, MIN_FULL_GAP from now.
                    self.dirty = true;
                    self.creates_deferred = true;
                }
                groups::Action::Create(name) => {
                    self.emit(
                        &format!("group/{group}"),
                        Reason::Scheduled,
                        &format!("creating {name}"),
                    );
                    self.create(
                        template.for_instance(&name),
                        Owner::Group(group.to_string()),
                        PodState::Running,
                    );
                    // Only a pod written counts: renders that fail (each an event)
                    // defer nothing, and `daemon.up` does not wait on them.
                    if self.insts.contains_key(&name) {
                        self.creates_left -= 1;
                    }
                }
                groups::Action::Remove(name) => {
                    self.emit(
                        &format!("group/{group}"),
                        Reason::Removing,
                        &format!("removing {name}"),
                    );
                    self.set_desired(&name, PodState::Removed);
                }
            }
        }
    }

    pub(super) fn set_desired(&mut self, name: &str, state: PodState) {
        let Some(inst) = self.insts.get_mut(name) else {
            return;
        };
        inst.desired = state;
        inst.st.desired = state;
        let _ = podfs::write_state(&inst.dir, state);
    }
}

/// Whether a sync is moving files into the cluster directory now: its lock is there
/// and was written (or refreshed) within the staleness bound.
fn sync_receiving(layout: &lcc_core::layout::Layout) -> bool {
    let age = std::fs::metadata(layout.sync_lock())
        .and_then(|m| m.modified())
        .map(|t| t.elapsed().unwrap_or_default());
    age.is_ok_and(|a| a.as_secs() <= lcc_core::layout::SYNC_LOCK_STALE_S)
}

/// Names, sizes and mtimes of the manifests: a change means a reload.
pub(super) fn manifest_signature(root: &Path) -> String {
    let Ok(rd) = std::fs::read_dir(root) else {
        return String::new();
    };
    let mut parts: Vec<String> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            // `.env` feeds the manifests' `${VAR}`: an edit of it is an edit of them.
            let manifest = name.ends_with(".yaml") || name.ends_with(".yml");
            if !(manifest || name == lcc_compiler::DOTENV) {
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
