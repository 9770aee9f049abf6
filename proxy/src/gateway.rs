//! A gateway as the proxy serves it: round robin over its backends (whose pooled
//! connections a reload keeps), its counters, its own timeouts and the upstream proxies
//! whose forwarding headers it keeps. Built from `proxy.conf` on each reload.

use crate::balancer::{Backend, Balancer};
use crate::headers::Trusted;
use crate::metrics::{Counters, Kind, Metrics};
use lcc_core::proxy_config::{Cidr, FieldError, Gateway, GatewayTimeouts};
use std::collections::HashMap;
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

impl GatewayRt {
    /// Gateway number `i` of the config: its backends taken from `old` when they were
    /// there (else made), and recorded in `backends` for the next reload.
    pub(crate) fn new(
        i: usize,
        gw: &Gateway,
        old: &HashMap<String, Arc<Backend>>,
        backends: &mut HashMap<String, Arc<Backend>>,
        metrics: &Metrics,
        workers: usize,
    ) -> Result<GatewayRt, FieldError> {
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
        Ok(GatewayRt {
            name: gw.name.clone(),
            balancer: Balancer::new(list),
            counters: metrics.counters(Kind::Gateway, &gw.name),
            timeouts: gw.timeouts,
            trusted: (!cidrs.is_empty()).then(|| Trusted::new(cidrs)),
        })
    }
}
