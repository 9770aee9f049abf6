//! Several hosts (docs/hosts.md): the network-namespace harness itself, `lcc sync` to
//! real sshds ([`crate::support::hosts`]), gateways and the one view across hosts
//! (`peers`). Every test here needs root.

mod harness;
mod peers;
mod sync;
