//! lcc-sync: the parts of `lcc sync` (docs/hosts.md) that decide and that receive.
//!
//! Decisions are pure functions, tested by tables: whether a host's recorded commit
//! lets a sync go ahead ([`history`]), whether a host's lock is stale ([`lock`]), what
//! changed for a host ([`changes`]), the quoted `ssh` command line ([`ssh`]) and whether a host's `lcc` is recent enough
//! ([`version`]). [`receive`] is the host's side: a tar stream extracted into a
//! staging directory (nothing outside it, no links), then moved into the cluster
//! directory; [`state`] is what a host reports before a sync, files by [`digest`].

pub mod changes;
pub mod digest;
pub mod history;
pub mod lock;
pub mod receive;
pub mod ssh;
pub mod state;
pub mod version;
