//! What a group controller does next, as a pure function of the group's members:
//! keep `replicas` up to date, roll a changed template one replica at a time (the new
//! one ready before an old one goes), replace Failed members, scale down highest first.
//!
//! Naming: replicas are `<group>-<n>`; a new replica takes the lowest ordinal whose
//! pod directory does not exist, so a roll of `web-1..3` brings up `web-4..6`, and a
//! Failed `web-2` is replaced by `web-4` (or `web-2` again once its directory is gone).

use lcc_compiler::placement::Share;
use std::collections::BTreeSet;

/// One existing member of a group, as the controller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Instance name `<group>-<n>`.
    pub name: String,
    /// Built from the current template.
    pub current: bool,
    /// Ready condition holds (or the member is stopped on request: it counts as settled).
    pub ready: bool,
    /// Gave up after maxRetries.
    pub failed: bool,
    /// Already being removed (pod.state removed).
    pub removing: bool,
}

/// A step for the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create and start a replica with this name.
    Create(String),
    /// Stop and remove this member.
    Remove(String),
}

/// The ordinal of `<group>-<n>`, if `name` is one.
pub fn ordinal(group: &str, name: &str) -> Option<u32> {
    let n = name.strip_prefix(group)?.strip_prefix('-')?;
    if n.is_empty() || n.starts_with('0') || !n.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// The steps that move `members` towards `share.count` current, ready members on the
/// ordinals of `share` (every ordinal on a single machine; on several hosts, this
/// host's: docs/hosts.md). A member on an ordinal of another host counts as outdated:
/// it is replaced here only if this host is short, and goes. `taken` holds every
/// instance name that has a pod directory (of any owner).
pub fn reconcile(
    group: &str,
    share: Share,
    members: &[Member],
    taken: &BTreeSet<String>,
) -> Vec<Action> {
    let replicas = share.count;
    let mut actions = Vec::new();
    let held = |m: &Member| ordinal(group, &m.name).is_some_and(|n| share.holds(n));
    let members: Vec<Member> = members
        .iter()
        .map(|m| Member {
            current: m.current && held(m),
            ..m.clone()
        })
        .collect();
    let live: Vec<&Member> = members.iter().filter(|m| !m.removing).collect();
    for m in live.iter().filter(|m| m.failed) {
        actions.push(Action::Remove(m.name.clone()));
    }
    let by_ord =
        |v: &mut Vec<&Member>| v.sort_by_key(|m| std::cmp::Reverse(ordinal(group, &m.name)));
    let mut current: Vec<&Member> = live
        .iter()
        .copied()
        .filter(|m| !m.failed && m.current)
        .collect();
    let mut outdated: Vec<&Member> = live
        .iter()
        .copied()
        .filter(|m| !m.failed && !m.current)
        .collect();
    by_ord(&mut current);
    by_ord(&mut outdated);
    let (r, c, o) = (replicas as usize, current.len(), outdated.len());
    let mut create = 0usize;
    if c > r {
        actions.extend(outdated.iter().map(|m| Action::Remove(m.name.clone())));
        actions.extend(
            current
                .iter()
                .take(c - r)
                .map(|m| Action::Remove(m.name.clone())),
        );
    } else {
        // One replica of surge while rolling; an old one goes only when enough new
        // ones are ready to keep `replicas` serving.
        let want_total = if o == 0 { r } else { r + 1 };
        create = want_total.saturating_sub(c + o).min(r - c);
        let ready = current.iter().filter(|m| m.ready).count();
        let removable = (ready + o).saturating_sub(r).min(o);
        actions.extend(
            outdated
                .iter()
                .take(removable)
                .map(|m| Action::Remove(m.name.clone())),
        );
    }
    let mut used: BTreeSet<String> = taken.clone();
    // Scaling up fills the lowest free ordinals; a roll names its new replicas above
    // every name in use, so an old replica removed meanwhile never lends its name (and
    // its logs) to a new one, whatever the timing of the removal.
    // (A member on another host's ordinal never lends its name to this host's.)
    let rolling = outdated.iter().any(|m| held(m));
    let mut n = if rolling {
        share.next_after(
            taken
                .iter()
                .filter_map(|t| ordinal(group, t))
                .max()
                .unwrap_or(0),
        )
    } else {
        share.first
    };
    while create > 0 {
        let name = format!("{group}-{n}");
        if !used.contains(&name) {
            used.insert(name.clone());
            actions.push(Action::Create(name));
            create -= 1;
        }
        n = share.next_after(n);
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, current: bool, ready: bool) -> Member {
        Member {
            name: name.into(),
            current,
            ready,
            failed: false,
            removing: false,
        }
    }
    fn taken(ms: &[Member]) -> BTreeSet<String> {
        ms.iter().map(|m| m.name.clone()).collect()
    }

    #[test]
    fn creates_missing_replicas_at_lowest_ordinals() {
        let ms = vec![m("web-2", true, true)];
        let a = reconcile("web", Share::all(3), &ms, &taken(&ms));
        assert_eq!(
            a,
            vec![
                Action::Create("web-1".into()),
                Action::Create("web-3".into())
            ]
        );
    }

    /// The second of three hosts: ordinals 2, 5, 8, ...
    fn second_of_three(count: u32) -> Share {
        Share {
            first: 2,
            stride: 3,
            count,
        }
    }

    #[test]
    fn a_host_creates_only_its_own_ordinals() {
        let ms = vec![];
        let a = reconcile("web", second_of_three(2), &ms, &taken(&ms));
        let want = vec![
            Action::Create("web-2".into()),
            Action::Create("web-5".into()),
        ];
        assert_eq!(a, want);
    }

    #[test]
    fn a_hosts_roll_takes_its_next_ordinal() {
        let ms = vec![m("web-2", false, true), m("web-5", true, true)];
        let a = reconcile("web", second_of_three(2), &ms, &taken(&ms));
        assert_eq!(a, vec![Action::Create("web-8".into())]);
    }

    #[test]
    fn a_replica_placed_elsewhere_goes_once_replaced() {
        // web-3 is the third host's now: web-2 and web-5 come here, then web-3 goes.
        let ms = vec![m("web-3", true, true)];
        let a = reconcile("web", second_of_three(2), &ms, &taken(&ms));
        assert_eq!(
            a,
            vec![
                Action::Create("web-2".into()),
                Action::Create("web-5".into())
            ]
        );
        let ms = vec![
            m("web-2", true, true),
            m("web-3", true, true),
            m("web-5", true, true),
        ];
        let a = reconcile("web", second_of_three(2), &ms, &taken(&ms));
        assert_eq!(a, vec![Action::Remove("web-3".into())]);
        // a host that runs nothing of the group removes what it has
        let ms = vec![m("web-3", true, true)];
        let a = reconcile("web", second_of_three(0), &ms, &taken(&ms));
        assert_eq!(a, vec![Action::Remove("web-3".into())]);
    }

    #[test]
    fn scales_down_highest_first() {
        let ms = vec![
            m("web-1", true, true),
            m("web-2", true, true),
            m("web-3", true, true),
        ];
        assert_eq!(
            reconcile("web", Share::all(1), &ms, &taken(&ms)),
            vec![
                Action::Remove("web-3".into()),
                Action::Remove("web-2".into())
            ]
        );
    }

    #[test]
    fn rolls_one_at_a_time() {
        let ms = vec![m("web-1", false, true), m("web-2", false, true)];
        assert_eq!(
            reconcile("web", Share::all(2), &ms, &taken(&ms)),
            vec![Action::Create("web-3".into())]
        );
        let ms = vec![
            m("web-1", false, true),
            m("web-2", false, true),
            m("web-3", true, false),
        ];
        assert_eq!(
            reconcile("web", Share::all(2), &ms, &taken(&ms)),
            vec![],
            "waits for the new one to be ready"
        );
        let ms = vec![
            m("web-1", false, true),
            m("web-2", false, true),
            m("web-3", true, true),
        ];
        assert_eq!(
            reconcile("web", Share::all(2), &ms, &taken(&ms)),
            vec![Action::Remove("web-2".into())]
        );
        // The removed web-2's name is not reused by the roll.
        let ms = vec![m("web-1", false, true), m("web-3", true, true)];
        assert_eq!(
            reconcile("web", Share::all(2), &ms, &taken(&ms)),
            vec![Action::Create("web-4".into())]
        );
        let ms = vec![
            m("web-1", false, true),
            m("web-3", true, true),
            m("web-4", true, true),
        ];
        assert_eq!(
            reconcile("web", Share::all(2), &ms, &taken(&ms)),
            vec![Action::Remove("web-1".into())]
        );
    }

    #[test]
    fn failed_member_is_removed_and_replaced() {
        let mut f = m("web-1", true, false);
        f.failed = true;
        let ms = vec![f, m("web-2", true, true)];
        assert_eq!(
            reconcile("web", Share::all(2), &ms, &taken(&ms)),
            vec![
                Action::Remove("web-1".into()),
                Action::Create("web-3".into())
            ]
        );
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal("web", "web-12"), Some(12));
        assert_eq!(ordinal("web", "web-api-1"), None);
        assert_eq!(ordinal("web", "web-01"), None);
        assert_eq!(ordinal("web", "webx-1"), None);
    }
}
