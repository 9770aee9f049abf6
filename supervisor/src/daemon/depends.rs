//! The daemon's side of `dependsOn`: what it observed of each dependency's target, for
//! the pure decisions of [`crate::dependencies`].

use super::Daemon;
use crate::dependencies::{self, Member, Target};
use crate::instance::{Inst, Op, Owner};
use crate::podfs::PodState;
use crate::reconcile::State;
use lcc_compiler::Dependency;
use lcc_core::events::Reason;
use std::collections::BTreeMap;

impl Daemon {
    /// The `dependsOn` of an instance: its Instance's, or its group's.
    pub(super) fn dependencies_of(&self, inst: &Inst) -> &[Dependency] {
        match &inst.owner {
            Owner::Explicit => self
                .plan
                .instances
                .iter()
                .find(|i| i.spec.instance == inst.spec.instance)
                .map_or(&[], |i| i.depends_on.as_slice()),
            Owner::Group(group) => self
                .plan
                .groups
                .iter()
                .find(|g| &g.name == group)
                .map_or(&[], |g| g.depends_on.as_slice()),
            Owner::Orphan => &[],
        }
    }

    /// Holds an instance back until its dependencies hold (phase Waiting, event).
    pub(super) fn wait(&mut self, name: &str) {
        let Some(inst) = self.insts.get(name) else {
            return;
        };
        let unmet = dependencies::unmet(self.dependencies_of(inst), |t| self.target(t));
        let message = format!("on {}", unmet.join(", "));
        if let Some(inst) = self.insts.get_mut(name) {
            inst.set_state(State::Waiting);
            inst.st.waiting_on = unmet;
            let object = inst.object();
            self.emit(&object, Reason::Waiting, &message);
        }
    }

    /// Stops a running instance whose `restart: true` dependency went down; it then
    /// waits for it like a first start.
    pub(super) fn stop_for_dependency(&mut self, name: &str) {
        let Some(inst) = self.insts.get(name) else {
            return;
        };
        let why = dependencies::went_down(self.dependencies_of(inst), |t| self.target(t))
            .map(|d| format!("{} is no longer {}", d.target, d.condition.as_str()))
            .unwrap_or_default();
        let message = format!("{why} (restart: true): stopping it, to start again after it");
        let object = inst.object();
        self.emit(&object, Reason::DependencyRestarted, &message);
        self.stop(name, Op::Stop);
    }

    /// What is observed of a target: an explicit Instance, or every current replica of
    /// a group (as many as it should have).
    pub(super) fn target(&self, name: &str) -> Target {
        if let Some(inst) = self.insts.get(name).filter(|i| i.owner == Owner::Explicit) {
            return Target::of(&[member(inst)], 1);
        }
        let Some(group) = self.plan.groups.iter().find(|g| g.name == name) else {
            return Target::default();
        };
        let replicas = self.scale.get(name).copied().unwrap_or(group.replicas) as usize;
        let members: Vec<Member> = self
            .insts
            .values()
            .filter(|i| i.desired != PodState::Removed)
            .filter(|i| matches!(&i.owner, Owner::Group(g) if g == name))
            .map(member)
            .collect();
        Target::of(&members, replicas)
    }

    /// The rounds of stops of `lcc down`: dependants before their dependencies.
    pub(super) fn stop_rounds(&self) -> Vec<Vec<String>> {
        let names: Vec<String> = self.insts.keys().cloned().collect();
        let depends: BTreeMap<String, Vec<String>> = self
            .insts
            .iter()
            .map(|(name, inst)| {
                let targets = self
                    .dependencies_of(inst)
                    .iter()
                    .flat_map(|d| self.instances_of(&d.target))
                    .collect();
                (name.clone(), targets)
            })
            .collect();
        dependencies::stop_rounds(&names, &depends)
    }

    /// The instances a target names: itself, or a group's replicas.
    fn instances_of(&self, target: &str) -> Vec<String> {
        self.insts
            .iter()
            .filter(|(name, inst)| match &inst.owner {
                Owner::Group(g) => g == target,
                _ => name.as_str() == target,
            })
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// One instance's part in its target's state.
fn member(inst: &Inst) -> Member {
    Member {
        up: inst.up(),
        ready: inst.st.ready,
        completed: inst.state == State::Completed,
    }
}
