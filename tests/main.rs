//! The integration tests of `lcc`, one crate: end-to-end tests that run the real
//! binaries (`lcc`, `lcc-proxy`), real shells and real sockets on 127.0.0.1, grouped by
//! what they exercise. Run them all with `cargo test --workspace`, or a part by module
//! path: `cargo test --test main daemon::`, `cargo test --test main faults::`,
//! `UPDATE_GOLDEN=1 cargo test --test main pod::golden` (and `export::golden`).
//!
//! Every test runs in this one process, in parallel threads: the shared harness is
//! [`support`] (one cluster builder, ports below the ephemeral range from one
//! registry); no test changes the process's environment, working directory or signal
//! handling.

mod support;

mod api;
mod cli;
mod daemon;
mod dashboard;
mod demo;
mod export;
mod faults;
mod hosts;
mod pod;
mod site;
mod stack;
