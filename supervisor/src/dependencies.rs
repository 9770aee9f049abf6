//! The dependency gate (`dependsOn`): whether an instance may start, what it waits on,
//! whether a `restart: true` dependency went down under it, and the order of stops on
//! `lcc down`. Pure functions over what the daemon observed, table-tested.
//!
//! As in Docker Compose, dependencies gate a start only: a dependency that becomes
//! unready later leaves its dependants running, unless the item says `restart: true`;
//! then the dependant is stopped and waits to start again once the condition holds.

use lcc_compiler::{Condition, Dependency};
use std::collections::BTreeMap;

/// What the daemon observed of a dependency's target (for a group: of all its replicas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Target {
    /// It runs, or ran to completion.
    pub started: bool,
    /// It is Ready.
    pub ready: bool,
    /// It ended with exit code 0 and is not restarted.
    pub completed: bool,
}

/// One instance's part in its target's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Its app is up.
    pub up: bool,
    /// It is Ready.
    pub ready: bool,
    /// It is Completed.
    pub completed: bool,
}

impl Target {
    /// A target made of `members` that should number `replicas` (a group), each one
    /// counting: a group holds a condition when every replica it should have holds it.
    pub fn of(members: &[Member], replicas: usize) -> Target {
        let all = |f: fn(&Member) -> bool| members.len() >= replicas && members.iter().all(f);
        Target {
            started: all(|m| m.up || m.completed),
            ready: all(|m| m.ready),
            completed: all(|m| m.completed),
        }
    }

    /// Whether `condition` holds.
    pub fn holds(&self, condition: Condition) -> bool {
        match condition {
            Condition::Started => self.started,
            Condition::Ready => self.ready,
            Condition::Completed => self.completed,
        }
    }
}

/// The dependencies that do not hold, as `TARGET: CONDITION` (what `lcc ps` shows).
pub fn unmet(deps: &[Dependency], target: impl Fn(&str) -> Target) -> Vec<String> {
    deps.iter()
        .filter(|d| !target(&d.target).holds(d.condition))
        .map(|d| format!("{}: {}", d.target, d.condition.as_str()))
        .collect()
}

/// The first `restart: true` dependency that no longer holds, if any: a running
/// dependant is then restarted after it.
pub fn went_down(deps: &[Dependency], target: impl Fn(&str) -> Target) -> Option<&Dependency> {
    deps.iter()
        .find(|d| d.restart && !target(&d.target).holds(d.condition))
}

/// The order of stops on `lcc down`: rounds of names, dependants before what they
/// depend on (a name's round is after every round of its dependants). `depends` maps a
/// name to the names it depends on; names not in it are in the first round. A cycle
/// (refused by validation) cannot hang it: what is left goes in one last round.
pub fn stop_rounds(names: &[String], depends: &BTreeMap<String, Vec<String>>) -> Vec<Vec<String>> {
    let mut left: Vec<String> = names.to_vec();
    let mut rounds = Vec::new();
    while !left.is_empty() {
        // Stoppable now: no name still left depends on it.
        let (now, later): (Vec<String>, Vec<String>) = left.iter().cloned().partition(|n| {
            !left
                .iter()
                .any(|other| depends.get(other).is_some_and(|d| d.contains(n)))
        });
        if now.is_empty() {
            rounds.push(later);
            break;
        }
        rounds.push(now);
        left = later;
    }
    rounds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(target: &str, condition: Condition, restart: bool) -> Dependency {
        Dependency {
            target: target.to_string(),
            condition,
            restart,
        }
    }

    const UP: Member = Member {
        up: true,
        ready: false,
        completed: false,
    };
    const READY: Member = Member {
        up: true,
        ready: true,
        completed: false,
    };
    const DONE: Member = Member {
        up: false,
        ready: false,
        completed: true,
    };
    const DOWN: Member = Member {
        up: false,
        ready: false,
        completed: false,
    };

    #[test]
    fn targets_of_members() {
        // members, replicas -> started, ready, completed
        /// Members, replicas -> started, ready, completed.
        type Row<'a> = (&'a [Member], usize, (bool, bool, bool));
        let table: &[Row<'_>] = &[
            (&[], 1, (false, false, false)),
            (&[], 0, (true, true, true)),
            (&[UP], 1, (true, false, false)),
            (&[READY], 1, (true, true, false)),
            (&[DONE], 1, (true, false, true)),
            (&[DOWN], 1, (false, false, false)),
            (&[READY, UP], 2, (true, false, false)),
            (&[READY, READY], 2, (true, true, false)),
            (&[READY], 2, (false, false, false)),
            (&[DONE, DONE], 2, (true, false, true)),
        ];
        for (members, replicas, (started, ready, completed)) in table {
            let t = Target::of(members, *replicas);
            assert_eq!(
                (t.started, t.ready, t.completed),
                (*started, *ready, *completed),
                "{members:?} of {replicas}"
            );
        }
    }

    #[test]
    fn gate() {
        let targets: BTreeMap<&str, Target> = [
            ("db", Target::of(&[READY], 1)),
            ("mq", Target::of(&[UP], 1)),
            ("migrate", Target::of(&[DONE], 1)),
            ("cache", Target::of(&[DOWN], 1)),
        ]
        .into_iter()
        .collect();
        let look = |name: &str| targets.get(name).copied().unwrap_or_default();
        let table: &[(&[Dependency], &[&str])] = &[
            (&[], &[]),
            (&[dep("db", Condition::Ready, false)], &[]),
            (&[dep("mq", Condition::Ready, false)], &["mq: ready"]),
            (&[dep("mq", Condition::Started, false)], &[]),
            (
                &[
                    dep("migrate", Condition::Completed, false),
                    dep("cache", Condition::Started, false),
                ],
                &["cache: started"],
            ),
            (
                &[
                    dep("db", Condition::Completed, false),
                    dep("gone", Condition::Started, false),
                ],
                &["db: completed", "gone: started"],
            ),
        ];
        for (deps, want) in table {
            assert_eq!(unmet(deps, look), *want, "{deps:?}");
        }
        let deps = [
            dep("mq", Condition::Ready, false),
            dep("cache", Condition::Started, true),
        ];
        assert_eq!(
            went_down(&deps, look).map(|d| d.target.as_str()),
            Some("cache")
        );
        let deps = [
            dep("mq", Condition::Ready, false),
            dep("db", Condition::Ready, true),
        ];
        assert_eq!(went_down(&deps, look), None);
    }

    #[test]
    fn stops_go_in_reverse_dependency_order() {
        let names: Vec<String> = ["db", "web", "worker", "migrate", "lone"]
            .map(String::from)
            .to_vec();
        let depends: BTreeMap<String, Vec<String>> = [
            ("web", vec!["db", "migrate"]),
            ("worker", vec!["web"]),
            ("migrate", vec!["db"]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
        .collect();
        let rounds = stop_rounds(&names, &depends);
        assert_eq!(
            rounds,
            [
                vec!["worker", "lone"],
                vec!["web"],
                vec!["migrate"],
                vec!["db"]
            ]
        );
        let cyclic: BTreeMap<String, Vec<String>> = [
            ("a".to_string(), vec!["b".to_string()]),
            ("b".to_string(), vec!["a".to_string()]),
        ]
        .into_iter()
        .collect();
        let both = ["a", "b"].map(String::from).to_vec();
        assert_eq!(stop_rounds(&both, &cyclic), std::slice::from_ref(&both));
    }
}
