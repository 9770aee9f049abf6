//! `dependsOn:` across objects: every target is an Instance or InstanceGroup, and the
//! dependencies of the cluster's Instances and groups form no cycle.
//!
//! An Instance's or group's own `dependsOn` replaces its Application's (as `probe`
//! does), so the graph is over Instances and groups; an error is reported where the
//! list is written.

use crate::load::{Body, Object};
use crate::model::{chosen, ConditionDoc, DependencyDoc};
use crate::plan::{Condition, Dependency};
use crate::refs::Index;
use crate::report::Reporter;
use std::collections::BTreeMap;

/// The `dependsOn` list that applies to an Instance or group, and the object that
/// writes it (itself or its Application).
pub(crate) fn effective<'a>(
    index: &Index<'a>,
    obj: &'a Object,
) -> Option<(&'a Object, &'a [DependencyDoc])> {
    let (own, app) = match obj.body.as_ref()? {
        Body::Instance(i) => (i.depends_on.as_deref(), i.app.as_deref()),
        Body::Group(g) => (g.depends_on.as_deref(), g.app.as_deref()),
        _ => return None,
    };
    if let Some(list) = own {
        return Some((obj, list));
    }
    let app_obj = index.get("Application", app?)?;
    match app_obj.body.as_ref()? {
        Body::Application(a) => a.depends_on.as_deref().map(|l| (app_obj, l)),
        _ => None,
    }
}

/// The plan's form of a list (targets that do not exist were reported already).
pub(crate) fn planned(list: &[DependencyDoc]) -> Vec<Dependency> {
    list.iter()
        .filter_map(|d| {
            Some(Dependency {
                target: d.target.clone()?,
                condition: match chosen(&d.condition) {
                    Some(ConditionDoc::Ready) => Condition::Ready,
                    Some(ConditionDoc::Completed) => Condition::Completed,
                    _ => Condition::Started,
                },
                restart: d.restart.unwrap_or(false),
            })
        })
        .collect()
}

/// Checks every list's items and targets where it is written, then looks for a cycle.
pub(crate) fn check(rep: &mut Reporter<'_>, index: &Index<'_>, objects: &[Object]) {
    for obj in objects {
        let list = match &obj.body {
            Some(Body::Application(a)) => a.depends_on.as_deref(),
            Some(Body::Instance(i)) => i.depends_on.as_deref(),
            Some(Body::Group(g)) => g.depends_on.as_deref(),
            _ => None,
        };
        for (i, dep) in list.unwrap_or(&[]).iter().enumerate() {
            let field = format!("dependsOn[{i}].target");
            let Some(target) = &dep.target else {
                rep.field(obj, &field, "missing field `target`");
                continue;
            };
            if index.runner(target).is_none() {
                let hint = index.hint(target, &["Instance", "InstanceGroup"]);
                rep.field(
                    obj,
                    &field,
                    format!("no InstanceGroup or Instance named `{target}`{hint}"),
                );
            }
            if let Some(c) = &dep.condition {
                if let Err(message) = &c.value {
                    rep.field(obj, &format!("dependsOn[{i}].condition"), message.clone());
                }
            }
        }
    }
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut written: BTreeMap<&str, (&Object, &[DependencyDoc])> = BTreeMap::new();
    for obj in objects
        .iter()
        .filter(|o| matches!(o.body, Some(Body::Instance(_) | Body::Group(_))))
    {
        let Some((at, list)) = effective(index, obj) else {
            continue;
        };
        let targets = list.iter().filter_map(|d| d.target.as_deref());
        graph.insert(
            &obj.name,
            targets.filter(|t| index.runner(t).is_some()).collect(),
        );
        written.insert(&obj.name, (at, list));
    }
    across_hosts(rep, objects, &graph, &written);
    if let Some(cycle) = find_cycle(&graph) {
        let (at, list) = written[cycle[0].as_str()];
        let i = list
            .iter()
            .position(|d| d.target.as_deref() == Some(cycle[1].as_str()))
            .unwrap_or(0);
        let message = format!("dependency cycle: {}", cycle.join(" -> "));
        rep.field(at, &format!("dependsOn[{i}].target"), message);
    }
}

