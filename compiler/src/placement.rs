//! Static placement of Instances and InstanceGroups on Hosts (docs/hosts.md): which
//! hosts are eligible, and which one runs what. No scheduler: the choice is a pure
//! function of the names, so every machine that reads the manifests agrees on it and
//! replica n lands on the same host on every sync.
//!
//! Rendezvous (highest random weight) hashing: each (object, host) pair gets a
//! stable score and the object goes to the eligible host with the highest one. A host
//! that joins or leaves moves only the objects that pick or picked it; the others
//! stay where they are while their host stays eligible.

use crate::hosts::HostSpec;
use crate::load::{Body, Object};
use crate::model::PlacementDoc;
use crate::report::Reporter;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where one Instance or InstanceGroup runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placed {
    /// Instance or group name.
    pub name: String,
    /// Whether it is an InstanceGroup.
    pub group: bool,
    /// The hosts in preference order: an Instance runs on the first; replica n of a
    /// group on `hosts[(n - 1) % len]`.
    pub hosts: Vec<String>,
}

impl Placed {
    /// The host of replica `n` (1-based) of a group, or of the Instance (any `n`).
    pub fn replica_host(&self, n: u32) -> &str {
        if self.hosts.is_empty() {
            return "";
        }
        let i = if self.group {
            (n.max(1) as usize - 1) % self.hosts.len()
        } else {
            0
        };
        &self.hosts[i]
    }

    /// The hosts that run it: an Instance's first; a group's first `replicas`.
    pub fn running(&self, replicas: u32) -> &[String] {
        let n = if self.group { replicas as usize } else { 1 };
        &self.hosts[..n.min(self.hosts.len())]
    }

    /// The replicas of this group that `host` runs out of `replicas` (none for a host
    /// that is not eligible, or `None`: a machine that is no host of the cluster).
    pub fn share(&self, host: Option<&str>, replicas: u32) -> Share {
        let Some(i) = host.and_then(|h| self.hosts.iter().position(|x| x == h)) else {
            return Share::none();
        };
        let (first, stride) = (i as u32 + 1, self.hosts.len() as u32);
        let count = if replicas >= first {
            (replicas - first) / stride + 1
        } else {
            0
        };
        Share {
            first,
            stride,
            count,
        }
    }
}

/// The replicas of a group one host runs: ordinals `first`, `first + stride`, ...;
/// `count` of them while the group has its manifest's (or `lcc scale`'s) replicas. A
/// rolling update's extra replicas take further ordinals of the same sequence, so they
/// never take a name another host may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// The lowest ordinal of the host.
    pub first: u32,
    /// The step between its ordinals (the number of eligible hosts).
    pub stride: u32,
    /// How many replicas it runs.
    pub count: u32,
}

impl Share {
    /// Every replica (a single-machine cluster).
    pub fn all(replicas: u32) -> Share {
        Share {
            first: 1,
            stride: 1,
            count: replicas,
        }
    }

    /// No replica.
    pub fn none() -> Share {
        Share {
            first: 1,
            stride: 1,
            count: 0,
        }
    }

    /// Whether ordinal `n` is one of this host's.
    pub fn holds(&self, n: u32) -> bool {
        n >= self.first && (n - self.first) % self.stride.max(1) == 0
    }

    /// This host's lowest ordinal above `n`.
    pub fn next_after(&self, n: u32) -> u32 {
        let stride = self.stride.max(1);
        if n < self.first {
            return self.first;
        }
        self.first + ((n - self.first) / stride + 1) * stride
    }
}

/// The constraints of a `placement:`, as plain values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Constraint {
    /// Required region.
    pub region: Option<String>,
    /// Allowed host names (empty: any).
    pub hosts: Vec<String>,
    /// Required labels.
    pub labels: Vec<(String, String)>,
}

