//! The daemon end to end, through the real `lcc`: adoption after `kill -9`, `lcc down`,
//! groups (rolling updates, scaling), probes, the proxy it runs, recovery from corrupted
//! state, restarts and backoff.

mod acme;
mod adopt;
mod down;
mod group;
mod https;
mod probe;
mod proxy;
mod recover;
mod restart;
mod sync_swap;
mod this_host;
