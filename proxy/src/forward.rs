//! HTTP forwarding, the one path of every request to a gateway's backends: the next
//! backend in turn, skipping those that refuse, over the HTTP/1 client of [`crate::h1`];
//! the response streamed back, or the connection tunnelled on an upgrade.

use crate::balancer::{Backend, ConnectError};
use crate::body::{DownBody, UpBody};
use crate::conn::ConnCtx;
use crate::h1::{self, ExchangeError, H1Error};
use crate::headers::{self, Trusted};
use crate::limits::Limits;
use crate::metrics::Counters;
use crate::relay::relay;
use crate::respond;
use crate::routes::{EntranceRt, GatewayRt};
use crate::upload::Upload;
use crate::upstream;
use bytes::BytesMut;
use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Response, StatusCode, Uri};
use hyper::body::Body;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Where a request goes and how it came in.
#[derive(Debug)]
pub(crate) struct Target<'a> {
    /// The gateway whose backends serve it, and the entrance it came through.
    pub(crate) via: Via,
    /// `X-Forwarded-Prefix` for an entrance.
    pub(crate) prefix: Option<&'a HeaderValue>,
    /// The upstream proxies whose forwarding headers are kept: a gateway's, for a
    /// request on its own listener (never for an entrance's).
    pub(crate) trusted: Option<&'a Trusted>,
    /// The path and query to ask the backend for; `None` keeps the client's.
    pub(crate) path: Option<PathAndQuery>,
}

/// The gateway a request goes to, through an entrance or its own listener. Owned, so
/// that a request in flight holds no borrow of the routing table a reload replaces.
#[derive(Debug)]
pub(crate) enum Via {
    /// The gateway's own listener.
    Gateway(Arc<GatewayRt>),
    /// An entrance, to its gateway.
    Entrance(Arc<EntranceRt>),
}

impl Via {
    fn gateway(&self) -> &GatewayRt {
        match self {
            Via::Gateway(gateway) => gateway,
            Via::Entrance(entrance) => &entrance.gateway,
        }
    }

    /// The counters of the entrance or gateway it came through.
    fn counters(&self) -> &Arc<Counters> {
        match self {
            Via::Gateway(gateway) => &gateway.counters,
            Via::Entrance(entrance) => &entrance.counters,
        }
    }
}

/// What becomes of a request: answered by the proxy itself, or forwarded.
#[derive(Debug)]
pub(crate) enum Handling {
    /// The proxy's own answer.
    Answer(Response<DownBody>),
    /// A request to send to a backend: [`Forwarding::run`].
    Forward(Forwarding),
}

impl From<Response<DownBody>> for Handling {
    fn from(resp: Response<DownBody>) -> Self {
        Handling::Answer(resp)
    }
}

/// A request made ready for its backends: everything of it the exchange needs, and no
/// more. The routing and the request head are done before the exchange's future is
/// made, so that future holds no copy of the client's request: it is allocated for
/// every request, and its size is what each move of it copies.
#[derive(Debug)]
pub(crate) struct Forwarding {
    via: Via,
    /// The gateway's own limits, when it has timeouts of its own.
    own: Option<Box<Limits>>,
    /// The request head as HTTP/1.1.
    head: Vec<u8>,
    /// Where a `Host` field goes in `head` when the request names no host (HTTP/1.0 may
    /// not): the backend's authority, which depends on the backend tried.
    host_at: Option<usize>,
    method: Method,
    /// The response timer is the stream's own (HTTP/2) or the connection's (HTTP/1).
    h2: bool,
    upgrade: bool,
    replayable: bool,
    client_upgrade: Option<OnUpgrade>,
    upload: Option<Upload>,
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

    fn broken(backend: &Backend, e: &H1Error) -> Failure {
        Failure::Broken {
            backend: backend.authority.clone(),
            reason: e.to_string(),
        }
    }
}