impl Constraint {
    /// The constraint of an optional `placement:`.
    pub fn of(doc: Option<&PlacementDoc>) -> Self {
        let Some(doc) = doc else {
            return Constraint::default();
        };
        Constraint {
            region: doc.region.clone(),
            hosts: doc.hosts.clone().unwrap_or_default(),
            labels: doc.labels.clone().map(|l| l.0).unwrap_or_default(),
        }
    }

    /// Whether an active host satisfies it.
    pub fn admits(&self, host: &HostSpec) -> bool {
        host.active
            && self
                .region
                .as_ref()
                .is_none_or(|r| host.region.as_ref() == Some(r))
            && (self.hosts.is_empty() || self.hosts.contains(&host.name))
            && self
                .labels
                .iter()
                .all(|(k, v)| host.labels.iter().any(|(hk, hv)| hk == k && hv == v))
    }

    /// The constraint in words, for messages: `region `eu`, labels disk=ssd`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(region) = &self.region {
            parts.push(format!("region `{region}`"));
        }
        if !self.hosts.is_empty() {
            parts.push(format!("hosts {}", self.hosts.join(", ")));
        }
        if !self.labels.is_empty() {
            let labels: Vec<String> = self
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            parts.push(format!("labels {}", labels.join(", ")));
        }
        if parts.is_empty() {
            "no constraint".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// The eligible hosts of `name` in preference order (highest score first; names break
/// ties, so the order is total).
pub fn rank<'h>(name: &str, hosts: &'h [HostSpec], constraint: &Constraint) -> Vec<&'h HostSpec> {
    let mut eligible: Vec<&HostSpec> = hosts.iter().filter(|h| constraint.admits(h)).collect();
    eligible.sort_by(|a, b| {
        score(name, &b.name)
            .cmp(&score(name, &a.name))
            .then_with(|| a.name.cmp(&b.name))
    });
    eligible
}

