//! The applied routing state built from a config: gateways, entrances and what each
//! listen address serves. Built whole on each reload and swapped in atomically.

use crate::balancer::Backend;
pub(crate) use crate::gateway::GatewayRt;
use crate::metrics::{Counters, Kind, Metrics};
use http::HeaderValue;
use lcc_core::proxy_config::{parse_listen, Config, FieldError, GatewayProtocol};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// An entrance as served.
#[derive(Debug)]
pub(crate) struct EntranceRt {
    /// The gateway whose backends it reaches.
    pub(crate) gateway: Arc<GatewayRt>,
    /// `/entrances/NAME`, ready to send as `X-Forwarded-Prefix`.
    pub(crate) prefix: HeaderValue,
    /// Traffic through the entrance.
    pub(crate) counters: Arc<Counters>,
}

/// The entrances of the http (and https) listener.
#[derive(Debug, Default, Clone)]
pub(crate) struct Table {
    /// On the http listener with `https.redirect`: the https port to send requests to.
    pub(crate) redirect: Option<u16>,
    /// On the http listener with ACME entrances: the directory of challenge answers.
    pub(crate) challenges: Option<std::path::PathBuf>,
    /// Entrances by name.
    pub(crate) entrances: HashMap<String, Arc<EntranceRt>>,
    /// `(host rule, entrance)` of the entrances with a host, in config order.
    pub(crate) hosts: Vec<(String, Arc<EntranceRt>)>,
    /// `(entrance, gateway, host)` in config order, for the `/` listing.
    pub(crate) listing: Vec<(String, String, Option<String>)>,
}

impl Table {
    /// The entrance whose host rule serves `host` (see [`lcc_core::host::select`]).
    pub(crate) fn by_host(&self, host: &str) -> Option<&Arc<EntranceRt>> {
        let rules = self.hosts.iter().map(|(rule, _)| rule.as_str());
        lcc_core::host::select(rules, host).map(|i| &self.hosts[i].1)
    }
}

/// What one listen address serves.
#[derive(Debug)]
pub(crate) enum Role {
    /// The http listener: entrances, `/`, `/_lcc/*`.
    Entrance(Arc<Table>),
    /// The https listener: the same entrances over TLS.
    Tls(Arc<Table>, Arc<rustls::ServerConfig>),
    /// An HTTP gateway: round robin per request.
    Http(Arc<GatewayRt>),
    /// A TCP gateway: round robin per connection.
    Tcp(Arc<GatewayRt>),
}

/// A config turned into listeners, ready to apply.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Every listen address and what it serves.
    pub(crate) listeners: Vec<(SocketAddr, Arc<Role>)>,
    /// Every backend by `HOST:PORT`, so the next reload keeps their pooled connections.
    pub(crate) backends: HashMap<String, Arc<Backend>>,
}

/// Builds the plan for a validated `config`, reusing `old` backends (and their pools).
pub(crate) fn build(
    config: &Config,
    old: &HashMap<String, Arc<Backend>>,
    metrics: &Metrics,
    workers: usize,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<Plan, FieldError> {
    let mut backends = HashMap::new();
    let mut gateways = HashMap::new();
    let mut listeners = Vec::new();
    for (i, gw) in config.gateways.iter().enumerate() {
        let rt = Arc::new(GatewayRt::new(i, gw, old, &mut backends, metrics, workers)?);
        let addr = listen(&gw.listen, &format!("gateways[{i}].listen"))?;
        let role = match gw.protocol {
            GatewayProtocol::Http => Role::Http(rt.clone()),
            GatewayProtocol::Tcp => Role::Tcp(rt.clone()),
        };
        listeners.push((addr, Arc::new(role)));
        gateways.insert(gw.name.as_str(), rt);
    }
    let table = entrances(config, &gateways, metrics)?;
    if let (Some(https), Some(tls)) = (&config.https, tls) {
        let addr = listen(&https.listen, "https.listen")?;
        let role = Role::Tls(Arc::new(table.clone()), tls);
        listeners.push((addr, Arc::new(role)));
    }
    if let Some(http) = &config.http {
        let mut table = table;
        table.redirect = match &config.https {
            Some(https) if https.redirect => Some(listen(&https.listen, "https.listen")?.port()),
            _ => None,
        };
        table.challenges = http.acme_challenges.clone();
        let addr = listen(&http.listen, "http.listen")?;
        listeners.push((addr, Arc::new(Role::Entrance(Arc::new(table)))));
    }
    Ok(Plan {
        listeners,
        backends,
    })
}

fn listen(text: &str, field: &str) -> Result<SocketAddr, FieldError> {
    parse_listen(text).map_err(|reason| FieldError {
        field: field.to_string(),
        reason,
    })
}

fn entrances(
    config: &Config,
    gateways: &HashMap<&str, Arc<GatewayRt>>,
    metrics: &Metrics,
) -> Result<Table, FieldError> {
    let mut table = Table::default();
    for (i, ent) in config.entrances.iter().enumerate() {
        let gateway = gateways
            .get(ent.gateway.as_str())
            .ok_or_else(|| FieldError {
                field: format!("entrances[{i}].gateway"),
                reason: format!("no gateway named {:?}", ent.gateway),
            })?;
        let prefix = format!("/entrances/{}", ent.name);
        let prefix = HeaderValue::from_str(&prefix).map_err(|_| FieldError {
            field: format!("entrances[{i}].name"),
            reason: "not usable in a header".to_string(),
        })?;
        let rt = EntranceRt {
            gateway: gateway.clone(),
            prefix,
            counters: metrics.counters(Kind::Entrance, &ent.name),
        };
        let rt = Arc::new(rt);
        if let Some(host) = &ent.host {
            table.hosts.push((host.clone(), rt.clone()));
        }
        table.entrances.insert(ent.name.clone(), rt);
        table
            .listing
            .push((ent.name.clone(), ent.gateway.clone(), ent.host.clone()));
    }
    Ok(table)
}
