//! Test kit for the proxy's integration tests: backends that answer with their id, a
//! proxy run in-process on prebound loopback listeners, an HTTP client, and polling.
#![allow(dead_code)]

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use lcc_proxy::{Accept, Limits, Options, Prebound};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// A body a test sends or receives.
pub type TestBody = BoxBody<Bytes, std::io::Error>;

/// Polls `cond` every 20 ms until it holds; panics with `what` after `limit`.
pub async fn wait_until<F, Fut>(limit: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A server task that is aborted (with its connections) when dropped.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    /// The server `task` listening at `addr`.
    pub fn new(addr: SocketAddr, task: JoinHandle<()>) -> Self {
        Self { addr, task }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An address nothing listens on, nor can while the tests run: a socket bound to it
/// without listening holds it (and is left open), so a connection to it is refused. A
/// port bound and closed again may be taken by another test's listener meanwhile.
pub fn dead_addr() -> SocketAddr {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    socket.bind(&any.into()).expect("bind");
    let addr = socket
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("inet");
    std::mem::forget(socket);
    addr
}

/// An address free to bind a moment later (bound, then closed), for a proxy under test
/// that binds it itself. On 127.0.0.2: a client socket of a test running alongside,
/// which takes its port from the same range, takes it on 127.0.0.1 (the source address
/// of every loopback connection), so it cannot hold the port meanwhile.
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.2:0").expect("bind");
    l.local_addr().expect("addr")
}

async fn serve_with<F, Fut>(handler: F) -> Server
where
    F: Fn(TcpListener) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind backend");
    let addr = listener.local_addr().expect("addr");
    Server {
        addr,
        task: tokio::spawn(handler(listener)),
    }
}

/// An HTTP backend answering with its `id`: body = id, `x-backend: id`, `x-path` = the
/// path it was asked for, `x-seen-<h>` echoing X-Forwarded-*, X-Real-IP, Forwarded,
/// Connection, Cookie and body framing headers. `/slow` answers after 10 s, `/upload`
/// counts the body and echoes its trailer fields as `x-trailer-<name>`, `/early`
/// answers 413 without reading it, `/download?N` streams N bytes, `/drain?N` too while
/// it reads the request's body and throws it away.
pub async fn http_backend(id: &'static str) -> Server {
    serve_with(move |listener| async move {
        let mut conns = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            conns.spawn(async move {
                let svc = service_fn(move |req| answer(id, req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
    .await
}

async fn answer(
    id: &'static str,
    req: Request<Incoming>,
) -> Result<Response<TestBody>, Infallible> {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let mut builder = Response::builder()
        .header("x-backend", id)
        .header("x-path", &path);
    for (name, value) in req.headers() {
        let framing = name == "content-length" || name == "transfer-encoding";
        if name.as_str().starts_with("x-forwarded-")
            || name == "x-real-ip"
            || name == "forwarded"
            || name == "connection"
            || name == "keep-alive"
            || name == "host"
            || name == "cookie"
            || framing
        {
            builder = builder.header(format!("x-seen-{name}"), value);
        }
    }
    let body = match req.uri().path() {
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            full(id)
        }
        "/upload" => {
            let mut body = req.into_body();
            let mut n = 0u64;
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(f) => {
                        n += f.data_ref().map_or(0, |d| d.len() as u64);
                        if let Some(trailers) = f.trailers_ref() {
                            for (name, value) in trailers {
                                builder = builder.header(format!("x-trailer-{name}"), value);
                            }
                        }
                    }
                    Err(_) => break,
                }
            }
            full(n.to_string())
        }
        "/early" => {
            let resp = builder.status(413).body(full("early"));
            return Ok(resp.expect("response"));
        }
        "/download" => {
            let n: u64 = req.uri().query().and_then(|q| q.parse().ok()).unwrap_or(0);
            generated(n)
        }
        "/drain" => {
            // the body read to its end and thrown away while the answer goes out
            let n: u64 = req.uri().query().and_then(|q| q.parse().ok()).unwrap_or(0);
            let mut body = req.into_body();
            tokio::spawn(async move { while let Some(Ok(_)) = body.frame().await {} });
            generated(n)
        }
        _ => full(id),
    };
    Ok(builder.body(body).expect("response"))
}

/// A body of `data`.
pub fn full(data: impl Into<Bytes>) -> TestBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A streamed body of `n` generated bytes, made 64 KiB at a time.
pub fn generated(n: u64) -> TestBody {
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let stream = futures_util::stream::unfold(n, move |left| {
        let chunk = chunk.clone();
        async move {
            if left == 0 {
                return None;
            }
            let take = left.min(chunk.len() as u64);
            let piece = chunk.slice(..take as usize);
            Some((Ok::<_, std::io::Error>(Frame::data(piece)), left - take))
        }
    });
    BodyExt::boxed(StreamBody::new(stream))
}

/// A TCP backend: answers each line with `ID:line`, and on the client's EOF writes
/// `ID:eof` and closes.
pub async fn tcp_backend(id: &'static str) -> Server {
    serve_with(move |listener| async move {
        let mut conns = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            conns.spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if write
                        .write_all(format!("{id}:{line}\n").as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                let _ = write.write_all(format!("{id}:eof\n").as_bytes()).await;
            });
        }
    })
    .await
}

/// A backend that reads a request and closes the connection without answering.
pub async fn broken_backend() -> Server {
    serve_with(|listener| async move {
        let mut conns = JoinSet::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            conns.spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
            });
        }
    })
    .await
}

