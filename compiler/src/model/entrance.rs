//! `kind: Entrance`: a path (and optionally a host name) on the cluster's http listener
//! to a gateway.

use serde::Deserialize;

/// `kind: Entrance`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntranceDoc {
    /// `Entrance`.
    pub kind: String,
    /// Entrance name.
    pub name: String,
    /// The gateway it forwards to.
    pub gateway: Option<String>,
    /// The host name routed to the gateway from `/` (`docs.localhost`, `*.localhost`).
    pub host: Option<String>,
    /// The certificate served for `host` on the https listener.
    pub tls: Option<EntranceTlsDoc>,
}

/// `Entrance.tls`: PEM files, relative to the cluster directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntranceTlsDoc {
    /// The certificate chain (leaf first).
    pub cert: Option<String>,
    /// Its private key.
    pub key: Option<String>,
}
