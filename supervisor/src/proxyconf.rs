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

/// A backend's `HOST:PORT`, an IPv6 address in brackets.
pub fn backend(host: &str, port: u16) -> String {
    match host.parse::<std::net::Ipv6Addr>() {
        Ok(_) => format!("[{host}]:{port}"),
        Err(_) => format!("{host}:{port}"),
    }
}

/// The backends of every gateway: this host's (`local`) first, then each live peer's
/// in the order given (by host name), so the list, and the round robin, is the same on
/// every write while nothing changes.
pub fn merge<'a>(mut local: Backends, peers: impl IntoIterator<Item = &'a Backends>) -> Backends {
    for peer in peers {
        for (gateway, list) in peer {
            local
                .entry(gateway.clone())
                .or_default()
                .extend(list.iter().cloned());
        }
    }
    local
}

/// Whether the plan needs a proxy at all.
pub fn needed(plan: &Plan) -> bool {
    !plan.gateways.is_empty() || !plan.entrances.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_backends_follow_this_hosts_own() {
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let local = Backends::from([("web".to_string(), list(&["10.0.0.1:30001"]))]);
        let h2 = Backends::from([
            (
                "web".to_string(),
                list(&["10.0.0.2:30001", "10.0.0.2:30002"]),
            ),
            ("db".to_string(), list(&["10.0.0.2:30003"])),
        ]);
        let h3 = Backends::from([("web".to_string(), list(&[]))]);
        let got = merge(local.clone(), [&h2, &h3]);
        assert_eq!(
            got,
            Backends::from([
                (
                    "web".to_string(),
                    list(&["10.0.0.1:30001", "10.0.0.2:30001", "10.0.0.2:30002"])
                ),
                ("db".to_string(), list(&["10.0.0.2:30003"])),
            ])
        );
        assert_eq!(merge(local.clone(), []), local);
        assert_eq!(backend("10.0.0.1", 80), "10.0.0.1:80");
        assert_eq!(backend("fd00::1", 80), "[fd00::1]:80");
        assert_eq!(backend("h1.example", 80), "h1.example:80");
    }
}