/// A backend that reads one request per connection and answers `held` only once `release`
/// is notified.
pub async fn gated_backend(release: std::sync::Arc<tokio::sync::Notify>) -> Server {
    serve_with(move |listener| {
        let release = release.clone();
        async move {
            let mut conns = JoinSet::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                let release = release.clone();
                conns.spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    release.notified().await;
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nheld")
                        .await;
                });
            }
        }
    })
    .await
}

/// A websocket echo backend.
pub async fn ws_backend() -> Server {
    serve_with(|listener| async move {
        let mut conns = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            conns.spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_close() || futures_util::SinkExt::send(&mut ws, msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    })
    .await
}

/// A proxy run in this process on prebound listeners; stopped when dropped.
#[derive(Debug)]
pub struct Proxy {
    /// Its config file.
    pub config: PathBuf,
    /// The entrance listener.
    pub http: SocketAddr,
    /// Listeners bound for later use by the config.
    pub prebound: Prebound,
    /// The proxy's listeners file (what it serves, and its certificate problems).
    pub listeners: PathBuf,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<Result<(), lcc_proxy::ProxyError>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

/// Limits shrunk so failure tests finish fast.
pub fn test_limits() -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(500),
        max_head_bytes: 16 * 1024,
        response_timeout: Duration::from_millis(500),
        drain_timeout: Duration::from_secs(2),
        poll_interval: Duration::from_millis(200),
        ..Limits::default()
    }
}

impl Proxy {
    /// Binds the entrance listener plus `extra` gateway listeners, writes the config made
    /// by `config(http, extra)` and starts the proxy on it.
    pub async fn start(
        extra: usize,
        config: impl Fn(SocketAddr, &[SocketAddr]) -> String,
    ) -> (Proxy, Vec<SocketAddr>) {
        Self::start_with(test_limits(), extra, config).await
    }

    /// [`Proxy::start`] with other limits.
    pub async fn start_with(
        limits: Limits,
        extra: usize,
        config: impl Fn(SocketAddr, &[SocketAddr]) -> String,
    ) -> (Proxy, Vec<SocketAddr>) {
        Self::start_on(limits, 1, Accept::Shared, extra, config).await
    }

