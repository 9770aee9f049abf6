//! `kind: Gateway`: a fixed port in front of an instance's or a group's interface.

use serde::Deserialize;

/// `kind: Gateway`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayDoc {
    /// `Gateway`.
    pub kind: String,
    /// Gateway name.
    pub name: String,
    /// Listen port.
    pub port: Option<i64>,
    /// Listen address (default 127.0.0.1).
    pub address: Option<String>,
    /// InstanceGroup or Instance.
    pub target: Option<String>,
    /// Interface of the target's app.
    pub interface: Option<String>,
    /// The proxy's timeouts for this gateway.
    pub timeouts: Option<GatewayTimeoutsDoc>,
    /// Upstream proxies (CIDRs) whose forwarding headers the gateway keeps.
    #[serde(rename = "trustedProxies")]
    pub trusted_proxies: Option<Vec<String>>,
    /// Profiles that bring it up (`lcc up --profile P`); none: always.
    #[serde(default)]
    pub profiles: Vec<String>,
}

/// `timeouts:` of a Gateway, durations (docs/proxy.md has the defaults).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayTimeoutsDoc {
    /// A TCP connect to a backend.
    pub connect: Option<String>,
    /// A backend's response head, from the start of the request (http only).
    pub response: Option<String>,
    /// A connection to a backend with no traffic: pooled (http) or a session (tcp).
    pub idle: Option<String>,
}
