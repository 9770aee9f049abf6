//! The proxy's edges: a corpus of malformed backend responses, each through an entrance
//! and through a gateway, answered with the status docs/proxy.md ("Malformed responses")
//! promises, the proxy serving on afterwards; and the client-side edges: forged
//! forwarding headers, dot segments in paths, a missing or invalid Host.
//!
//! The fake backends are plain TCP (they write bytes no HTTP library would) and the
//! client is a raw socket too, so that a closed connection with no status line shows.

mod common;
use common::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// What a fake backend does once it has read a request head.
#[derive(Debug, Clone)]
enum Act {
    /// Writes these bytes in one write, then closes.
    Say(Vec<u8>),
    /// Closes without a byte.
    Close,
    /// Holds the connection and says nothing.
    Silence,
}

/// One malformed response and the status the client must get.
struct Case {
    name: &'static str,
    act: Act,
    status: u16,
    /// The body the client must get in full; `None` where the connection is closed
    /// after the status (body bytes were on the wire) or the body is the proxy's own.
    body: Option<&'static str>,
}

fn say(text: &str) -> Act {
    Act::Say(text.as_bytes().to_vec())
}

fn corpus() -> Vec<Case> {
    let many_headers: String = (0..5000).map(|i| format!("x-h{i}: v\r\n")).collect();
    let huge = format!(
        "HTTP/1.1 200 OK\r\nx-big: {}\r\ncontent-length: 2\r\n\r\nok",
        "a".repeat(100 * 1024)
    );
    let flood = format!(
        "{}HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        "HTTP/1.1 100 Continue\r\n\r\n".repeat(1000)
    );
    let case = |name, act, status, body| Case {
        name,
        act,
        status,
        body,
    };
    vec![
        case("garbage status line", say("HELLO THERE\r\n\r\n"), 502, None),
        case(
            "bad status code",
            say("HTTP/1.1 600 Nope\r\ncontent-length: 2\r\n\r\nok"),
            502,
            None,
        ),
        case(
            "CL+TE",
            say("HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            200,
            Some("hello"),
        ),
        case(
            "two different Content-Lengths",
            say("HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!"),
            502,
            None,
        ),
        case(
            "negative Content-Length",
            say("HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\nhello"),
            502,
            None,
        ),
        case(
            "invalid chunk size",
            say("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
            502,
            None,
        ),
        case(
            "short body",
            say("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhello"),
            200,
            None,
        ),
        // a body that breaks once the head is out: the status, then the close
        case(
            "head, then close",
            say("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n"),
            200,
            None,
        ),
        case(
            "invalid chunk size after a chunk",
            say("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"),
            200,
            None,
        ),
        case(
            "transfer coding other than chunked",
            say("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            502,
            None,
        ),
        case(
            "the same Content-Length twice",
            say("HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\nhello"),
            200,
            Some("hello"),
        ),
        case("huge header", Act::Say(huge.into_bytes()), 502, None),
        case(
            "5,000 headers",
            Act::Say(format!("HTTP/1.1 200 OK\r\n{many_headers}content-length: 2\r\n\r\nok").into_bytes()),
            502,
            None,
        ),
        case(
            "NUL in a header",
            Act::Say(b"HTTP/1.1 200 OK\r\nx-nul: a\0b\r\ncontent-length: 2\r\n\r\nok".to_vec()),
            502,
            None,
        ),
        case(
            "bare LF line ends",
            say("HTTP/1.1 200 OK\ncontent-length: 5\n\nhello"),
            200,
            Some("hello"),
        ),
        case(
            "obs-fold",
            say("HTTP/1.1 200 OK\r\nx-fold: a\r\n b\r\ncontent-length: 2\r\n\r\nok"),
            502,
            None,
        ),
        case("1xx flood", Act::Say(flood.into_bytes()), 502, None),
        case("early close", Act::Close, 502, None),
        case("silence", Act::Silence, 504, None),
    ]
}

/// A backend doing `act` on every connection; aborted with its connections when dropped.
async fn fake_backend(act: Act) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            let act = act.clone();
            conns.spawn(async move {
                read_head(&mut stream).await;
                match act {
                    Act::Say(bytes) => {
                        let _ = stream.write_all(&bytes).await;
                    }
                    Act::Close => {}
                    Act::Silence => std::future::pending::<()>().await,
                }
            });
        }
    });
    Server::new(addr, task)
}