    /// [`Proxy::start`] on `workers` worker threads sharing each address as `accept`
    /// says: prebound listeners for [`Accept::Shared`], addresses the proxy binds itself
    /// (one socket per worker) for [`Accept::ReusePort`].
    pub async fn start_on(
        limits: Limits,
        workers: usize,
        accept: Accept,
        extra: usize,
        config: impl Fn(SocketAddr, &[SocketAddr]) -> String,
    ) -> (Proxy, Vec<SocketAddr>) {
        let prebound = Prebound::new();
        let bind = || match accept {
            Accept::Shared => prebound.bind_local().expect("bind"),
            Accept::ReusePort => free_addr(),
        };
        let http = bind();
        let addrs: Vec<_> = (0..extra).map(|_| bind()).collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("proxy.conf");
        std::fs::write(&path, config(http, &addrs)).expect("write config");
        let mut options = Options::new(&path);
        options.limits = limits;
        options.prebound = prebound.clone();
        options.sighup = false;
        options.workers = workers;
        options.accept = accept;
        let listeners = dir.path().join("proxy.listeners");
        options.listeners = Some(listeners.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(lcc_proxy::run(options, async move {
            let _ = stopped.await;
        }));
        let proxy = Proxy {
            config: path,
            http,
            prebound,
            listeners,
            _dir: dir,
            stop: Some(stop),
            task,
        };
        (proxy, addrs)
    }

    /// Replaces the config by writing a temp file and renaming it into place.
    pub fn write_by_rename(&self, text: &str) {
        let tmp = self.config.with_extension("tmp");
        std::fs::write(&tmp, text).expect("write temp");
        std::fs::rename(&tmp, &self.config).expect("rename");
    }

    /// Rewrites the config file in place (truncate, then write).
    pub fn write_in_place(&self, text: &str) {
        std::fs::write(&self.config, text).expect("write in place");
    }

    /// The metrics page.
    pub async fn metrics(&self) -> String {
        let r = get(&client(), self.http, "/_lcc/metrics").await;
        r.body
    }

    /// The value of one metrics line (`name{labels}`), or 0.
    pub async fn metric(&self, series: &str) -> u64 {
        metric_value(&self.metrics().await, series)
    }
}

/// The value of `series` in a Prometheus text page, or 0.
pub fn metric_value(page: &str, series: &str) -> u64 {
    page.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0)
}

/// A keep-alive HTTP client.
pub fn client() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// A response read whole (small bodies only).
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: http::HeaderMap,
    /// Body as text.
    pub body: String,
}

impl Answer {
    /// One header as text, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Sends `req` and reads the whole answer.
pub async fn send(client: &Client<HttpConnector, TestBody>, req: Request<TestBody>) -> Answer {
    let resp = client.request(req).await.expect("request");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// `GET http://addr/path`.
pub async fn get(client: &Client<HttpConnector, TestBody>, addr: SocketAddr, path: &str) -> Answer {
    send(client, request(addr, path)).await
}

/// A `GET` request to `addr` for `path`.
pub fn request(addr: SocketAddr, path: &str) -> Request<TestBody> {
    Request::get(format!("http://{addr}{path}"))
        .body(full(""))
        .expect("request")
}

/// The id of the backend answering `GET path` on `addr`, or "" on any failure.
pub async fn who(client: &Client<HttpConnector, TestBody>, addr: SocketAddr, path: &str) -> String {
    backend_of(client.request(request(addr, path)).await.ok())
}

/// The `x-backend` of a 200 answer, or "" for anything else.
pub fn backend_of<B>(resp: Option<hyper::Response<B>>) -> String {
    match resp {
        Some(resp) if resp.status() == 200 => resp
            .headers()
            .get("x-backend")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
        _ => String::new(),
    }
}

/// An entrance config: one http gateway `web` at `gw` over `backends`, entrance `web`.
pub fn web_config(http: SocketAddr, gw: SocketAddr, backends: &[SocketAddr]) -> String {
    let list: Vec<String> = backends.iter().map(|b| format!("\"{b}\"")).collect();
    format!(
        "version: 1\nhttp: {{listen: \"{http}\"}}\nentrances: [{{name: web, gateway: web}}]\ngateways:\n  - {{name: web, listen: \"{gw}\", protocol: http, backends: [{}]}}\n",
        list.join(", ")
    )
}
