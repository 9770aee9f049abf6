//! The http listener: a request for an entrance's host routed whole to its gateway;
//! any other, `/entrances/NAME/...` routed to gateways, the `/` listing and the
//! `/_lcc/health` and `/_lcc/metrics` endpoints.

use crate::body::{DownBody, UpBody};
use crate::conn::ConnCtx;
use crate::forward::{self, Handling, Target, Via};
use crate::path;
use crate::respond;
use crate::routes::Table;
use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode};
use std::fmt::Write as _;

/// Routes one request on the http listener, or answers it.
pub(crate) fn handle(req: Request<UpBody>, table: &Table, ctx: &ConnCtx) -> Handling {
    // routed on the path without its dot segments: `/entrances/a/../b/` is entrance b's
    let path = match path::normalise(req.uri().path()) {
        Ok(path) => path,
        Err(e) => return respond::text(StatusCode::BAD_REQUEST, &e.to_string()).into(),
    };
    // before the redirect: a CA validates HTTP-01 over plain http
    if let Some(dir) = &table.challenges {
        if let Some(token) = path.strip_prefix(lcc_core::acme_challenge::PREFIX) {
            return crate::challenge::answer(dir, token).into();
        }
    }
    if let Some(port) = table.redirect {
        if let Some(resp) = to_https(&req, &path, port) {
            return resp.into();
        }
    }
    // without host rules, no lower-cased copy of the Host per request
    let by_host = match table.hosts.is_empty() {
        true => None,
        false => host_of(&req).and_then(|h| table.by_host(&h)),
    };
    if let Some(entrance) = by_host {
        // the host is the application's whole: nothing is stripped, no prefix is sent
        let path = match req.uri().query() {
            Some(q) => PathAndQuery::try_from(format!("{path}?{q}")),
            None => PathAndQuery::try_from(&*path),
        };
        let Ok(path) = path else {
            return respond::text(StatusCode::BAD_REQUEST, "bad path").into();
        };
        let target = Target {
            via: Via::Entrance(entrance.clone()),
            prefix: None,
            trusted: None,
            path: Some(path),
        };
        return forward::prepare(req, target, ctx);
    }
    let Some(rest) = path.strip_prefix("/entrances/") else {
        return local(&req, &path, table, ctx).into();
    };
    let (name, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None if rest.is_empty() => ("", "/"),
        None => {
            let mut location = format!("{path}/");
            if let Some(q) = req.uri().query() {
                location.push('?');
                location.push_str(q);
            }
            return respond::redirect(&location).into();
        }
    };
    let Some(entrance) = table.entrances.get(name) else {
        let missing = format!("no entrance named {name:?}");
        return respond::text(StatusCode::NOT_FOUND, &missing).into();
    };
    let path = match req.uri().query() {
        Some(q) => PathAndQuery::try_from(format!("{tail}?{q}")),
        None => PathAndQuery::try_from(tail),
    };
    let Ok(path) = path else {
        return respond::text(StatusCode::BAD_REQUEST, "bad path").into();
    };
    let target = Target {
        via: Via::Entrance(entrance.clone()),
        prefix: Some(&entrance.prefix),
        // the http listener is the clients' own: no upstream proxy is trusted there
        trusted: None,
        path: Some(path),
    };
    forward::prepare(req, target, ctx)
}

/// With `https.redirect`: 308 to the same URL on the https listener's `port`, for every
/// request but the proxy's own `/_lcc/` ones (the daemon's health checks) and one with
/// no host to send it to.
fn to_https(req: &Request<UpBody>, path: &str, port: u16) -> Option<Response<DownBody>> {
    if path.starts_with("/_lcc/") {
        return None;
    }
    let authority = match req.uri().authority() {
        Some(a) => a.as_str(),
        None => req.headers().get(header::HOST)?.to_str().ok()?,
    };
    // the host without its port, brackets of an IPv6 literal kept
    let host = match authority.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.is_empty() => h,
        _ => authority,
    };
    let mut location = match port {
        443 => format!("https://{host}{path}"),
        _ => format!("https://{host}:{port}{path}"),
    };
    if let Some(q) = req.uri().query() {
        location.push('?');
        location.push_str(q);
    }
    Some(respond::redirect(&location))
}

/// The host a request is for: its URI's authority (HTTP/2, absolute form), else its
/// `Host` header.
fn host_of(req: &Request<UpBody>) -> Option<String> {
    let authority = match req.uri().authority() {
        Some(a) => a.as_str(),
        None => req.headers().get(header::HOST)?.to_str().ok()?,
    };
    lcc_core::host::of_authority(authority)
}

fn local(req: &Request<UpBody>, path: &str, table: &Table, ctx: &ConnCtx) -> Response<DownBody> {
    match path {
        "/" => listing(req, table),
        "/_lcc/health" => respond::text(StatusCode::OK, "ok"),
        "/_lcc/metrics" => respond::with_type(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            ctx.shared.metrics.render(),
        ),
        _ => respond::text(
            StatusCode::NOT_FOUND,
            "not found; entrances are under /entrances/",
        ),
    }
}

/// `:PORT` of the address the request came to (from its `Host`), for links to
/// entrance hosts on the same listener; empty when it has none.
fn local_port(req: &Request<UpBody>) -> String {
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str())
        .or_else(|| req.headers().get(header::HOST)?.to_str().ok())
        .unwrap_or("");
    match authority.rsplit_once(':') {
        Some((_, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            format!(":{port}")
        }
        _ => String::new(),
    }
}

fn wants_json(req: &Request<UpBody>) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// `GET /`: the entrances, as JSON or as an HTML page (names are validated, no escaping needed).
fn listing(req: &Request<UpBody>, table: &Table) -> Response<DownBody> {
    if wants_json(req) {
        let list: Vec<_> = table
            .listing
            .iter()
            .map(|(name, gateway, host)| {
                serde_json::json!({"name": name, "gateway": gateway, "host": host, "path": format!("/entrances/{name}/")})
            })
            .collect();
        let body = serde_json::json!({ "entrances": list }).to_string();
        return respond::with_type(StatusCode::OK, "application/json", body);
    }
    let mut html = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>lcc entrances</title></head>\n<body><h1>Entrances</h1>\n<ul>\n",
    );
    let port = local_port(req);
    for (name, gateway, host) in &table.listing {
        let _ = write!(
            html,
            "<li><a href=\"/entrances/{name}/\">{name}</a> (gateway {gateway})"
        );
        // host names are validated: no escaping needed either
        match host {
            Some(host) if !host.starts_with("*.") => {
                let _ = write!(html, ", <a href=\"//{host}{port}/\">{host}</a>");
            }
            Some(host) => {
                let _ = write!(html, ", {host}");
            }
            None => {}
        }
        html.push_str("</li>\n");
    }
    html.push_str("</ul>\n</body></html>\n");
    let mut resp = respond::with_type(StatusCode::OK, "text/html; charset=utf-8", html);
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    resp
}