/// On several hosts, a dependency is followed by each host's daemon among its own
/// instances: every host that runs the dependant must run some of the target.
fn across_hosts(
    rep: &mut Reporter<'_>,
    objects: &[Object],
    graph: &BTreeMap<&str, Vec<&str>>,
    written: &BTreeMap<&str, (&Object, &[DependencyDoc])>,
) {
    let hosts = crate::hosts::specs(std::path::Path::new(""), objects);
    if hosts.is_empty() {
        return;
    }
    let placed = crate::placement::placements(&hosts, objects);
    let running = |name: &str| -> &[String] {
        let replicas = objects
            .iter()
            .find_map(|o| match &o.body {
                Some(Body::Group(g)) if o.name == name => g.replicas,
                _ => None,
            })
            .unwrap_or(1);
        placed
            .iter()
            .find(|p| p.name == name)
            .map_or(&[], |p| p.running(u32::try_from(replicas).unwrap_or(0)))
    };
    for (&name, targets) in graph {
        let (at, list) = written[name];
        for &target in targets {
            let Some(missing) = running(name).iter().find(|h| !running(target).contains(h)) else {
                continue;
            };
            let i = list
                .iter()
                .position(|d| d.target.as_deref() == Some(target))
                .unwrap_or(0);
            let there = running(target).join(", ");
            let message = format!(
                "`{name}` runs on host {missing}, where nothing of `{target}` runs (it runs on {}): \
                 a dependency is followed within one host; place them together",
                if there.is_empty() { "no host" } else { &there }
            );
            rep.field(at, &format!("dependsOn[{i}].target"), message);
        }
    }
}

/// The first cycle of `graph` (name -> names it depends on), as the names along it
/// with the first repeated at the end (`a -> b -> a`), starting at its smallest name.
pub fn find_cycle(graph: &BTreeMap<&str, Vec<&str>>) -> Option<Vec<String>> {
    /// Where a node is in the depth-first search.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Mark {
        /// On the current path.
        Open,
        /// Fully explored: no cycle through it.
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = BTreeMap::new();
    for &start in graph.keys() {
        if marks.contains_key(start) {
            continue;
        }
        // Iterative DFS: (node, index of its next edge); the path is the stack.
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        marks.insert(start, Mark::Open);
        while let Some((node, next)) = stack.last_mut() {
            let edges = graph.get(node).map_or(&[][..], Vec::as_slice);
            let Some(&to) = edges.get(*next) else {
                marks.insert(node, Mark::Done);
                stack.pop();
                continue;
            };
            *next += 1;
            match marks.get(to) {
                Some(Mark::Open) => {
                    let from = stack.iter().position(|(n, _)| *n == to).unwrap_or(0);
                    let mut cycle: Vec<&str> = stack[from..].iter().map(|(n, _)| *n).collect();
                    let least = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
                    cycle.rotate_left(least);
                    cycle.push(cycle[0]);
                    return Some(cycle.into_iter().map(str::to_string).collect());
                }
                Some(Mark::Done) => {}
                None => {
                    marks.insert(to, Mark::Open);
                    stack.push((to, 0));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles() {
        /// Edges of the graph -> the cycle found.
        type Row<'a> = (&'a [(&'a str, &'a [&'a str])], Option<&'a str>);
        let table: &[Row<'_>] = &[
            (&[("a", &["b"]), ("b", &[])], None),
            (&[("a", &["a"])], Some("a -> a")),
            (
                &[("a", &["b"]), ("b", &["c"]), ("c", &["a"])],
                Some("a -> b -> c -> a"),
            ),
            (
                &[("x", &["c"]), ("c", &["b"]), ("b", &["c"])],
                Some("b -> c -> b"),
            ),
            (
                &[("a", &["b", "c"]), ("b", &["d"]), ("c", &["d"]), ("d", &[])],
                None,
            ),
            (
                &[("web", &["db", "mq"]), ("mq", &["web"]), ("db", &[])],
                Some("mq -> web -> mq"),
            ),
        ];
        for (edges, want) in table {
            let graph: BTreeMap<&str, Vec<&str>> =
                edges.iter().map(|(n, e)| (*n, e.to_vec())).collect();
            let got = find_cycle(&graph).map(|c| c.join(" -> "));
            assert_eq!(got.as_deref(), *want, "{edges:?}");
        }
    }
}