/// Reads until the end of a request head (or EOF, or 64 KiB).
async fn read_head(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 64 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// What a raw client got: the status of the first status line, if any, and the body
/// after the head, read until the proxy closed (or 5 s passed).
#[derive(Debug)]
struct Raw {
    status: Option<u16>,
    head: String,
    body: Vec<u8>,
    /// The body as it came, chunked or not.
    wire: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends `request` as it is on a new connection and reads everything until EOF.
async fn raw(addr: SocketAddr, request: &[u8]) -> Raw {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send");
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "no end of response within 5 s: {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    let split = got.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, body) = match split {
        Some(i) => (&got[..i], got[i + 4..].to_vec()),
        None => (&got[..], Vec::new()),
    };
    let head = String::from_utf8_lossy(head).into_owned();
    let chunked = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(n, v)| {
            n.eq_ignore_ascii_case("transfer-encoding") && v.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let wire = body.clone();
    let body = if chunked { dechunk(&body) } else { body };
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    Raw {
        status,
        head,
        body,
        wire,
    }
}

/// The data of a chunked body (as far as it is well formed).
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..end]).ok();
        let Some(size) = size.and_then(|s| usize::from_str_radix(s, 16).ok()) else {
            break;
        };
        rest = &rest[end + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
    out
}

fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").into_bytes()
}

/// A proxy with gateway `bad` (over `bad`) at `addrs[0]` and `ok` (over `ok`) at
/// `addrs[1]`, an entrance for each, and `extra` YAML on gateway `bad`.
async fn two_gateways(bad: SocketAddr, ok: SocketAddr, extra: &str) -> (Proxy, Vec<SocketAddr>) {
    let extra = extra.to_string();
    Proxy::start(2, move |http, g| {
        format!(
            "version: 1\nhttp: {{listen: \"{http}\"}}\nentrances: [{{name: bad, gateway: bad}}, {{name: ok, gateway: ok}}]\n\
             gateways:\n  - {{name: bad, listen: \"{}\", protocol: http, backends: [\"{bad}\"]{extra}}}\n  \
             - {{name: ok, listen: \"{}\", protocol: http, backends: [\"{ok}\"]}}\n",
            g[0], g[1]
        )
    })
    .await
}

