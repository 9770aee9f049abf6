//! Several hosts (docs/hosts.md): the network-namespace harness itself, and `lcc sync`
//! to real sshds ([`crate::support::hosts`]). Every test here needs root.

mod harness;
