//! The applied routing state built from a config: gateways, entrances and what each
//! listen address serves. Built whole on each reload and swapped in atomically.

use crate::balancer::{Backend, Balancer};
use crate::headers::Trusted;
use crate::metrics::{Counters, Kind, Metrics};
use http::HeaderValue;
use lcc_core::proxy_config::{
    parse_listen, Cidr, Config, FieldError, GatewayProtocol, GatewayTimeouts,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// A gateway as served: its backends and counters.
#[derive(Debug)]
pub(crate) struct GatewayRt {
    /// Gateway name.
    pub(crate) name: String,
    /// Round robin over its backends.
    pub(crate) balancer: Balancer,
    /// Traffic through its own listener.
    pub(crate) counters: Arc<Counters>,
    /// Its own timeouts, over the proxy's (see [`crate::Limits::for_gateway`]).
    pub(crate) timeouts: GatewayTimeouts,
    /// The upstream proxies whose forwarding headers it keeps; `None` when it lists none.
    pub(crate) trusted: Option<Trusted>,
}

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

/// The entrances of the http listener.
#[derive(Debug, Default)]
pub(crate) struct Table {
    /// Entrances by name.
    pub(crate) entrances: HashMap<String, Arc<EntranceRt>>,
    /// `(entrance, gateway)` in config order, for the `/` listing.
    pub(crate) listing: Vec<(String, String)>,
}

/// What one listen address serves.
#[derive(Debug)]
pub(crate) enum Role {
    /// The http listener: entrances, `/`, `/_lcc/*`.
    Entrance(Arc<Table>),
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
) -> Result<Plan, FieldError> {
    let mut backends = HashMap::new();
    let mut gateways = HashMap::new();
    let mut listeners = Vec::new();
    for (i, gw) in config.gateways.iter().enumerate() {
        let list = gw
            .backends
            .iter()
            .map(|b| {
                let backend = old
                    .get(b)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(Backend::new(b, workers)));
                backends.insert(b.clone(), backend.clone());
                backend
            })
            .collect();
        let cidrs = gw
            .trusted_proxies
            .iter()
            .enumerate()
            .map(|(j, c)| {
                Cidr::parse(c).map_err(|reason| FieldError {
                    field: format!("gateways[{i}].trusted_proxies[{j}]"),
                    reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let rt = Arc::new(GatewayRt {
            name: gw.name.clone(),
            balancer: Balancer::new(list),
            counters: metrics.counters(Kind::Gateway, &gw.name),
            timeouts: gw.timeouts,
            trusted: (!cidrs.is_empty()).then(|| Trusted::new(cidrs)),
        });
        let addr = listen(&gw.listen, &format!("gateways[{i}].listen"))?;
        let role = match gw.protocol {
            GatewayProtocol::Http => Role::Http(rt.clone()),
            GatewayProtocol::Tcp => Role::Tcp(rt.clone()),
        };
        listeners.push((addr, Arc::new(role)));
        gateways.insert(gw.name.as_str(), rt);
    }
    if let Some(http) = &config.http {
        let table = entrances(config, &gateways, metrics)?;
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
        table.entrances.insert(ent.name.clone(), Arc::new(rt));
        table.listing.push((ent.name.clone(), ent.gateway.clone()));
    }
    Ok(table)
}
