//! lcc-proxy: gateways and entrances for Local Cluster, reloaded live from a config file.

pub mod config;
