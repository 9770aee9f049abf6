//! lcc-sync: the parts of `lcc sync` (docs/hosts.md) that decide and that receive.
//!
//! Decisions are pure functions, tested by tables: whether a host's recorded commit
//! lets a sync go ahead ([`history`]), whether a host's lock is stale ([`lock`]), what
//! changed for a host ([`changes`]) and the quoted `ssh` command line ([`ssh`]).
//! [`receive`] is the host's side: a tar stream extracted into a staging directory
//! (nothing outside it, no links), then moved into the cluster directory.

pub mod changes;
pub mod history;
pub mod lock;
pub mod receive;
pub mod ssh;
