//! lcc-supervisor: the Local Cluster daemon and the network helpers pods delegate to
//! `lcc` (probes, port allocation).

pub mod backoff;
mod compat;
pub mod control;
pub mod daemon;
pub mod groups;
pub mod httpprobe;
pub mod instance;
pub mod lock;
pub mod podfs;
pub mod ports;
pub mod probe;
pub mod proxyconf;
pub mod reaper;
pub mod storage;
pub mod watch;
