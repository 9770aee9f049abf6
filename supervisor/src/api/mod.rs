//! The cluster's HTTP API (docs/api.md): JSON under `/api/v1`, served by the daemon on
//! `.lcc/api.sock` (owner only) and, when the Cluster manifest asks, on TCP where every
//! request needs the bearer token of `.lcc/api.token`. It acts through the same library
//! calls and files as the CLI (`control`, the status files, the event log), so `lcc ps`
//! and the API never disagree. Errors are problem details (RFC 9457); no CORS headers
//! are ever sent, and a `Host` that is not a loopback name or the listen address gets
//! 421 (a DNS-rebinding guard).

mod events;
pub(crate) mod host;
mod logs;
pub(crate) mod problem;
mod routes;
mod statuses;
pub mod token;
mod views;

use crate::podfs::PodState;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::Incoming;
use hyper::{header, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use lcc_compiler::Plan;
use lcc_core::layout::Layout;
use problem::Problem;
use routes::Endpoint;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The OpenAPI document of every route, as kept in `docs/openapi.json`.
pub(crate) const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// Largest request body: anything larger is refused with 413.
const MAX_BODY: usize = 1 << 20;
/// Largest replica count `PUT .../scale` accepts.
const MAX_REPLICAS: u64 = 1000;
/// How long a restart waits for its instances to stop.
const RESTART_STOP_WAIT: Duration = Duration::from_secs(120);

/// A response body: a whole one or a stream.
pub(crate) type Reply = Response<UnsyncBoxBody<Bytes, Infallible>>;

pub(crate) fn empty() -> UnsyncBoxBody<Bytes, Infallible> {
    Empty::new().boxed_unsync()
}

pub(crate) fn full(data: impl Into<Bytes>) -> UnsyncBoxBody<Bytes, Infallible> {
    Full::new(data.into()).boxed_unsync()
}

/// What the API serves from.
#[derive(Debug)]
pub struct Api {
    layout: Layout,
    plan: Mutex<Arc<Plan>>,
    started: Instant,
    /// The TCP listen address, when there is one.
    tcp: Option<SocketAddr>,
    /// The token TCP requests must carry.
    token: Option<String>,
    /// The peers listener's address and the cluster's peer token (a host of a
    /// multi-host cluster; docs/hosts.md).
    peer: Option<(SocketAddr, String)>,
    /// This host's ready backends, as the daemon last wrote them into `proxy.conf`
    /// (`GET /api/v1/backends`).
    backends: Mutex<crate::peers::HostBackends>,
    /// Bumped at each event the daemon appends: event streams wait on it.
    appended: tokio::sync::watch::Sender<u64>,
    /// The status files, parsed once per change.
    statuses: statuses::Statuses,
}

impl Api {
    /// The API of the cluster in `layout`, planned as `plan`; `tcp` with its `token` when
    /// it also listens on TCP.
    /// `peer` with the peer token when it serves the other hosts too.
    pub fn new(
        layout: Layout,
        plan: Plan,
        tcp: Option<(SocketAddr, String)>,
        peer: Option<(SocketAddr, String)>,
    ) -> Api {
        let (tcp, token) = match tcp {
            Some((addr, token)) => (Some(addr), Some(token)),
            None => (None, None),
        };
        let backends = crate::peers::HostBackends {
            host: plan.this_host.clone().unwrap_or_default(),
            gateways: Default::default(),
        };
        Api {
            layout,
            plan: Mutex::new(Arc::new(plan)),
            started: Instant::now(),
            tcp,
            token,
            peer,
            backends: Mutex::new(backends),
            appended: tokio::sync::watch::Sender::new(0),
            statuses: statuses::Statuses::default(),
        }
    }

    /// The daemon appended an event (called from its loop; wakes the event streams).
    pub fn event_appended(&self) {
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The daemon loaded new manifests.
    pub fn set_plan(&self, plan: Plan) {
        *self.plan.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(plan);
    }

    /// The daemon wrote `proxy.conf` with these backends of its own instances.
    pub fn set_backends(&self, gateways: crate::proxyconf::Backends) {
        self.backends
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .gateways = gateways;
    }

    fn plan(&self) -> Arc<Plan> {
        Arc::clone(&self.plan.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Where the API listens.
#[derive(Debug)]
pub enum Listener {
    /// `.lcc/api.sock`: whoever can open it is the cluster's owner (mode 0600).
    Unix(tokio::net::UnixListener),
    /// A TCP address: every request needs the bearer token.
    Tcp(tokio::net::TcpListener),
    /// The peers listener on the host's address: every request needs the peer token,
    /// and only reads are served.
    Peer(tokio::net::TcpListener),
}

/// A bound listener not yet given to a runtime.
#[derive(Debug)]
pub enum Bound {
    /// See [`Listener::Unix`].
    Unix(std::os::unix::net::UnixListener),
    /// See [`Listener::Tcp`].
    Tcp(std::net::TcpListener),
    /// See [`Listener::Peer`].
    Peer(std::net::TcpListener),
}

/// The API's own thread and runtime: it answers while the daemon's loop is busy (a
/// scale to hundreds of replicas keeps the loop at work for seconds), and the loop never
/// waits for it.
#[derive(Debug)]
pub struct Thread {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Thread {
    /// Serves `listeners` on a thread of its own until [`Thread::stop`].
    pub fn spawn(listeners: Vec<Bound>, api: Arc<Api>) -> std::io::Result<Thread> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("lcc-api".into())
            .spawn(move || {
                rt.block_on(async move {
                    for bound in listeners {
                        let listener = match bound {
                            Bound::Unix(l) => l
                                .set_nonblocking(true)
                                .and_then(|()| tokio::net::UnixListener::from_std(l))
                                .map(Listener::Unix),
                            Bound::Tcp(l) => l
                                .set_nonblocking(true)
                                .and_then(|()| tokio::net::TcpListener::from_std(l))
                                .map(Listener::Tcp),
                            Bound::Peer(l) => l
                                .set_nonblocking(true)
                                .and_then(|()| tokio::net::TcpListener::from_std(l))
                                .map(Listener::Peer),
                        };
                        match listener {
                            Ok(l) => {
                                tokio::spawn(serve(l, Arc::clone(&api), std::future::pending()));
                            }
                            Err(e) => tracing::warn!("api: cannot serve a listener: {e}"),
                        }
                    }
                    let _ = stopped.await;
                });
                // A restart still waiting for its stop must not hold the daemon's exit.
                rt.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(Thread {
            stop: Some(stop),
            handle: Some(handle),
        })
    }

    /// Stops serving (open streams are cut) and waits for the thread.
    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Serves `listener` until `shutdown` completes.
pub async fn serve(
    listener: Listener,
    api: Arc<Api>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            a = accept(&listener) => a,
        };
        let (io, via) = match accepted {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("api: accept failed: {e}");
                // Out of descriptors or the like: do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let api = Arc::clone(&api);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let api = Arc::clone(&api);
                async move { Ok::<_, Infallible>(handle(api, req, via).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(io, service);
            if let Err(e) = conn.await {
                tracing::debug!("api: connection: {e}");
            }
        });
    }
}

/// A connection: its stream, and the listener it came through.
type Accepted = (TokioIo<Box<dyn Stream>>, Via);

/// Which listener a request came through: what it must show and may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// The owner's socket: no token.
    Socket,
    /// The API's TCP listener: the API token.
    Tcp,
    /// The peers listener: the peer token, reads only.
    Peer,
}

/// A connected stream of either kind.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Stream for T {}

async fn accept(listener: &Listener) -> std::io::Result<Accepted> {
    Ok(match listener {
        Listener::Unix(l) => (TokioIo::new(Box::new(l.accept().await?.0)), Via::Socket),
        Listener::Tcp(l) => (TokioIo::new(Box::new(l.accept().await?.0)), Via::Tcp),
        Listener::Peer(l) => (TokioIo::new(Box::new(l.accept().await?.0)), Via::Peer),
    })
}

async fn handle(api: Arc<Api>, req: Request<Incoming>, via: Via) -> Reply {
    match respond(api, req, via).await {
        Ok(reply) => reply,
        Err(problem) => problem.into_response(),
    }
}

/// The Host check, the token check (TCP, peers), then the route.
async fn respond(api: Arc<Api>, req: Request<Incoming>, via: Via) -> Result<Reply, Problem> {
    match via {
        Via::Socket => host::check(&req, None)?,
        Via::Tcp => {
            host::check(&req, api.tcp)?;
            check_token(
                &req,
                api.token.as_deref().unwrap_or_default(),
                "see `lcc api token`",
            )?;
        }
        Via::Peer => {
            let (addr, token) = api
                .peer
                .as_ref()
                .map_or((None, ""), |(a, t)| (Some(*a), t.as_str()));
            let plan = api.plan();
            host::check_named(&req, addr, Some(plan.this_address()))?;
            check_token(&req, token, "the cluster's peer token, .lcc/sync/token")?;
            // A host's peers may look, never act: a host broken into cannot stop the
            // others' instances.
            if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
                return Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "the peers listener only reads: act on a host through its socket or API listener",
                ));
            }
        }
    }
    let path = req.uri().path().to_string();
    let query = parse_query(req.uri().query());
    let (endpoint, name) = routes::route(req.method(), &path)?;
    let name = name.map(str::to_string);
    if let Some(n) = &name {
        lcc_compiler::rules::name(n)
            .map_err(|why| Problem::bad_request(format!("name {n:?}: {why}")))?;
    }
    let wants_stream = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    let last_event = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= MAX_NUMBER)
                .ok_or_else(|| {
                    Problem::bad_request(format!("Last-Event-ID: {v:?} is not an event id"))
                })
        })
        .transpose()?;
    let body = read_body(req).await?;
    let name = name.unwrap_or_default();
    let layout = &api.layout;
    let control = |e: crate::control::ControlError| match e {
        crate::control::ControlError::NoInstance { .. }
        | crate::control::ControlError::Unknown { .. }
        | crate::control::ControlError::NoGroup { .. } => Problem::not_found(e.to_string()),
        // The daemon removed the pod between the look and the write (a DELETE racing
        // another): it is gone, as a look now says.
        _ if crate::control::resolve(layout, &name).is_err() => Problem::not_found(format!(
            "no instance or group named {name}: it was just removed"
        )),
        other => Problem::internal(other.to_string()),
    };
    let reply = match endpoint {
        Endpoint::Cluster => ok(views::cluster(&api)),
        Endpoint::Instances => json_text(StatusCode::OK, views::instances(&api)),
        Endpoint::Instance => {
            crate::control::instance(layout, &name).map_err(control)?;
            let st = lcc_core::status::read(layout, &name)
                .ok_or_else(|| Problem::not_found(format!("instance {name} has no status yet")))?;
            ok(views::instance(&st))
        }
        Endpoint::Start | Endpoint::Stop => {
            crate::control::instance(layout, &name).map_err(control)?;
            let state = if endpoint == Endpoint::Start {
                PodState::Running
            } else {
                PodState::Stopped
            };
            let insts = crate::control::set_state(layout, &name, state).map_err(control)?;
            accepted(serde_json::json!({ "instances": insts, "desired": state.as_str() }))
        }
        Endpoint::Restart => {
            crate::control::instance(layout, &name).map_err(control)?;
            let layout = layout.clone();
            let who = name.clone();
            // It waits for the stop: not on the daemon's loop.
            tokio::task::spawn_blocking(move || {
                let deadline = Instant::now() + RESTART_STOP_WAIT;
                if let Err(e) = crate::control::restart(&layout, &who, deadline) {
                    tracing::warn!("api: restart {who}: {e}");
                }
            });
            accepted(serde_json::json!({ "instances": [name], "restarting": true }))
        }
        Endpoint::Delete => {
            crate::control::delete(layout, &name).map_err(control)?;
            accepted(serde_json::json!({ "instances": [name], "desired": "removed" }))
        }
        Endpoint::Logs => {
            let pod = crate::control::instance(layout, &name).map_err(control)?;
            logs::reply(logs::file(pod, &query)?, &query)?
        }
        Endpoint::Groups => ok(views::groups(&api)),
        Endpoint::Scale => {
            let replicas = replicas(&body)?;
            let plan = api.plan();
            crate::control::scale_group(layout, &plan, &name, replicas).map_err(control)?;
            ok(serde_json::json!({ "group": name, "replicas": replicas }))
        }
        Endpoint::Gateways => ok(views::gateways(&api)),
        Endpoint::Backends => {
            let backends = api
                .backends
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            ok(serde_json::to_value(backends).map_err(|e| Problem::internal(e.to_string()))?)
        }
        Endpoint::Entrances => ok(views::entrances(&api)),
        Endpoint::Storage => ok(views::storage(&api)),
        Endpoint::Events if wants_stream => {
            let after = match last_event {
                Some(id) => id,
                None => number(&query, "since")?.unwrap_or(0),
            };
            events::stream(Arc::clone(&api), after)
        }
        Endpoint::Events => ok(events::page(&api, &query)?),
        Endpoint::OpenApi => Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(full(OPENAPI))
            .map_err(|e| Problem::internal(e.to_string()))?,
    };
    Ok(reply)
}

