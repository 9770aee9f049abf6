//! lcc-sync: the parts of `lcc sync` (docs/hosts.md) that decide and that receive.
//!
//! Decisions are pure functions, tested by tables: whether a host's recorded commit
//! lets a sync go ahead ([`history`]), whether a host's lock is stale ([`lock`]), what
//! changed for a host ([`changes`]), the quoted `ssh` command line ([`ssh`]), whether
//! a host's `lcc` is recent enough ([`version`]), whether a host's peer token is
//! the checkout's ([`peer_token`]) and the words of a failure ([`reason`]).
//! [`receive`] is the host's side: a tar stream extracted into a staging directory
//! (nothing outside it, no links), then moved into the cluster directory;
//! [`state`] is what a host reports before a sync, files by [`digest`], and
//! [`request`] what the operator then asks of it on the same connection.

pub mod changes;
pub mod digest;
pub mod history;
pub mod lock;
pub mod peer_token;
pub mod reason;
pub mod receive;
pub mod request;
pub mod ssh;
pub mod state;
pub mod version;
