//! The proxy's config file (`proxy.conf`, YAML): the contract between the daemon that
//! writes it and the proxy that serves it (DESIGN.md, The proxy).

use serde::{Deserialize, Serialize};

/// A whole `proxy.conf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version; only `1` exists.
    pub version: u32,
    /// The entrance listener; no entrances are served without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpListener>,
    /// `/entrances/NAME/` -> gateway.
    #[serde(default)]
    pub entrances: Vec<Entrance>,
    /// Fixed listeners in front of backends.
    #[serde(default)]
    pub gateways: Vec<Gateway>,
}

/// The entrance listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpListener {
    /// `IP:PORT` to listen on.
    pub listen: String,
}

/// An entrance: a path prefix on the http listener routed to a gateway's backends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entrance {
    /// Entrance name; its prefix is `/entrances/NAME`.
    pub name: String,
    /// Name of an http gateway.
    pub gateway: String,
}

/// A gateway: a listener that spreads requests (http) or connections (tcp) over backends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Gateway name.
    pub name: String,
    /// `IP:PORT` to listen on.
    pub listen: String,
    /// `http` or `tcp`.
    pub protocol: GatewayProtocol,
    /// `HOST:PORT` of each ready backend, in order; may be empty.
    #[serde(default)]
    pub backends: Vec<String>,
}

/// How a gateway balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayProtocol {
    /// Round robin per request over pooled keep-alive connections.
    Http,
    /// Round robin per connection, bytes copied both ways.
    Tcp,
}