fn json_reply(status: StatusCode, value: serde_json::Value) -> Reply {
    json_text(status, value.to_string())
}

fn json_text(status: StatusCode, mut text: String) -> Reply {
    text.push('\n');
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(text))
        .unwrap_or_else(|_| Response::new(empty()))
}

fn ok(value: serde_json::Value) -> Reply {
    json_reply(StatusCode::OK, value)
}

fn accepted(value: serde_json::Value) -> Reply {
    json_reply(StatusCode::ACCEPTED, value)
}

/// `{"replicas": N}`, N a whole number up to [`MAX_REPLICAS`].
fn replicas(body: &[u8]) -> Result<u32, Problem> {
    let doc: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Problem::bad_request(format!("the body is not JSON: {e}")))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| Problem::unprocessable("the body must be an object {\"replicas\": N}"))?;
    if let Some(extra) = obj.keys().find(|k| k.as_str() != "replicas") {
        return Err(Problem::unprocessable(format!("unknown field {extra:?}")));
    }
    let value = obj
        .get("replicas")
        .ok_or_else(|| Problem::unprocessable("field replicas is missing"))?;
    // JSON Schema's integer: `3.0` is one too.
    let whole = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
            .map(|f| f as u64)
    });
    match whole {
        Some(n) if n <= MAX_REPLICAS => Ok(n as u32),
        Some(n) => Err(Problem::unprocessable(format!(
            "field replicas: {n} is more than {MAX_REPLICAS}"
        ))),
        None => Err(Problem::unprocessable(format!(
            "field replicas: {value} is not a whole number from 0 to {MAX_REPLICAS}"
        ))),
    }
}