/// Makes `req` ready to forward to `target`: hop-by-hop fields removed, forwarding
/// fields set, the body framed for HTTP/1.1, the head encoded.
pub(crate) fn prepare(mut req: Request<UpBody>, target: Target<'_>, ctx: &ConnCtx) -> Handling {
    let counters = target.via.counters();
    Counters::add(&counters.requests, 1);
    let gateway = target.via.gateway();
    if gateway.balancer.is_empty() {
        return failure_answer(Failure::NoBackend(gateway.name.clone()), &target.via).into();
    }
    let upgrade = headers::is_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    headers::strip_hop_by_hop(&mut parts.headers, upgrade);
    // RFC 9113 8.3.1: an HTTP/2 request names its host in `:authority`, which the
    // HTTP/1.1 request made of it carries as its `Host`
    if !parts.headers.contains_key(header::HOST) {
        if let Some(authority) = parts.uri.authority() {
            if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
                parts.headers.insert(header::HOST, host);
            }
        }
    }
    let forwarded =
        headers::set_forwarded(&mut parts.headers, &ctx.peer, target.prefix, target.trusted);
    let uri = match &target.path {
        Some(pq) => Uri::from(pq.clone()),
        None => origin_form(&parts.uri),
    };
    let replayable = idempotent(&parts.method) && body.is_end_stream();
    let upload = Upload::prepare(&mut parts.headers, body, counters);
    let own =
        (!gateway.timeouts.is_empty()).then(|| Box::new(ctx.limits.for_gateway(&gateway.timeouts)));
    let (head, line_end) = h1::encode_head(&parts.method, &uri, &parts.headers, &forwarded);
    let host_at = (!parts.headers.contains_key(header::HOST)).then_some(line_end);
    Handling::Forward(Forwarding {
        via: target.via,
        own,
        head,
        host_at,
        method: parts.method,
        h2: parts.version == http::Version::HTTP_2,
        upgrade,
        replayable,
        client_upgrade,
        upload,
    })
}

/// The proxy's answer to a request that failed, counted as an error.
fn failure_answer(failure: Failure, via: &Via) -> Response<DownBody> {
    Counters::add(&via.counters().errors, 1);
    tracing::debug!("gateway {}: {failure}", via.gateway().name);
    respond::text(failure.status(), &failure.to_string())
}

impl Forwarding {
    /// Sends the request to its gateway's backends in turn; every failure becomes a
    /// short plain-text answer. A request goes again to a new connection, then to the
    /// next backend, when nothing of it was written (a pooled connection the backend had
    /// closed), or when it is a bodyless GET, HEAD, OPTIONS or TRACE, which may be sent
    /// twice (RFC 9110, 9.2.2): a backend killed with the connection pooled then fails
    /// none. Any other request whose exchange broke is answered 502.
    pub(crate) async fn run(&mut self, ctx: &ConnCtx) -> Response<DownBody> {
        let gateway = self.via.gateway();
        let limits = self.own.as_deref().unwrap_or(&ctx.limits);
        let mut last = None;
        let mut broken = None;
        // one async fn, not one calling another: see the type's doc
        let failure = 'failed: {
            for backend in gateway.balancer.candidates(limits.max_tries) {
                let with_host;
                let head = match (self.host_at, &backend.host) {
                    (Some(at), Some(host)) => {
                        with_host = h1::with_host(&self.head, at, host);
                        &with_host
                    }
                    _ => &self.head,
                };
                for fresh in [false, true] {
                    let pooled = match fresh {
                        true => None,
                        false => upstream::checkout(backend, limits),
                    };
                    let mut conn = match pooled {
                        Some(conn) => conn,
                        // boxed: connecting is rare next to pooled exchanges, and its
                        // future would add its size to every request's
                        None => match Box::pin(h1::Conn::connect(backend, limits)).await {
                            Ok(conn) => conn,
                            Err(e) => {
                                last = Some(e);
                                break;
                            }
                        },
                    };
                    let exchanged = {
                        let exchange =
                            conn.exchange(head, &self.method, self.upgrade, &mut self.upload);
                        tokio::pin!(exchange);
                        // the streams of an HTTP/2 connection are in flight together, and
                        // the connection's one timer would wake only the stream that
                        // polled it last: each stream has a timer of its own
                        if self.h2 {
                            tokio::time::timeout(limits.response_timeout, exchange)
                                .await
                                .map_err(|_| crate::deadline::Elapsed)
                        } else {
                            ctx.deadline.within(limits.response_timeout, exchange).await
                        }
                    };
                    let failed = match exchanged {
                        Ok(Ok(head)) => {
                            let answer = Answer {
                                head,
                                conn,
                                upload: self.upload.take(),
                                client_upgrade: self.client_upgrade.take(),
                            };
                            match answer.respond(backend, self.via.counters(), ctx) {
                                Ok(resp) => return resp,
                                Err(e) => break 'failed Failure::broken(backend, &e),
                            }
                        }
                        Err(_) => {
                            break 'failed Failure::Timeout {
                                backend: backend.authority.clone(),
                                after: limits.response_timeout,
                            }
                        }
                        Ok(Err(ExchangeError::Client(e))) => {
                            break 'failed Failure::ClientBody(e.to_string())
                        }
                        Ok(Err(ExchangeError::Unsent(e))) => e,
                        Ok(Err(ExchangeError::Backend(e))) if self.replayable => e,
                        Ok(Err(ExchangeError::Backend(e))) => {
                            break 'failed Failure::broken(backend, &e)
                        }
                    };
                    broken = Some(Failure::broken(backend, &failed));
                }
            }
            exhausted(gateway, broken, last)
        };
        failure_answer(failure, &self.via)
    }
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

