//! lcc-proxy: gateways and entrances for Local Cluster, reloaded live from a config file.

pub mod affinity;
pub mod applied;
pub mod balancer;
pub mod body;
pub mod clock;
pub mod config;
pub mod conn;
pub mod deadline;
pub mod entrance;
pub mod forward;
pub mod h1;
pub mod headers;
pub mod idle;
pub mod limits;
pub mod listeners;
pub mod metrics;
pub mod reload;
pub mod respond;
pub mod routes;
pub mod server;
pub mod standalone;
pub mod tcp;
pub mod upstream;
pub mod workers;

pub use limits::Limits;
pub use listeners::{Accept, Prebound};
pub use server::{run, Options, ProxyError};
