//! lcc-supervisor: the Local Cluster daemon and the network helpers pods delegate to
//! `lcc` (probes, port allocation).

pub(crate) mod acme;
pub mod api;
pub mod control;
pub mod daemon;
pub mod dashboard;
pub(crate) mod dependencies;
pub(crate) mod groups;
pub mod hosts_view;
pub(crate) mod httpprobe;
pub(crate) mod instance;
pub mod listen_check;
pub mod lock;
pub mod peer_client;
pub mod peer_token;
pub mod peers;
pub mod podfs;
pub mod ports;
pub mod probe;
pub(crate) mod probe_grid;
pub(crate) mod proxy_restart;
pub mod proxyconf;
pub(crate) mod reaper;
pub(crate) mod reconcile;
pub(crate) mod renewal;
pub(crate) mod restart;
pub(crate) mod schedule;
pub(crate) mod source_watch;
pub mod storage;
pub mod up_wait;
pub(crate) mod watch;
