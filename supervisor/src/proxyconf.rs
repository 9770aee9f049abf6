//! Builds `proxy.conf` from the plan and the ready backends of each gateway target.

use lcc_compiler::podspec::Protocol;
use lcc_compiler::Plan;
use lcc_core::proxy_config::{Config, Entrance, Gateway, GatewayProtocol, HttpListener};
use std::collections::BTreeMap;

/// Ready backends (`HOST:PORT`) per gateway name.
pub type Backends = BTreeMap<String, Vec<String>>;

/// The proxy configuration for `plan` with these ready backends.
pub fn build(plan: &Plan, backends: &Backends) -> Config {
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
        })
        .collect();
    let http = (!entrances.is_empty()).then(|| HttpListener {
        listen: plan.http.clone(),
    });
    Config {
        version: 1,
        http,
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
