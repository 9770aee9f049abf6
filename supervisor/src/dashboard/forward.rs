//! Forwarding `/api/v1/clusters/{id}/…` to that cluster's API over its Unix socket: the
//! request goes as it came (method, query, body, `Accept`, `Last-Event-ID`) with the
//! cluster's own path, and the answer streams back as it comes, so event streams and
//! followed logs are live through the dashboard too.

use super::Reply;
use crate::api::problem::Problem;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{header, Request, StatusCode};
use hyper_util::rt::TokioIo;
use lcc_core::registry::Entry;

/// Headers that belong to one connection, or to the dashboard, not to the cluster.
const NOT_FORWARDED: &[header::HeaderName] = &[
    header::CONNECTION,
    header::AUTHORIZATION,
    header::UPGRADE,
    header::TE,
    header::TRAILER,
    header::PROXY_AUTHORIZATION,
];

/// Sends `req` to `entry`'s API as `path` (plus the request's query).
pub(crate) async fn to_cluster(
    entry: &Entry,
    req: Request<Incoming>,
    path: &str,
) -> Result<Reply, Problem> {
    let unreachable = |e: &dyn std::fmt::Display| {
        Problem::new(
            StatusCode::BAD_GATEWAY,
            format!(
                "cluster {} does not answer on {}: {e}",
                entry.name,
                entry.socket.display()
            ),
        )
    };
    let stream = tokio::net::UnixStream::connect(&entry.socket)
        .await
        .map_err(|e| unreachable(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(&e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("dashboard: cluster connection: {e}");
        }
    });
    let (mut parts, body) = req.into_parts();
    let target = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    parts.uri = target
        .parse()
        .map_err(|_| Problem::bad_request(format!("not a usable path: {target:?}")))?;
    for name in NOT_FORWARDED {
        parts.headers.remove(name);
    }
    // The socket's API guards its Host like the dashboard does.
    parts
        .headers
        .insert(header::HOST, header::HeaderValue::from_static("localhost"));
    let resp = sender
        .send_request(Request::from_parts(parts, body))
        .await
        .map_err(|e| unreachable(&e))?;
    Ok(resp.map(|b| b.boxed_unsync()))
}
