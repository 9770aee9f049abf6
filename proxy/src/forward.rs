//! HTTP forwarding: one request to the next backend of a gateway, skipping backends that
//! refuse, with the response streamed back (or the connection tunnelled on an upgrade).

use crate::balancer::{Backend, ConnectError};
use crate::body::{DownBody, Reuse, UpBody};
use crate::conn::ConnCtx;
use crate::h1;
use crate::headers;
use crate::metrics::Counters;
use crate::respond;
use crate::routes::GatewayRt;
use crate::upstream::{self, Sender};
use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode, Uri, Version};
use hyper::body::{Body, Incoming};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;

/// Where a request goes and how it came in.
#[derive(Debug)]
pub struct Target<'a> {
    /// The gateway whose backends serve it.
    pub gateway: &'a GatewayRt,
    /// The counters of the entrance or gateway it came through.
    pub counters: &'a Arc<Counters>,
    /// `X-Forwarded-Prefix` for an entrance.
    pub prefix: Option<&'a HeaderValue>,
    /// The path and query to ask the backend for; `None` keeps the client's.
    pub path: Option<PathAndQuery>,
}

/// Why the proxy answers a request itself.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("no backend: gateway {0} has none ready")]
    NoBackend(String),
    #[error("no backend: gateway {gateway} has none that accepts connections ({last})")]
    Unreachable { gateway: String, last: ConnectError },
    #[error("backend {backend} did not answer within {after:?}")]
    Timeout { backend: String, after: Duration },
    #[error("backend {backend} broke the exchange: {reason}")]
    Broken { backend: String, reason: String },
    #[error("bad request body: {0}")]
    ClientBody(String),
}

