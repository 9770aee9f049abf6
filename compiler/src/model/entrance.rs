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

/// `Entrance.tls`: PEM files, relative to the cluster directory, or an ACME account
/// that obtains and renews the certificate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntranceTlsDoc {
    /// The certificate chain (leaf first).
    pub cert: Option<String>,
    /// Its private key.
    pub key: Option<String>,
    /// Obtain the certificate from an ACME CA (RFC 8555, HTTP-01) instead.
    pub acme: Option<AcmeDoc>,
}

/// `Entrance.tls.acme`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeDoc {
    /// The CA's directory URL (`https://acme-v02.api.letsencrypt.org/directory`).
    pub directory: Option<String>,
    /// The account's contact address.
    pub email: Option<String>,
    /// A PEM file of roots to trust for the directory's own https (a test CA such as
    /// pebble's), relative to the cluster directory; the system's roots otherwise.
    pub ca: Option<String>,
}