async fn assert_serving(proxy: &Proxy, ok_gateway: SocketAddr, after: &str) {
    for (addr, path) in [(proxy.http, "/entrances/ok/"), (ok_gateway, "/")] {
        let r = raw(addr, &get_request(path)).await;
        assert_eq!(r.status, Some(200), "{path} after {after}: {}", r.head);
        assert_eq!(r.body, b"ok", "{path} after {after}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_malformed_response_gets_its_documented_status() {
    let good = http_backend("ok").await;
    for case in corpus() {
        let bad = fake_backend(case.act.clone()).await;
        let (proxy, g) = two_gateways(bad.addr, good.addr, "").await;
        for (via, addr, path) in [
            ("entrance", proxy.http, "/entrances/bad/x"),
            ("gateway", g[0], "/x"),
        ] {
            let started = Instant::now();
            let r = raw(addr, &get_request(path)).await;
            let what = format!("{} via the {via}", case.name);
            assert_eq!(r.status, Some(case.status), "{what}: {}", r.head);
            if let Some(body) = case.body {
                assert_eq!(String::from_utf8_lossy(&r.body), body, "{what}");
                assert!(
                    r.header("content-length").is_none_or(|l| l == "5"),
                    "{what}: {}",
                    r.head
                );
            }
            if case.status >= 500 {
                assert_eq!(
                    r.header("content-type"),
                    Some("text/plain; charset=utf-8"),
                    "{what}"
                );
            }
            // the test limits' response timeout is 500 ms: no case may wait for much more
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{what} took {:?}",
                started.elapsed()
            );
        }
        assert_serving(&proxy, g[1], case.name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_body_ends_with_a_closed_connection_after_its_status() {
    let good = http_backend("ok").await;
    let bad = fake_backend(say("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhello")).await;
    let (proxy, g) = two_gateways(bad.addr, good.addr, "").await;
    // keep-alive asked for: the proxy must close all the same, the body being short
    let request = b"GET /x HTTP/1.1\r\nHost: test\r\n\r\n";
    let r = raw(g[0], request).await;
    assert_eq!(r.status, Some(200), "{}", r.head);
    assert_eq!(r.header("content-length"), Some("100"));
    assert_eq!(r.body, b"hello");
    assert_serving(&proxy, g[1], "short body").await;
}

/// A request for `path` with `Host: test` and these extra header lines.
fn request_with(path: &str, headers: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n{headers}Connection: close\r\n\r\n").into_bytes()
}

const FORGED: &str = "X-Forwarded-For: 10.6.6.6\r\nX-Forwarded-Proto: https\r\n\
    X-Forwarded-Host: evil\r\nX-Forwarded-Prefix: /admin\r\nX-Real-IP: 10.6.6.7\r\n\
    Forwarded: for=10.6.6.8\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_forwarding_headers_stop_at_the_door() {
    let good = http_backend("ok").await;
    let (proxy, g) = two_gateways(good.addr, good.addr, "").await;
    for (via, addr, path, prefix) in [
        (
            "entrance",
            proxy.http,
            "/entrances/bad/x",
            Some("/entrances/bad"),
        ),
        ("gateway", g[0], "/x", None),
    ] {
        let r = raw(addr, &request_with(path, FORGED)).await;
        assert_eq!(r.status, Some(200), "{via}: {}", r.head);
        assert_eq!(
            r.header("x-seen-x-forwarded-for"),
            Some("127.0.0.1"),
            "{via}"
        );
        assert_eq!(r.header("x-seen-x-real-ip"), Some("127.0.0.1"), "{via}");
        assert_eq!(
            r.header("x-seen-forwarded"),
            Some("for=127.0.0.1;proto=http"),
            "{via}"
        );
        assert_eq!(r.header("x-seen-x-forwarded-proto"), Some("http"), "{via}");
        assert_eq!(r.header("x-seen-x-forwarded-host"), Some("test"), "{via}");
        assert_eq!(r.header("x-seen-x-forwarded-prefix"), prefix, "{via}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_keeps_the_chain_of_a_trusted_proxy_only() {
    let good = http_backend("ok").await;
    let trusted = ", trusted_proxies: [\"127.0.0.0/8\"]";
    let (proxy, g) = two_gateways(good.addr, good.addr, trusted).await;
    let r = raw(g[0], &request_with("/x", FORGED)).await;
    assert_eq!(r.status, Some(200), "{}", r.head);
    assert_eq!(
        r.header("x-seen-x-forwarded-for"),
        Some("10.6.6.6, 127.0.0.1")
    );
    assert_eq!(r.header("x-seen-x-real-ip"), Some("10.6.6.6"));
    assert_eq!(
        r.header("x-seen-forwarded"),
        Some("for=10.6.6.8, for=127.0.0.1;proto=http")
    );
    assert_eq!(r.header("x-seen-x-forwarded-proto"), Some("https"));
    assert_eq!(r.header("x-seen-x-forwarded-host"), Some("evil"));
    assert_eq!(r.header("x-seen-x-forwarded-prefix"), Some("/admin"));
    // the entrance in front of the same gateway trusts nobody
    let r = raw(proxy.http, &request_with("/entrances/bad/x", FORGED)).await;
    assert_eq!(r.header("x-seen-x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(
        r.header("x-seen-x-forwarded-prefix"),
        Some("/entrances/bad")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_are_removed_before_routing_and_an_escape_is_400() {
    let bad = http_backend("bad").await;
    let good = http_backend("ok").await;
    let (proxy, g) = two_gateways(bad.addr, good.addr, "").await;
    let cases = [
        (
            proxy.http,
            "/entrances/bad/../ok/a/./b/../c?q=1",
            200,
            Some("/a/c?q=1"),
        ),
        (proxy.http, "/entrances/bad/%2e%2E/ok/x", 200, Some("/x")),
        (proxy.http, "/entrances/echo/../../etc/passwd", 404, None),
        (proxy.http, "/entrances/ok/../../../etc/passwd", 400, None),
        (proxy.http, "/_lcc/./health", 200, None),
        (g[1], "/a/../b/./c", 200, Some("/b/c")),
        (g[1], "/../etc/passwd", 400, None),
        (g[1], "/.well-known/x", 200, Some("/.well-known/x")),
    ];
    for (addr, path, status, seen) in cases {
        let r = raw(addr, &get_request(path)).await;
        assert_eq!(r.status, Some(status), "{path}: {}", r.head);
        if let Some(seen) = seen {
            assert_eq!(r.header("x-path"), Some(seen), "{path}");
            assert_eq!(r.header("x-backend"), Some("ok"), "{path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_valid_host_is_400() {
    let good = http_backend("ok").await;
    let (proxy, g) = two_gateways(good.addr, good.addr, "").await;
    for addr in [proxy.http, g[0]] {
        let path = if addr == proxy.http {
            "/entrances/ok/"
        } else {
            "/"
        };
        for head in [
            format!("GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n"),
            format!("GET {path} HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n"),
            format!("GET {path} HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"),
            format!("GET {path} HTTP/1.1\r\nHost: a/b\r\nConnection: close\r\n\r\n"),
        ] {
            let r = raw(addr, head.as_bytes()).await;
            assert_eq!(r.status, Some(400), "{head:?}: {}", r.head);
        }
        // HTTP/1.0 may leave it out: the backend gets its own authority as the Host
        let r = raw(addr, format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes()).await;
        assert!(
            r.head.starts_with("HTTP/1.") && r.head[9..].starts_with("200"),
            "{}",
            r.head
        );
        let sent = format!("x-seen-host: {}\r\n", good.addr);
        assert!(r.head.contains(&sent), "{}", r.head);
        // one that has a Host keeps it
        let head = format!("GET {path} HTTP/1.0\r\nHost: app.localhost\r\n\r\n");
        let r = raw(addr, head.as_bytes()).await;
        assert!(
            r.head.contains("x-seen-host: app.localhost\r\n"),
            "{}",
            r.head
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateways_own_response_timeout_gives_504() {
    let good = http_backend("ok").await;
    let silent = fake_backend(Act::Silence).await;
    // the proxy's own response timeout is long: only the gateway's can answer in time
    let limits = lcc_proxy::Limits {
        response_timeout: Duration::from_secs(30),
        ..test_limits()
    };
    let extra = ", timeouts: {response_ms: 200, connect_ms: 1000, idle_ms: 5000}".to_string();
    let (proxy, g) = Proxy::start_with(limits, 2, move |http, g| {
        format!(
            "version: 1\nhttp: {{listen: \"{http}\"}}\nentrances: [{{name: bad, gateway: bad}}, {{name: ok, gateway: ok}}]\n\
             gateways:\n  - {{name: bad, listen: \"{}\", protocol: http, backends: [\"{}\"]{extra}}}\n  \
             - {{name: ok, listen: \"{}\", protocol: http, backends: [\"{}\"]}}\n",
            g[0], silent.addr, g[1], good.addr
        )
    })
    .await;
    for (addr, path) in [(proxy.http, "/entrances/bad/"), (g[0], "/")] {
        let started = Instant::now();
        let r = raw(addr, &get_request(path)).await;
        assert_eq!(r.status, Some(504), "{path}: {}", r.head);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(3),
            "{took:?}"
        );
    }
    assert_serving(&proxy, g[1], "a gateway timeout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trailers_of_a_chunked_response_go_on_to_http1_and_http2_clients() {
    use http_body_util::BodyExt;
    let good = http_backend("ok").await;
    let bad = fake_backend(say(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-sum, content-length\r\n\r\n\
         5\r\nhello\r\n0\r\nx-sum: 42\r\ncontent-length: 9\r\nno colon\r\n\r\n",
    ))
    .await;
    let (proxy, g) = two_gateways(bad.addr, good.addr, "").await;
    // HTTP/1.1: only to a client that said it takes them (hyper's rule, RFC 9110 10.1.4);
    // what no trailer may carry, and a line that is no field, stay behind
    let asked = b"GET /x HTTP/1.1\r\nHost: test\r\nTE: trailers\r\nConnection: close\r\n\r\n";
    let r = raw(g[0], asked).await;
    assert_eq!(r.status, Some(200), "{}", r.head);
    assert_eq!(r.header("trailer"), Some("x-sum, content-length"));
    assert_eq!(r.body, b"hello");
    let wire = String::from_utf8_lossy(&r.wire);
    assert!(wire.ends_with("0\r\nx-sum: 42\r\n\r\n"), "{wire:?}");
    let plain = raw(
        g[0],
        b"GET /x HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(plain.body, b"hello");
    let wire = String::from_utf8_lossy(&plain.wire);
    assert!(wire.ends_with("0\r\n\r\n"), "{wire:?}");
    // HTTP/2 (h2c on the entrance's listener): a trailing HEADERS frame
    let stream = TcpStream::connect(proxy.http).await.expect("connect");
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2c handshake");
    tokio::spawn(conn);
    let req = hyper::Request::get(format!("http://{}/entrances/bad/x", proxy.http))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(5), send.send_request(req))
        .await
        .expect("in time")
        .expect("response");
    assert_eq!(resp.status(), 200);
    let body = tokio::time::timeout(Duration::from_secs(5), resp.into_body().collect())
        .await
        .expect("in time")
        .expect("body");
    let trailers = body.trailers().cloned().expect("trailers");
    assert_eq!(trailers.len(), 1, "{trailers:?}");
    assert_eq!(trailers["x-sum"], "42");
    assert_eq!(body.to_bytes(), "hello");
    assert_serving(&proxy, g[1], "trailers").await;
    // trailers of which none may go on: the body ends as if there were none
    let bad = fake_backend(say(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: content-length\r\n\r\n\
         5\r\nhello\r\n0\r\ncontent-length: 9\r\nhost: elsewhere\r\n\r\n",
    ))
    .await;
    let (_proxy, g) = two_gateways(bad.addr, good.addr, "").await;
    let r = raw(g[0], asked).await;
    assert_eq!(r.body, b"hello");
    let wire = String::from_utf8_lossy(&r.wire);
    assert!(wire.ends_with("\r\n0\r\n\r\n"), "{wire:?}");
}