impl Failure {
    fn status(&self) -> StatusCode {
        match self {
            Failure::NoBackend(_) => StatusCode::SERVICE_UNAVAILABLE,
            Failure::Unreachable {
                last: ConnectError::Timeout { .. },
                ..
            } => StatusCode::GATEWAY_TIMEOUT,
            Failure::Unreachable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Failure::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Failure::Broken { .. } => StatusCode::BAD_GATEWAY,
            Failure::ClientBody(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// Forwards `req` to `target`; every failure becomes a short plain-text answer.
pub async fn forward(
    req: Request<Incoming>,
    target: Target<'_>,
    ctx: &ConnCtx,
) -> Response<DownBody> {
    Counters::add(&target.counters.requests, 1);
    match try_forward(req, &target, ctx).await {
        Ok(resp) => resp,
        Err(failure) => {
            Counters::add(&target.counters.errors, 1);
            respond::text(failure.status(), &failure.to_string())
        }
    }
}

async fn try_forward(
    mut req: Request<Incoming>,
    target: &Target<'_>,
    ctx: &ConnCtx,
) -> Result<Response<DownBody>, Failure> {
    let gateway = target.gateway;
    if gateway.balancer.is_empty() {
        return Err(Failure::NoBackend(gateway.name.clone()));
    }
    let upgrade = headers::is_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    headers::strip_hop_by_hop(&mut parts.headers, upgrade);
    headers::add_forwarded(&mut parts.headers, &ctx.client_ip, target.prefix);
    parts.uri = match &target.path {
        Some(pq) => Uri::from(pq.clone()),
        None => origin_form(&parts.uri),
    };
    parts.version = Version::HTTP_11;
    if Replay::allowed(&parts, &body) && !upgrade {
        return try_lean(parts, target, ctx).await;
    }
    let replay = Replay::of(&parts, &body);
    let mut req = Request::from_parts(parts, UpBody::new(body, target.counters.clone()));
    let limits = &ctx.shared.limits;
    let mut last = None;
    let mut broken = None;
    for backend in gateway.balancer.candidates(limits.max_tries) {
        if !req.headers().contains_key(header::HOST) {
            if let Ok(host) = HeaderValue::from_str(&backend.authority) {
                req.headers_mut().insert(header::HOST, host);
            }
        }
        let mut fresh = false;
        loop {
            let sender = if fresh {
                upstream::fresh(backend, limits).await
            } else {
                upstream::checkout(backend, limits).await
            };
            let mut sender = match sender {
                Ok(s) => s,
                Err(e) => {
                    last = Some(e);
                    break;
                }
            };
            let sent = match send(&mut sender, req, backend, ctx).await {
                Ok(sent) => sent,
                // A bodyless idempotent request whose connection broke (a backend killed
                // with the connection pooled) may be sent again (RFC 9110, 9.2.2): on a
                // new connection, then on the next backend.
                Err(failure @ Failure::Broken { .. }) => match &replay {
                    Some(replay) => {
                        req = replay.request(target.counters);
                        if fresh {
                            broken = Some(failure);
                            break;
                        }
                        fresh = true;
                        continue;
                    }
                    None => return Err(failure),
                },
                Err(failure) => return Err(failure),
            };
            match sent {
                Sent::Answered(resp) => {
                    let reuse = Reuse {
                        sender,
                        backend: backend.clone(),
                        limits: limits.clone(),
                    };
                    return Ok(finish(resp, reuse, client_upgrade, target.counters, ctx));
                }
                // nothing was written: a stale pooled connection; a new one may work
                Sent::Unsent(back) if !fresh => {
                    req = back;
                    fresh = true;
                }
                Sent::Unsent(_) => {
                    return Err(Failure::Broken {
                        backend: backend.authority.clone(),
                        reason: "connection closed before the request".to_string(),
                    })
                }
            }
        }
    }
    Err(exhausted(gateway, broken, last))
}

/// The failure once every candidate was tried: a broken exchange first (502), else the
/// last refusal (503/504), else no backend at all (503).
fn exhausted(gateway: &GatewayRt, broken: Option<Failure>, last: Option<ConnectError>) -> Failure {
    match (broken, last) {
        (Some(broken), _) => broken,
        (None, Some(last)) => Failure::Unreachable {
            gateway: gateway.name.clone(),
            last,
        },
        (None, None) => Failure::NoBackend(gateway.name.clone()),
    }
}

/// Forwards a bodyless idempotent request without upgrade through the lean client
/// ([`h1`]), with the same choice of backends, retries and failures as [`try_forward`]:
/// an exchange that breaks is sent again on a new connection, then on the next backend.
async fn try_lean(
    mut parts: http::request::Parts,
    target: &Target<'_>,
    ctx: &ConnCtx,
) -> Result<Response<DownBody>, Failure> {
    let gateway = target.gateway;
    let limits = &ctx.shared.limits;
    let mut last = None;
    let mut broken = None;
    for backend in gateway.balancer.candidates(limits.max_tries) {
        if !parts.headers.contains_key(header::HOST) {
            if let Ok(host) = HeaderValue::from_str(&backend.authority) {
                parts.headers.insert(header::HOST, host);
            }
        }
        let head = h1::encode_head(&parts.method, &parts.uri, &parts.headers);
        for fresh in [false, true] {
            let conn = match fresh {
                true => h1::Conn::connect(backend, limits).await,
                false => upstream::checkout_lean(backend, limits).await,
            };
            let mut conn = match conn {
                Ok(conn) => conn,
                Err(e) => {
                    last = Some(e);
                    break;
                }
            };
            let exchanged = {
                let exchange = conn.exchange(&head, &parts.method);
                tokio::pin!(exchange);
                ctx.deadline.within(limits.response_timeout, exchange).await
            };
            match exchanged {
                Err(_) => {
                    return Err(Failure::Timeout {
                        backend: backend.authority.clone(),
                        after: limits.response_timeout,
                    })
                }
                Ok(Ok(resp)) => return Ok(finish_lean(resp, conn, backend, target, ctx)),
                Ok(Err(e)) => {
                    broken = Some(Failure::Broken {
                        backend: backend.authority.clone(),
                        reason: e.to_string(),
                    })
                }
            }
        }
    }
    Err(exhausted(gateway, broken, last))
}

fn finish_lean(
    head: h1::Head,
    conn: h1::Conn,
    backend: &Arc<Backend>,
    target: &Target<'_>,
    ctx: &ConnCtx,
) -> Response<DownBody> {
    let mut parts = head.parts;
    headers::strip_hop_by_hop(&mut parts.headers, false);
    let home = (backend.clone(), ctx.shared.limits.max_idle_per_backend);
    let body = h1::LeanBody::new(
        conn,
        head.framing,
        head.keep_alive,
        target.counters.clone(),
        home,
    );
    Response::from_parts(parts, DownBody::Lean(body))
}

/// What is needed to send a bodyless idempotent request again.
struct Replay {
    method: http::Method,
    uri: Uri,
    headers: http::HeaderMap,
}

impl Replay {
    /// Some for GET, HEAD, OPTIONS and TRACE without a body: nothing of the client's is
    /// lost by sending them twice.
    fn of(parts: &http::request::Parts, body: &Incoming) -> Option<Replay> {
        Self::allowed(parts, body).then(|| Replay {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            headers: parts.headers.clone(),
        })
    }

    /// True for GET, HEAD, OPTIONS and TRACE without a body.
    fn allowed(parts: &http::request::Parts, body: &Incoming) -> bool {
        let idempotent = matches!(
            parts.method,
            http::Method::GET | http::Method::HEAD | http::Method::OPTIONS | http::Method::TRACE
        );
        idempotent && body.is_end_stream()
    }

    fn request(&self, counters: &Arc<Counters>) -> Request<UpBody> {
        let mut req = Request::new(UpBody::empty(counters.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.version_mut() = Version::HTTP_11;
        *req.headers_mut() = self.headers.clone();
        req
    }
}

fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(pq) => Uri::from(pq.clone()),
        None => Uri::from_static("/"),
    }
}

/// The outcome of handing a request to one connection.
enum Sent {
    Answered(Response<Incoming>),
    Unsent(Request<UpBody>),
}

async fn send(
    sender: &mut Sender,
    req: Request<UpBody>,
    backend: &Backend,
    ctx: &ConnCtx,
) -> Result<Sent, Failure> {
    let limits = &ctx.shared.limits;
    // a pooled connection is usually ready at once: skip the timer then
    if !sender.is_ready() {
        match tokio::time::timeout(limits.connect_timeout, sender.ready()).await {
            Ok(Ok(())) => {}
            _ => return Ok(Sent::Unsent(req)),
        }
    }
    match tokio::time::timeout(limits.response_timeout, sender.try_send_request(req)).await {
        Err(_) => Err(Failure::Timeout {
            backend: backend.authority.clone(),
            after: limits.response_timeout,
        }),
        Ok(Ok(resp)) => Ok(Sent::Answered(resp)),
        Ok(Err(mut e)) => match e.take_message() {
            Some(req) => Ok(Sent::Unsent(req)),
            None => Err(broken(e.into_error(), backend)),
        },
    }
}

/// Blames the party that broke the exchange: the client when reading its request body
/// failed (a malformed chunk, a body cut short), which must not look like a backend fault.
fn broken(err: hyper::Error, backend: &Backend) -> Failure {
    use std::error::Error;
    let client_body = err.source().and_then(|s| s.downcast_ref::<hyper::Error>());
    match client_body {
        Some(cause) if err.is_user() => Failure::ClientBody(cause.to_string()),
        _ => Failure::Broken {
            backend: backend.authority.clone(),
            reason: err.to_string(),
        },
    }
}

fn finish(
    mut resp: Response<Incoming>,
    reuse: Reuse,
    client_upgrade: Option<OnUpgrade>,
    counters: &Arc<Counters>,
    ctx: &ConnCtx,
) -> Response<DownBody> {
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client) = client_upgrade {
            tunnel(client, hyper::upgrade::on(&mut resp), ctx);
        }
        let (parts, _) = resp.into_parts();
        return Response::from_parts(parts, DownBody::Full(None));
    }
    let (mut parts, body) = resp.into_parts();
    headers::strip_hop_by_hop(&mut parts.headers, false);
    let reuse = if body.is_end_stream() {
        reuse.release();
        None
    } else {
        Some(reuse)
    };
    let body = DownBody::Upstream {
        body,
        counters: counters.clone(),
        reuse,
    };
    Response::from_parts(parts, body)
}

/// Copies bytes both ways between an upgraded client and backend connection; once the
/// listener closes, the tunnel gets the drain timeout like any other connection.
fn tunnel(client: OnUpgrade, backend: OnUpgrade, ctx: &ConnCtx) {
    let mut stop = ctx.stop.clone();
    let drain = ctx.shared.limits.drain_timeout;
    tokio::spawn(async move {
        let copy = async {
            if let (Ok(client), Ok(backend)) = tokio::join!(client, backend) {
                let mut client = TokioIo::new(client);
                let mut backend = TokioIo::new(backend);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
            }
        };
        let cut = async {
            // an Err means the listener is gone: drain just the same
            if !*stop.borrow() {
                let _ = stop.changed().await;
            }
            tokio::time::sleep(drain).await;
        };
        tokio::select! {
            _ = copy => {}
            _ = cut => {}
        }
    });
}
