//! One client connection: served as HTTP/1 (with upgrades) on a gateway's listener; as
//! HTTP/1, or HTTP/2 when it starts with the HTTP/2 preface (h2c with prior knowledge),
//! on the http listener; after a TLS handshake on the https one, as HTTP/2 when the
//! client chose `h2` by ALPN and HTTP/1 otherwise; or handed to the TCP gateway,
//! depending on what its listener serves. HTTP/1 is hyper's server, HTTP/2 the proxy's
//! own ([`http2`]).
//!
//! Choices for the cost per request (figures in bench/RESULTS.md, "Figures behind design
//! choices"): a request is routed, and its head made ready, before its future is made
//! ([`handle`] and [`forward::prepare`] are not async): the future is then one async fn
//! holding only what the exchange needs ([`forward::Forwarding`]), under a KiB, where
//! async routing layers each kept their own copy of the request and nested futures of
//! several KiB, copied at every await and move. That future is boxed once when it is
//! made: a box moves as a pointer.

use crate::body::{DownBody, UpBody};
use crate::deadline::Deadline;
use crate::entrance;
use crate::forward::{self, with_query, Handling, Target, Via};
use crate::headers::{self, Peer};
use crate::http2;
use crate::idle::{Busy, Idle, Tracked};
use crate::limits::Limits;
use crate::metrics::{ConnectionGauge, Metrics};
use crate::path;
use crate::respond;
use crate::routes::Role;
use crate::tcp;
use arc_swap::ArcSwap;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// What every connection of one proxy shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The limits in force: [`Shared::defaults`] with the current config's timeouts;
    /// each connection takes the ones in force when it is accepted.
    pub(crate) limits: ArcSwap<Limits>,
    /// The limits the proxy was started with, before any config's timeouts.
    pub(crate) defaults: Limits,
    /// Counters.
    pub(crate) metrics: Arc<Metrics>,
    /// How many worker threads serve connections (each has its own backend pools).
    pub(crate) workers: usize,
}

/// The context of one client connection.
#[derive(Debug)]
pub(crate) struct ConnCtx {
    /// What its listener serves now (swapped by reloads).
    pub(crate) role: Arc<ArcSwap<Role>>,
    /// The client as its forwarding headers describe it.
    pub(crate) peer: Peer,
    /// The limits in force when it was accepted.
    pub(crate) limits: Arc<Limits>,
    /// Shared state.
    pub(crate) shared: Arc<Shared>,
    /// Fires when the listener closes; upgraded tunnels then get the drain timeout.
    pub(crate) stop: watch::Receiver<bool>,
    /// The response timeout of its requests, one lazy timer for all.
    pub(crate) deadline: Deadline,
}

/// Serves one accepted connection (counted by `_gauge`) until it ends, or until `stop`
/// asks it to finish.
pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    role: Arc<ArcSwap<Role>>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    _gauge: ConnectionGauge,
) {
    let _ = stream.set_nodelay(true);
    let limits = shared.limits.load_full();
    let current = role.load_full();
    if let Role::Tcp(gateway) = &*current {
        // a tcp session is never cut by a reload; the drain timeout bounds it after removal
        let limits = limits.for_gateway(&gateway.timeouts);
        return tcp::serve(stream, gateway, &limits).await;
    }
    let (tls, both) = match &*current {
        Role::Tls(_, config) => (Some(config.clone()), true),
        Role::Entrance(_) => (None, true),
        _ => (None, false),
    };
    drop(current);
    let ctx = Arc::new(ConnCtx {
        role,
        peer: Peer::new(peer.ip(), tls.is_some()),
        limits,
        shared,
        stop: stop.clone(),
        deadline: Deadline::default(),
    });
    let Some(config) = tls else {
        if !both {
            return serve_h1(stream, ctx, stop).await;
        }
        return match speaks(&stream, ctx.limits.header_read_timeout).await {
            Speaks::Http1 => serve_h1(stream, ctx, stop).await,
            Speaks::Http2 => serve_h2(stream, ctx, stop).await,
            Speaks::Nothing => {}
        };
    };
    // the handshake is part of the request head's time: a silent or slow client is cut
    let accept = tokio_rustls::TlsAcceptor::from(config).accept(stream);
    match tokio::time::timeout(ctx.limits.header_read_timeout, accept).await {
        Ok(Ok(stream)) if stream.get_ref().1.alpn_protocol() == Some(b"h2") => {
            serve_h2(stream, ctx, stop).await
        }
        // HTTP/2 over TLS is chosen by ALPN only (RFC 9113, 3.2)
        Ok(Ok(stream)) => serve_h1(stream, ctx, stop).await,
        // garbage, a plain HTTP request or a truncated hello: rustls has sent its alert
        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
    }
}

/// What a client of the http listener speaks.
#[derive(Debug, PartialEq, Eq)]
enum Speaks {
    Http1,
    /// HTTP/2 with prior knowledge (h2c): it began with the HTTP/2 preface.
    Http2,
    /// Nothing: it closed, or sent nothing within the header timeout.
    Nothing,
}