/// True for the methods whose request may be sent twice when it has no body.
fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// `path?query` as a request target; `None` if it is not a valid one.
pub(crate) fn with_query(mut path: String, query: Option<&str>) -> Option<PathAndQuery> {
    if let Some(q) = query {
        path.push('?');
        path.push_str(q);
    }
    PathAndQuery::try_from(path).ok()
}

fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(pq) => Uri::from(pq.clone()),
        None => Uri::from_static("/"),
    }
}

/// A backend's response head and what the response needs to go on.
struct Answer {
    head: h1::Head,
    conn: h1::Conn,
    upload: Option<Upload>,
    client_upgrade: Option<OnUpgrade>,
}

impl Answer {
    /// The response for the client: the backend's body streamed from its connection, or,
    /// for a 101, no body and the two connections joined. Fails when the body bytes that
    /// came with the head are already broken (nothing has gone to the client yet).
    fn respond(
        self,
        backend: &Arc<Backend>,
        counters: &Arc<Counters>,
        ctx: &ConnCtx,
    ) -> Result<Response<DownBody>, H1Error> {
        let mut parts = self.head.parts;
        if parts.status == StatusCode::SWITCHING_PROTOCOLS {
            // a 101 only ends an exchange that asked for an upgrade (see h1::Conn::exchange)
            if let Some(client) = self.client_upgrade {
                let (stream, early) = self.conn.into_tunnel();
                tunnel(client, stream, early, ctx);
            }
            return Ok(Response::from_parts(parts, DownBody::Full(None)));
        }
        headers::strip_hop_by_hop(&mut parts.headers, false);
        let home = (backend.clone(), ctx.limits.max_idle_per_backend);
        let mut body = h1::BackendBody::new(
            self.conn,
            self.head.framing,
            self.head.keep_alive,
            self.upload,
            counters.clone(),
            home,
        );
        body.prime()?;
        Ok(Response::from_parts(parts, DownBody::Backend(body)))
    }
}

/// Copies bytes both ways between an upgraded client connection and the backend's
/// (`early`: what the backend sent right after its 101); once the listener closes, the
/// tunnel gets the drain timeout like any other connection.
fn tunnel(client: OnUpgrade, mut backend: TcpStream, early: BytesMut, ctx: &ConnCtx) {
    let mut stop = ctx.stop.clone();
    let drain = ctx.limits.drain_timeout;
    tokio::spawn(async move {
        let copy = async {
            let Ok(client) = client.await else {
                return;
            };
            let mut client = TokioIo::new(client);
            if client.write_all(&early).await.is_ok() {
                let _ = relay(&mut client, &mut backend).await;
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
