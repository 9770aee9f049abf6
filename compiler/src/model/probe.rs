//! `probe:` of an Application: how readiness is checked.

use serde::Deserialize;

/// `probe:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProbeDoc {
    /// HTTP GET check.
    pub http: Option<HttpProbeDoc>,
    /// TCP connect check.
    pub tcp: Option<TcpProbeDoc>,
    /// Command check.
    pub exec: Option<Vec<String>>,
    /// Delay before the first probe.
    pub initial_delay: Option<String>,
    /// Time between probes.
    pub period: Option<String>,
    /// Time one probe may take.
    pub timeout: Option<String>,
    /// Misses in a row before a restart.
    pub failure_threshold: Option<i64>,
}

/// `probe.http`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbeDoc {
    /// Interface name.
    pub interface: String,
    /// Request path (default `/`).
    pub path: Option<String>,
}

/// `probe.tcp`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpProbeDoc {
    /// Interface name.
    pub interface: String,
}
