//! lcc-supervisor: the Local Cluster daemon and the network helpers pods delegate to
//! `lcc` (probes, port allocation).

pub mod ports;
pub mod probe;