/// Tells an h2c client from an HTTP/1 one by its first bytes, left in the socket for
/// the server that takes it.
async fn speaks(stream: &TcpStream, limit: Duration) -> Speaks {
    let deadline = tokio::time::Instant::now() + limit;
    let preface = http2::PREFACE;
    let mut first = [0u8; 24];
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return Speaks::Nothing,
        };
        if first[..n] != preface[..n] {
            return Speaks::Http1;
        }
        if n == preface.len() {
            return Speaks::Http2;
        }
        // the preface in pieces (rare): a peek leaves the socket readable, so it is
        // looked at again after a pause, not as soon as the runtime may
        if tokio::time::Instant::now() >= deadline {
            return Speaks::Nothing;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// HTTP/2 (the proxy's own server): a TLS connection whose client chose `h2` by ALPN,
/// or an h2c one.
async fn serve_h2<S>(stream: S, ctx: Arc<ConnCtx>, stop: watch::Receiver<bool>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let timeout = ctx.limits.header_read_timeout;
    let idle = Idle::new();
    let conn = http2::Connection::new(stream, ctx, idle.clone());
    drive(conn, &idle, timeout, stop).await
}

async fn serve_h1<S>(stream: S, ctx: Arc<ConnCtx>, stop: watch::Receiver<bool>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let limits = ctx.limits.clone();
    let idle = Idle::new();
    let service = service(ctx, &idle);
    let mut builder = http1::Builder::new();
    builder
        // no timer per request: the guard below does hyper's header_read_timeout's job
        .header_read_timeout(None)
        .max_header_size(limits.max_head_bytes);
    let conn = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    drive(conn, &idle, limits.header_read_timeout, stop).await
}

/// A served connection that can be asked to finish what is in flight and close.
trait Graceful: Future {
    fn finish(self: Pin<&mut Self>);
}

impl<S> Graceful for http2::Connection<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    fn finish(self: Pin<&mut Self>) {
        self.get_mut().finish()
    }
}

impl<I, S> Graceful for http1::UpgradeableConnection<I, S>
where
    Self: Future,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResBody: hyper::body::Body + 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn finish(self: Pin<&mut Self>) {
        self.graceful_shutdown()
    }
}

/// Runs `conn` to its end, until its idle guard expires (see idle.rs: the slowloris and
/// keep-alive guard; expiring drops the connection), or until `stop`: then the requests
/// in flight are finished and the connection closes.
async fn drive<C: Graceful>(
    conn: C,
    idle: &Idle,
    header_read_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    tokio::pin!(conn);
    let expired = idle.expired(header_read_timeout);
    tokio::pin!(expired);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = expired.as_mut() => {}
        _ = stop.changed() => {
            conn.as_mut().finish();
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = expired => {}
            }
        }
    }
}

/// One connection's service: each request routed, then answered or forwarded, its
/// response body counted busy for the idle guard until it is sent.
fn service(
    ctx: Arc<ConnCtx>,
    idle: &Arc<Idle>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<Tracked<DownBody>>,
    Error = Infallible,
    Future: Send,
> + Clone
       + Send
       + 'static {
    let idle = idle.clone();
    service_fn(move |req: Request<Incoming>| {
        let busy = idle.begin();
        answering(handle(req.map(UpBody::Left), &ctx), busy, &ctx)
    })
}

/// The future of one request's response (never an error: a failure is a response).
pub(crate) type Answering =
    Pin<Box<dyn Future<Output = Result<Response<Tracked<DownBody>>, Infallible>> + Send>>;

/// The response of a routed request, its body counted `busy` until it is sent; boxed,
/// and holding only what the exchange needs (see the module doc).
pub(crate) fn answering(handling: Handling, busy: Busy, ctx: &Arc<ConnCtx>) -> Answering {
    match handling {
        Handling::Answer(resp) => {
            Box::pin(std::future::ready(Ok(resp.map(|b| Tracked::new(b, busy)))))
        }
        Handling::Forward(mut forwarding) => {
            let ctx = ctx.clone();
            Box::pin(async move {
                let resp = forwarding.run(&ctx).await;
                Ok(resp.map(|body| Tracked::new(body, busy)))
            })
        }
    }
}

/// Routes one request by what its listener serves now.
pub(crate) fn handle(req: Request<UpBody>, ctx: &ConnCtx) -> Handling {
    // RFC 9112 3.2: a request without a valid Host is refused, whatever it asks for
    if let Err(bad) = headers::check_host(req.version(), req.headers()) {
        return respond::text(StatusCode::BAD_REQUEST, &bad.to_string()).into();
    }
    let role = ctx.role.load();
    match &**role {
        Role::Entrance(table) | Role::Tls(table, _) => entrance::handle(req, table, ctx),
        Role::Http(gateway) => {
            let path = match path::normalise(req.uri().path()) {
                Ok(Cow::Borrowed(_)) => None,
                Ok(Cow::Owned(clean)) => match with_query(clean, req.uri().query()) {
                    Some(pq) => Some(pq),
                    None => return respond::text(StatusCode::BAD_REQUEST, "bad path").into(),
                },
                Err(e) => return respond::text(StatusCode::BAD_REQUEST, &e.to_string()).into(),
            };
            let target = Target {
                via: Via::Gateway(gateway.clone()),
                prefix: None,
                trusted: gateway.trusted.as_ref(),
                path,
            };
            forward::prepare(req, target, ctx)
        }
        Role::Tcp(gateway) => respond::text(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("gateway {} now speaks tcp on this address", gateway.name),
        )
        .into(),
    }
}
