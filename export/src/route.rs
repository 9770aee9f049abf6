//! Entrances -> routes to the gateway's Service, `/entrances/NAME/` with the prefix
//! stripped as the proxy strips it.
//!
//! - `gateway-api` (default): an HTTPRoute (gateway.networking.k8s.io/v1) matching
//!   PathPrefix `/entrances/NAME/`, a URLRewrite filter ReplacePrefixMatch `/`, and a
//!   parentRef to the Gateway named by `--gateway` (default `lcc`); with
//!   `--gateway-class` that Gateway is exported too (one HTTP listener on port 80);
//! - `ingress`: a networking.k8s.io/v1 Ingress (`--ingress-class`), Prefix path; an
//!   Ingress has no standard rewrite, so the prefix reaches the app unless the
//!   controller is told (a warning says so; docs/kubernetes.md shows the annotations);
//! - `none`: no route.

use crate::error::Error;
use crate::meta::Ctx;
use crate::names;
use crate::{Builder, IngressMode, Phase};
use serde_json::{json, Map, Value};

/// Adds the route of each entrance (and the Gateway when asked).
pub fn add(ctx: &Ctx<'_>, out: &mut Builder) -> Result<(), Error> {
    let mode = ctx.options.ingress;
    if mode == IngressMode::None {
        return Ok(());
    }
    if mode == IngressMode::GatewayApi {
        if let Some(class) = &ctx.options.gateway_class {
            gateway(ctx, class, out);
        }
    }
    if mode == IngressMode::Ingress && !ctx.plan.entrances.is_empty() {
        out.warn("entrances: an Ingress has no standard way to strip `/entrances/NAME`; configure your controller's rewrite (docs/kubernetes.md), or use the default `--ingress gateway-api`".to_string());
    }
    for entrance in &ctx.plan.entrances {
        names::dns_subdomain(
            &format!("name of Entrance/{}", entrance.name),
            &entrance.name,
        )?;
        let Some(gw) = ctx
            .plan
            .gateways
            .iter()
            .find(|g| g.name == entrance.gateway)
        else {
            continue;
        };
        let app = ctx
            .target(&gw.target)
            .map_or(gw.target.as_str(), |t| t.spec.app.as_str());
        let meta = ctx.metadata(&entrance.name, app, &gw.target);
        let prefix = format!("/entrances/{}/", entrance.name);
        let route = match mode {
            IngressMode::GatewayApi => json!({
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": meta,
                "spec": {
                    "parentRefs": [{"name": ctx.gateway}],
                    "rules": [{
                        "matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
                        "filters": [{
                            "type": "URLRewrite",
                            "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
                        }],
                        "backendRefs": [{"name": gw.name, "port": gw.port}],
                    }],
                },
            }),
            _ => {
                let mut spec = Map::new();
                if let Some(class) = &ctx.options.ingress_class {
                    spec.insert("ingressClassName".into(), json!(class));
                }
                spec.insert(
                    "rules".into(),
                    json!([{"http": {"paths": [{
                        "path": prefix,
                        "pathType": "Prefix",
                        "backend": {"service": {"name": gw.name, "port": {"number": gw.port}}},
                    }]}}]),
                );
                json!({
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "Ingress",
                    "metadata": meta,
                    "spec": Value::Object(spec),
                })
            }
        };
        let kind = if mode == IngressMode::GatewayApi {
            "HTTPRoute"
        } else {
            "Ingress"
        };
        out.push(Phase::Route, kind, &entrance.name, route);
    }
    Ok(())
}

/// The Gateway the HTTPRoutes attach to.
fn gateway(ctx: &Ctx<'_>, class: &str, out: &mut Builder) {
    let gateway = json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": ctx.metadata(ctx.gateway, &ctx.plan.name, ctx.gateway),
        "spec": {
            "gatewayClassName": class,
            "listeners": [{
                "name": "http",
                "protocol": "HTTP",
                "port": 80,
                "allowedRoutes": {"namespaces": {"from": "Same"}},
            }],
        },
    });
    out.push(Phase::Gateway, "Gateway", ctx.gateway, gateway);
}