/// The stable score of an (object, host) pair: FNV-1a 64 of `object \0 host`, mixed
/// by a final avalanche so that similar names spread. Written out, not `std`'s
/// hasher, whose output may change between Rust releases.
pub fn score(object: &str, host: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in object.bytes().chain([0]).chain(host.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // splitmix64's finaliser
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The placement of every Instance and InstanceGroup (none without hosts).
pub(crate) fn placements(hosts: &[HostSpec], objects: &[Object]) -> Vec<Placed> {
    if hosts.is_empty() {
        return Vec::new();
    }
    let mut placed = Vec::new();
    for obj in objects {
        let (doc, group) = match &obj.body {
            Some(Body::Instance(i)) => (i.placement.as_ref(), false),
            Some(Body::Group(g)) => (g.placement.as_ref(), true),
            _ => continue,
        };
        let ranked = rank(&obj.name, hosts, &Constraint::of(doc));
        placed.push(Placed {
            name: obj.name.clone(),
            group,
            hosts: ranked.iter().map(|h| h.name.clone()).collect(),
        });
    }
    placed
}

/// Checks every `placement:`: its values, its host names, and that some host is
/// eligible for every Instance and group once there are Hosts.
pub(crate) fn check(rep: &mut Reporter<'_>, objects: &[Object]) {
    let hosts = crate::hosts::specs(Path::new(""), objects);
    let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    for obj in objects {
        let doc = match &obj.body {
            Some(Body::Instance(i)) => i.placement.as_ref(),
            Some(Body::Group(g)) => g.placement.as_ref(),
            _ => continue,
        };
        if hosts.is_empty() {
            if doc.is_some() {
                let message =
                    "`placement` needs Host documents: without them everything runs on this machine";
                rep.key(obj, "placement", message);
            }
            continue;
        }
        let mut known = true;
        if let Some(doc) = doc {
            if let Some(region) = &doc.region {
                if let Err(m) = crate::rules::name(region) {
                    rep.field(obj, "placement.region", format!("region: {m}"));
                }
            }
            for (key, value) in doc.labels.iter().flat_map(|l| &l.0) {
                if let Err(m) = crate::hosts::label(key, value) {
                    rep.field(obj, &format!("placement.labels.{key}"), m);
                }
            }
            for (i, host) in doc.hosts.iter().flatten().enumerate() {
                if !names.contains(&host.as_str()) {
                    known = false;
                    let hint = crate::rules::did_you_mean(host, names.iter().copied());
                    let message = format!("no Host `{host}`{hint}");
                    rep.field(obj, &format!("placement.hosts[{i}]"), message);
                }
            }
        }
        let constraint = Constraint::of(doc);
        if known && rank(&obj.name, &hosts, &constraint).is_empty() {
            let message = no_host_message(&constraint, &hosts);
            match doc {
                Some(_) => rep.field(obj, "placement", message),
                None => rep.field(obj, "name", message),
            }
        }
    }
}

/// Why nothing is eligible: the constraint, and the hosts there are.
pub fn no_host_message(constraint: &Constraint, hosts: &[HostSpec]) -> String {
    let list: Vec<String> = hosts
        .iter()
        .map(|h| {
            let mut about = Vec::new();
            if let Some(region) = &h.region {
                about.push(format!("region {region}"));
            }
            about.extend(h.labels.iter().map(|(k, v)| format!("{k}={v}")));
            if !h.active {
                about.push("inactive".to_string());
            }
            if about.is_empty() {
                h.name.clone()
            } else {
                format!("{} ({})", h.name, about.join(", "))
            }
        })
        .collect();
    format!(
        "no active Host matches the placement ({}); the hosts are: {}",
        constraint.describe(),
        list.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host with a region, labels and state.
    fn host(name: &str, region: &str, labels: &[(&str, &str)], active: bool) -> HostSpec {
        HostSpec {
            name: name.to_string(),
            address: format!("{name}.example"),
            ssh: Default::default(),
            dir: "/srv/lcc".to_string(),
            region: (!region.is_empty()).then(|| region.to_string()),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            active,
        }
    }

    #[test]
    fn a_groups_share_of_each_host() {
        let placed = Placed {
            name: "web".into(),
            group: true,
            hosts: vec!["b".into(), "a".into(), "c".into()],
        };
        /// (host, replicas) -> (first, stride, count)
        type Row<'a> = (Option<&'a str>, u32, (u32, u32, u32));
        let table: &[Row<'_>] = &[
            (Some("b"), 5, (1, 3, 2)), // web-1, web-4
            (Some("a"), 5, (2, 3, 2)), // web-2, web-5
            (Some("c"), 5, (3, 3, 1)), // web-3
            (Some("c"), 2, (3, 3, 0)),
            (Some("a"), 0, (2, 3, 0)),
            (Some("x"), 5, (1, 1, 0)), // not eligible
            (None, 5, (1, 1, 0)),      // not a host of the cluster
        ];
        for &(host, replicas, (first, stride, count)) in table {
            let want = Share {
                first,
                stride,
                count,
            };
            assert_eq!(placed.share(host, replicas), want, "{host:?} of {replicas}");
        }
        // every replica has exactly one host
        for n in 1..=9 {
            let holders: Vec<&str> = ["a", "b", "c"]
                .into_iter()
                .filter(|h| placed.share(Some(h), 9).holds(n))
                .collect();
            assert_eq!(holders, [placed.replica_host(n)], "replica {n}");
        }
    }

    #[test]
    fn the_next_ordinal_of_a_share() {
        let share = Share {
            first: 2,
            stride: 3,
            count: 2,
        };
        let table = [(0, 2), (1, 2), (2, 5), (3, 5), (4, 5), (5, 8), (7, 8)];
        for (n, next) in table {
            assert_eq!(share.next_after(n), next, "after {n}");
        }
        assert_eq!(Share::all(3).next_after(3), 4);
    }

    fn hosts() -> Vec<HostSpec> {
        vec![
            host("eu-1", "eu", &[("disk", "ssd")], true),
            host("eu-2", "eu", &[("disk", "hdd")], true),
            host("us-1", "us", &[("disk", "ssd")], true),
            host("us-2", "us", &[], false),
        ]
    }

    fn constraint(region: Option<&str>, names: &[&str], labels: &[(&str, &str)]) -> Constraint {
        Constraint {
            region: region.map(str::to_string),
            hosts: names.iter().map(|s| s.to_string()).collect(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn eligibility_by_region_hosts_labels_and_state() {
        let hosts = hosts();
        let table: [(Constraint, &[&str]); 7] = [
            (constraint(None, &[], &[]), &["eu-1", "eu-2", "us-1"]),
            (constraint(Some("eu"), &[], &[]), &["eu-1", "eu-2"]),
            (constraint(Some("us"), &[], &[]), &["us-1"]),
            (constraint(None, &[], &[("disk", "ssd")]), &["eu-1", "us-1"]),
            (constraint(Some("eu"), &[], &[("disk", "ssd")]), &["eu-1"]),
            (constraint(None, &["eu-2", "us-2"], &[]), &["eu-2"]),
            (constraint(Some("asia"), &[], &[]), &[]),
        ];
        for (c, expected) in table {
            let mut got: Vec<&str> = rank("x", &hosts, &c)
                .iter()
                .map(|h| h.name.as_str())
                .collect();
            got.sort_unstable();
            assert_eq!(got, expected, "{}", c.describe());
        }
    }

    #[test]
    fn scores_are_stable_across_releases() {
        // pinned: a change here would move instances between hosts on the next sync
        let hosts = hosts();
        let table = [
            ("api", "us-1"),
            ("web", "eu-2"),
            ("db", "us-1"),
            ("cache", "us-1"),
            ("web-2", "eu-1"),
        ];
        let got: Vec<(&str, String)> = table
            .iter()
            .map(|(name, _)| {
                (
                    *name,
                    rank(name, &hosts, &Constraint::default())[0].name.clone(),
                )
            })
            .collect();
        let expected: Vec<(&str, String)> =
            table.iter().map(|(n, h)| (*n, h.to_string())).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn removing_a_host_moves_only_what_it_ran() {
        let all = hosts();
        let fewer: Vec<HostSpec> = all.iter().filter(|h| h.name != "eu-2").cloned().collect();
        for i in 0..200 {
            let name = format!("app-{i}");
            let before = rank(&name, &all, &Constraint::default())[0].name.clone();
            let after = rank(&name, &fewer, &Constraint::default())[0].name.clone();
            if before != "eu-2" {
                assert_eq!(before, after, "{name} moved");
            }
        }
    }

    #[test]
    fn a_group_spreads_its_replicas_evenly_and_stably() {
        let hosts = hosts();
        let order: Vec<String> = rank("web", &hosts, &Constraint::default())
            .iter()
            .map(|h| h.name.clone())
            .collect();
        let placed = Placed {
            name: "web".to_string(),
            group: true,
            hosts: order.clone(),
        };
        let on: Vec<&str> = (1..=6).map(|n| placed.replica_host(n)).collect();
        let expected: Vec<&str> = order.iter().chain(&order).map(String::as_str).collect();
        assert_eq!(on, expected);
        let mut once: Vec<&str> = on[..3].to_vec();
        once.sort_unstable();
        assert_eq!(once, ["eu-1", "eu-2", "us-1"], "3 replicas on 3 hosts");
    }

    #[test]
    fn the_message_names_the_constraint_and_the_hosts() {
        let c = constraint(Some("eu"), &[], &[("gpu", "yes")]);
        assert_eq!(
            no_host_message(&c, &hosts()),
            "no active Host matches the placement (region `eu`, labels gpu=yes); the hosts are: eu-1 (region eu, disk=ssd); eu-2 (region eu, disk=hdd); us-1 (region us, disk=ssd); us-2 (region us, inactive)"
        );
    }
}
