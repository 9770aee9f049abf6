//! Port collisions: the cluster's http listener, the fixed interface ports of the
//! applications that run on this machine, and the gateways must all differ.
//! Addresses are not compared: `127.0.0.1:9000` and `0.0.0.0:9000` collide anyway.

use crate::load::{Body, Object};
use crate::refs::{runs_here, Index};
use crate::report::Reporter;
use crate::rules;

/// Default entrance listener.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8080";

/// One use of a port.
struct Claim<'a> {
    /// The port.
    port: u16,
    /// Who uses it, for messages.
    who: String,
    /// Where it is written (none for the default http listener).
    at: Option<(&'a Object, String)>,
}

/// Reports every port used twice.
pub fn check(rep: &mut Reporter<'_>, index: &Index<'_>, objects: &[Object]) {
    let mut claims = vec![http_claim(objects)];
    claims.extend(https_claim(objects));
    for obj in objects {
        claims.extend(fixed_port_claims(rep, index, obj));
    }
    for obj in objects {
        if let Some(Body::Gateway(g)) = &obj.body {
            if let Some(port) = g.port.and_then(|p| rules::port(p).ok()) {
                let who = format!("Gateway `{}`", obj.name);
                claims.push(Claim {
                    port,
                    who,
                    at: Some((obj, "port".to_string())),
                });
            }
        }
    }
    for (i, claim) in claims.iter().enumerate() {
        let Some(first) = claims[..i].iter().find(|c| c.port == claim.port) else {
            continue;
        };
        let Some((obj, field)) = &claim.at else {
            continue;
        };
        let place = match &first.at {
            Some((o, f)) => format!(" ({})", rep.place(o, f)),
            None => String::new(),
        };
        let msg = format!(
            "port {} is already used by {}{place}",
            claim.port, first.who
        );
        rep.field(obj, field, msg);
    }
}

/// The cluster's entrance listener.
fn http_claim(objects: &[Object]) -> Claim<'_> {
    for obj in objects {
        if let Some(Body::Cluster(c)) = &obj.body {
            if let Some(http) = &c.http {
                let port = rules::listen_addr(http).map(|(_, p)| p).unwrap_or(0);
                let at = Some((obj, "http".to_string()));
                return Claim {
                    port,
                    who: "the cluster's http listener".to_string(),
                    at,
                };
            }
        }
    }
    let who = format!("the cluster's http listener (default {DEFAULT_HTTP})");
    Claim {
        port: 8080,
        who,
        at: None,
    }
}

/// The cluster's https listener, when it has one with a written address.
fn https_claim(objects: &[Object]) -> Option<Claim<'_>> {
    objects.iter().find_map(|obj| match &obj.body {
        Some(Body::Cluster(c)) => {
            let listen = c.https.as_ref()?.listen.as_ref()?;
            let port = rules::listen_addr(listen).ok()?.1;
            Some(Claim {
                port,
                who: "the cluster's https listener".to_string(),
                at: Some((obj, "https.listen".to_string())),
            })
        }
        _ => None,
    })
}

/// The fixed ports an Instance or group binds; a group of several replicas cannot
/// share a fixed port.
fn fixed_port_claims<'a>(
    rep: &mut Reporter<'_>,
    index: &Index<'_>,
    obj: &'a Object,
) -> Vec<Claim<'a>> {
    let replicas = match &obj.body {
        Some(Body::Instance(_)) => 1,
        Some(Body::Group(g)) => g.replicas.unwrap_or(1),
        _ => return Vec::new(),
    };
    let Some(app_name) = Index::app_name_of(obj) else {
        return Vec::new();
    };
    let Some(app) = index.app(app_name).filter(|a| runs_here(a)) else {
        return Vec::new();
    };
    let mut claims = Vec::new();
    for iface in &app.interfaces {
        let Some(port) = iface.port.and_then(|p| rules::port(p).ok()) else {
            continue;
        };
        if replicas > 1 {
            let msg = format!(
                "{replicas} replicas cannot share port {port}, fixed by interface `{}` of application `{app_name}`",
                iface.name
            );
            rep.field(obj, "replicas", msg);
        }
        let who = format!("interface `{}` of {} `{}`", iface.name, obj.kind, obj.name);
        claims.push(Claim {
            port,
            who,
            at: Some((obj, "app".to_string())),
        });
    }
    claims
}
