//! lcc-proxy: gateways and entrances for Local Cluster, reloaded live from a config file
//! (its format, `proxy.conf`, is [`lcc_core::proxy_config`]).

mod affinity;
mod applied;
mod balancer;
mod body;
mod busy;
mod certs;
mod challenge;
mod clock;
mod conn;
mod deadline;
mod entrance;
mod forward;
mod gateway;
mod h1;
mod headers;
mod http2;
mod idle;
mod limits;
mod listeners;
mod metrics;
mod path;
mod relay;
mod reload;
mod respond;
mod routes;
mod server;
pub mod standalone;
mod tcp;
mod tls;
mod upload;
mod upstream;
mod workers;

pub use limits::Limits;
pub use listeners::{Accept, Prebound};
pub use server::{run, Options, ProxyError};
