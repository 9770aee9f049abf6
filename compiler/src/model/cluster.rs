//! `kind: Cluster`: settings of the whole cluster.

use serde::Deserialize;

/// `kind: Cluster`: settings of the whole cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterDoc {
    /// Always `Cluster`.
    pub kind: String,
    /// Cluster name (default: the directory's name).
    pub name: Option<String>,
    /// Entrance listener `HOST:PORT`.
    pub http: Option<String>,
    /// `LO-HI` range for run-time ports.
    pub host_ports: Option<String>,
    /// The TLS entrance listener.
    pub https: Option<HttpsDoc>,
    /// The HTTP API's TCP listener (it is always on `.lcc/api.sock`).
    pub api: Option<ApiDoc>,
    /// Where each host's daemon serves the other hosts (a cluster with Hosts).
    pub peers: Option<PeersDoc>,
}

/// `Cluster.peers`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PeersDoc {
    /// The port, on each host's `address` (default [`crate::plan::DEFAULT_PEER_PORT`]).
    pub port: Option<i64>,
}

/// `Cluster.https`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpsDoc {
    /// `HOST:PORT` (default `127.0.0.1:8443`).
    pub listen: Option<String>,
    /// Answer the http listener's requests with 308 to https.
    pub redirect: Option<bool>,
}

/// `Cluster.api`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiDoc {
    /// `HOST:PORT` for the API over TCP (bearer token required).
    pub listen: Option<String>,
}
