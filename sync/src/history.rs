//! Whether a host may be synced to a commit: no silent rollback. The host records the
//! commit it was last synced to; the operator's checkout says how that commit relates
//! to its own (git answers; this module only decides).

/// How the host's recorded commit relates to the commit being synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The host was never synced.
    Fresh,
    /// The host has this very commit.
    Same,
    /// The host's commit is an ancestor of ours: we move it forward.
    Behind,
    /// Ours is an ancestor of the host's: syncing would roll it back.
    Ahead,
    /// Neither is an ancestor of the other (or the host's commit is unknown here).
    Diverged,
}

/// What git says about the two commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// The host has a recorded commit.
    pub recorded: bool,
    /// It equals ours.
    pub same: bool,
    /// The host's commit is an ancestor of ours (`git merge-base --is-ancestor`).
    pub host_is_ancestor: bool,
    /// Ours is an ancestor of the host's.
    pub ours_is_ancestor: bool,
}

/// The relation the facts describe.
pub fn relation(f: Facts) -> Relation {
    match f {
        Facts {
            recorded: false, ..
        } => Relation::Fresh,
        Facts { same: true, .. } => Relation::Same,
        Facts {
            host_is_ancestor: true,
            ..
        } => Relation::Behind,
        Facts {
            ours_is_ancestor: true,
            ..
        } => Relation::Ahead,
        _ => Relation::Diverged,
    }
}

/// What to do with a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send what changed.
    Send,
    /// Send only if the host's files differ (same commit: normally nothing).
    Check,
    /// Refuse, with the reason to print.
    Refuse(String),
}

/// Whether to go ahead: a host that is ahead or on another history is refused unless
/// `force` (which never skips the lock).
pub fn decide(relation: Relation, force: bool, host_commit: &str) -> Decision {
    match (relation, force) {
        (Relation::Fresh | Relation::Behind, _) | (_, true) => Decision::Send,
        (Relation::Same, false) => Decision::Check,
        (Relation::Ahead, false) => Decision::Refuse(format!(
            "host is ahead (at {host_commit}, a descendant of this commit): syncing would roll it back; use --force"
        )),
        (Relation::Diverged, false) => Decision::Refuse(format!(
            "host is on another history (at {host_commit}): use --force to replace it"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(recorded: bool, same: bool, host_is_ancestor: bool, ours: bool) -> Facts {
        Facts {
            recorded,
            same,
            host_is_ancestor,
            ours_is_ancestor: ours,
        }
    }

    #[test]
    fn relations() {
        let table = [
            (facts(false, false, false, false), Relation::Fresh),
            (facts(true, true, true, true), Relation::Same),
            (facts(true, false, true, false), Relation::Behind),
            (facts(true, false, false, true), Relation::Ahead),
            (facts(true, false, false, false), Relation::Diverged),
        ];
        for (f, expected) in table {
            assert_eq!(relation(f), expected, "{f:?}");
        }
    }

    #[test]
    fn decisions() {
        use Decision::*;
        let refuse_ahead = Refuse("host is ahead (at abc, a descendant of this commit): syncing would roll it back; use --force".into());
        let refuse_other =
            Refuse("host is on another history (at abc): use --force to replace it".into());
        let table = [
            (Relation::Fresh, false, Send),
            (Relation::Behind, false, Send),
            (Relation::Same, false, Check),
            (Relation::Same, true, Send),
            (Relation::Ahead, false, refuse_ahead),
            (Relation::Ahead, true, Send),
            (Relation::Diverged, false, refuse_other),
            (Relation::Diverged, true, Send),
        ];
        for (rel, force, expected) in table {
            assert_eq!(decide(rel, force, "abc"), expected, "{rel:?} force={force}");
        }
    }
}