/// The request body, at most [`MAX_BODY`] bytes (413 beyond).
async fn read_body(req: Request<Incoming>) -> Result<Bytes, Problem> {
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {MAX_BODY} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Err(e) => Err(Problem::bad_request(format!("cannot read the body: {e}"))),
    }
}

/// The largest number a query parameter or `Last-Event-ID` takes (as openapi.json says).
pub(crate) const MAX_NUMBER: u64 = 1_000_000_000;

/// The numeric value of query parameter `name`, if given: 0 to [`MAX_NUMBER`].
pub(crate) fn number(query: &[(String, String)], name: &str) -> Result<Option<u64>, Problem> {
    let Some((_, v)) = query.iter().find(|(k, _)| k == name) else {
        return Ok(None);
    };
    match v.parse::<u64>() {
        Ok(n) if n <= MAX_NUMBER => Ok(Some(n)),
        _ => Err(Problem::bad_request(format!(
            "query parameter {name}: {v:?} is not a whole number from 0 to {MAX_NUMBER}"
        ))),
    }
}

/// `key=value` pairs of the query (percent-decoding `%XX` and `+`).
fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// 401 unless `Authorization: Bearer <token>` carries the token.
/// `where_to_find` tells the client where the token is.
pub(crate) fn check_token<B>(
    req: &Request<B>,
    token: &str,
    where_to_find: &str,
) -> Result<(), Problem> {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(g) if !token.is_empty() && token::same(g, token) => Ok(()),
        Some(_) => Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "the bearer token is wrong",
        )),
        None => Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            format!("this API needs `Authorization: Bearer <token>` ({where_to_find})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_body_rules() {
        let table: &[(&str, Result<u32, u16>)] = &[
            (r#"{"replicas": 3}"#, Ok(3)),
            (r#"{"replicas": 0}"#, Ok(0)),
            (r#"{"replicas": -1}"#, Err(422)),
            (r#"{"replicas": 1.5}"#, Err(422)),
            (r#"{"replicas": 3.0}"#, Ok(3)),
            (r#"{"replicas": -0.0}"#, Ok(0)),
            (r#"{"replicas": 1e300}"#, Err(422)),
            (r#"{"replicas": "3"}"#, Err(422)),
            (r#"{"replicas": 1001}"#, Err(422)),
            (r#"{"replica": 3}"#, Err(422)),
            (r#"{}"#, Err(422)),
            (r#"[3]"#, Err(422)),
            (r#"{"replicas": 3"#, Err(400)),
            ("", Err(400)),
        ];
        for (body, want) in table {
            let got = replicas(body.as_bytes()).map_err(|p| p.status.as_u16());
            assert_eq!(&got, want, "{body}");
        }
    }

    #[test]
    fn query_pairs_are_decoded() {
        assert_eq!(
            parse_query(Some("tail=5&stream=std%6Fut&follow")),
            vec![
                ("tail".to_string(), "5".to_string()),
                ("stream".to_string(), "stdout".to_string()),
                ("follow".to_string(), String::new()),
            ]
        );
        assert!(parse_query(None).is_empty());
    }
}
