//! The http listener: `/entrances/NAME/...` routed to gateways, the `/` listing and the
//! `/_lcc/health` and `/_lcc/metrics` endpoints.

use crate::body::DownBody;
use crate::conn::ConnCtx;
use crate::forward::{forward, Target};
use crate::path;
use crate::respond;
use crate::routes::Table;
use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use std::fmt::Write as _;

/// Answers one request on the http listener.
pub(crate) async fn handle(
    req: Request<Incoming>,
    table: &Table,
    ctx: &ConnCtx,
) -> Response<DownBody> {
    // routed on the path without its dot segments: `/entrances/a/../b/` is entrance b's
    let path = match path::normalise(req.uri().path()) {
        Ok(path) => path,
        Err(e) => return respond::text(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let Some(rest) = path.strip_prefix("/entrances/") else {
        return local(&req, &path, table, ctx);
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
            return respond::redirect(&location);
        }
    };
    let Some(entrance) = table.entrances.get(name) else {
        return respond::text(
            StatusCode::NOT_FOUND,
            &format!("no entrance named {name:?}"),
        );
    };
    let path = match req.uri().query() {
        Some(q) => PathAndQuery::try_from(format!("{tail}?{q}")),
        None => PathAndQuery::try_from(tail),
    };
    let Ok(path) = path else {
        return respond::text(StatusCode::BAD_REQUEST, "bad path");
    };
    let target = Target {
        gateway: &entrance.gateway,
        counters: &entrance.counters,
        prefix: Some(&entrance.prefix),
        // the http listener is the clients' own: no upstream proxy is trusted there
        trusted: None,
        path: Some(path),
    };
    forward(req, target, ctx).await
}

fn local(req: &Request<Incoming>, path: &str, table: &Table, ctx: &ConnCtx) -> Response<DownBody> {
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

fn wants_json(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// `GET /`: the entrances, as JSON or as an HTML page (names are validated, no escaping needed).
fn listing(req: &Request<Incoming>, table: &Table) -> Response<DownBody> {
    if wants_json(req) {
        let list: Vec<_> = table
            .listing
            .iter()
            .map(|(name, gateway)| {
                serde_json::json!({"name": name, "gateway": gateway, "path": format!("/entrances/{name}/")})
            })
            .collect();
        let body = serde_json::json!({ "entrances": list }).to_string();
        return respond::with_type(StatusCode::OK, "application/json", body);
    }
    let mut html = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>lcc entrances</title></head>\n<body><h1>Entrances</h1>\n<ul>\n",
    );
    for (name, gateway) in &table.listing {
        let _ = writeln!(
            html,
            "<li><a href=\"/entrances/{name}/\">{name}</a> (gateway {gateway})</li>"
        );
    }
    html.push_str("</ul>\n</body></html>\n");
    let mut resp = respond::with_type(StatusCode::OK, "text/html; charset=utf-8", html);
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    resp
}
