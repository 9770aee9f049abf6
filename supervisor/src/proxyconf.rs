//! Builds `proxy.conf` from the plan and the ready backends of each gateway target.

use lcc_compiler::podspec::Protocol;
use lcc_compiler::Plan;
use lcc_core::proxy_config::{
    CertFiles, Config, Entrance, Gateway, GatewayProtocol, HttpListener, HttpsListener,
};
use std::collections::BTreeMap;

/// Ready backends (`HOST:PORT`) per gateway name.
pub type Backends = BTreeMap<String, Vec<String>>;

/// What the proxy serves for ACME: the challenge answers and the certificates obtained.
#[derive(Debug, Clone, Default)]
pub struct AcmeServed {
    /// The directory of challenge answers (absolute).
    pub challenges: std::path::PathBuf,
    /// The certificate file of each ACME entrance that has one, by entrance name.
    pub certs: BTreeMap<String, CertFiles>,
}

/// The proxy configuration for `plan` with these ready backends; `ca` is the local CA
/// that issues the https listener's certificates, when it could be made; `acme` what
/// the ACME entrances need, when there are any.
pub fn build(
    plan: &Plan,
    backends: &Backends,
    ca: Option<&CertFiles>,
    acme: Option<&AcmeServed>,
) -> Config {
    let gateways = plan
        .gateways
        .iter()
        .map(|g| Gateway {
            name: g.name.clone(),
            listen: format!("{}:{}", g.address, g.port),
            protocol: match g.protocol {
                Protocol::Http => GatewayProtocol::Http,
                Protocol::Tcp => GatewayProtocol::Tcp,
            },
            backends: backends.get(&g.name).cloned().unwrap_or_default(),
            timeouts: g.timeouts,
            trusted_proxies: g.trusted_proxies.clone(),
        })
        .collect();
    let entrances: Vec<Entrance> = plan
        .entrances
        .iter()
        .map(|e| Entrance {
            name: e.name.clone(),
            gateway: e.gateway.clone(),
            host: e.host.clone(),
            tls: e
                .tls
                .clone()
                .or_else(|| acme.and_then(|a| a.certs.get(&e.name).cloned())),
        })
        .collect();
    let has_entrances = !entrances.is_empty();
    let http = has_entrances.then(|| HttpListener {
        listen: plan.http.clone(),
        acme_challenges: acme.map(|a| a.challenges.clone()),
    });
    Config {
        version: 1,
        http,
        https: plan
            .https
            .as_ref()
            .filter(|_| has_entrances)
            .map(|h| HttpsListener {
                listen: h.listen.clone(),
                redirect: h.redirect,
                ca: ca.cloned(),
            }),
        entrances,
        gateways,
        // the proxy's defaults (docs/proxy.md)
        timeouts: None,
    }
}

/// Whether the plan needs a proxy at all.
pub fn needed(plan: &Plan) -> bool {
    !plan.gateways.is_empty() || !plan.entrances.is_empty()
}
