//! The http listener: entrance routing, redirects, forwarded headers, the listing,
//! health and metrics, websockets, and the slowloris and oversized-head guards.

mod common;
use common::*;
use futures_util::{SinkExt, StreamExt};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn one_web(backend: std::net::SocketAddr) -> Proxy {
    let (proxy, _) = Proxy::start(1, |http, g| web_config(http, g[0], &[backend])).await;
    let client = client();
    let http = proxy.http;
    wait_until(Duration::from_secs(5), "entrance up", || async {
        !who(&client, http, "/entrances/web/").await.is_empty()
    })
    .await;
    proxy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entrance_strips_its_prefix_and_sets_forwarded_headers() {
    let a = http_backend("a").await;
    let proxy = one_web(a.addr).await;
    let client = client();
    let req = http::Request::get(format!("http://{}/entrances/web/x/y?q=1&r", proxy.http))
        .header("x-forwarded-for", "10.9.8.7")
        .header("connection", "keep-alive, x-private")
        .header("x-private", "secret")
        .header("keep-alive", "timeout=5")
        .body(full(""))
        .expect("request");
    let r = send(&client, req).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-path"), "/x/y?q=1&r");
    // what the client claims is replaced by what the proxy saw
    assert_eq!(r.header("x-seen-x-forwarded-for"), "127.0.0.1");
    assert_eq!(r.header("x-seen-x-real-ip"), "127.0.0.1");
    assert_eq!(r.header("x-seen-forwarded"), "for=127.0.0.1;proto=http");
    assert_eq!(r.header("x-seen-x-forwarded-proto"), "http");
    assert_eq!(r.header("x-seen-x-forwarded-host"), proxy.http.to_string());
    assert_eq!(r.header("x-seen-x-forwarded-prefix"), "/entrances/web");
    assert_eq!(r.header("x-seen-keep-alive"), "");
    assert_eq!(r.header("x-seen-connection"), "");
    let r = get(&client, proxy.http, "/entrances/web/").await;
    assert_eq!(r.header("x-path"), "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_entrance_redirects_unknown_is_404_and_root_lists() {
    let a = http_backend("a").await;
    let proxy = one_web(a.addr).await;
    let client = client();
    let r = get(&client, proxy.http, "/entrances/web?x=1").await;
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), "/entrances/web/?x=1");
    let r = get(&client, proxy.http, "/entrances/nope/").await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("nope"));
    assert_eq!(get(&client, proxy.http, "/elsewhere").await.status, 404);
    let r = get(&client, proxy.http, "/").await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").starts_with("text/html"));
    assert!(
        r.body.contains("<a href=\"/entrances/web/\">web</a>"),
        "{}",
        r.body
    );
    let req = http::Request::get(format!("http://{}/", proxy.http))
        .header("accept", "application/json")
        .body(full(""))
        .expect("request");
    let r = send(&client, req).await;
    let json: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!(json["entrances"][0]["name"], "web");
    assert_eq!(json["entrances"][0]["gateway"], "web");
    assert_eq!(json["entrances"][0]["path"], "/entrances/web/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics() {
    let a = http_backend("a").await;
    let proxy = one_web(a.addr).await;
    let client = client();
    let r = get(&client, proxy.http, "/_lcc/health").await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
    let before = proxy
        .metric("lcc_proxy_requests_total{kind=\"entrance\",name=\"web\"}")
        .await;
    for _ in 0..5 {
        get(&client, proxy.http, "/entrances/web/").await;
    }
    assert_eq!(get(&client, proxy.http, "/entrances/web").await.status, 308);
    let page = proxy.metrics().await;
    assert_eq!(
        metric_value(
            &page,
            "lcc_proxy_requests_total{kind=\"entrance\",name=\"web\"}"
        ),
        before + 5,
        "{page}"
    );
    assert!(
        metric_value(
            &page,
            "lcc_proxy_sent_bytes_total{kind=\"entrance\",name=\"web\"}"
        ) >= 5
    );
    assert!(page.contains("# TYPE lcc_proxy_requests_total counter"));
    assert!(page.contains("lcc_proxy_errors_total{kind=\"gateway\",name=\"web\"} 0"));
    assert!(page.contains("lcc_proxy_reloads_total{result=\"refused\"} 0"));
    assert!(
        metric_value(&page, "lcc_proxy_active_connections") >= 1,
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_echo_through_an_entrance() {
    let ws = ws_backend().await;
    let (proxy, _) = Proxy::start(1, |http, g| web_config(http, g[0], &[ws.addr])).await;
    let url = format!("ws://{}/entrances/web/socket", proxy.http);
    // the listener is bound before the proxy starts, so the handshake just queues
    let connect = tokio_tungstenite::connect_async(url);
    let (socket, _) = tokio::time::timeout(Duration::from_secs(10), connect)
        .await
        .expect("handshake in time")
        .expect("handshake");
    let mut socket = socket;
    for text in ["hello", "again"] {
        socket
            .send(tokio_tungstenite::tungstenite::Message::text(text))
            .await
            .expect("send");
        let echo = socket.next().await.expect("echo").expect("frame");
        assert_eq!(echo.into_text().expect("text").as_str(), text);
    }
    let _ = socket.close(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_client_is_cut_off() {
    let a = http_backend("a").await;
    let proxy = one_web(a.addr).await;
    let mut stream = TcpStream::connect(proxy.http).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    // trickle a header line every 50 ms: the head never completes, the proxy must hang up
    let mut closed = false;
    for i in 0..200 {
        if stream
            .write_all(format!("X-{i}: y\r\n").as_bytes())
            .await
            .is_err()
        {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(50), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            // hyper may answer 408 before closing
            Ok(Ok(_)) | Err(_) => {}
        }
    }
    assert!(closed, "a client trickling its head was not cut off");
}

/// Reads from `stream` until it closes (Ok) or 5 s pass (Err); returns what was read.
async fn read_to_close(stream: &mut TcpStream) -> Result<String, String> {
    let mut seen = Vec::new();
    let read = async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    let closed = tokio::time::timeout(Duration::from_secs(5), read).await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    closed.map(|_| text.clone()).map_err(|_| text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_timeout_closes_idle_connections_but_never_a_request_in_flight() {
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let gated = gated_backend(release.clone()).await;
    let limits = lcc_proxy::Limits {
        header_read_timeout: Duration::from_millis(300),
        response_timeout: Duration::from_secs(10),
        ..test_limits()
    };
    let (proxy, g) =
        Proxy::start_with(limits, 1, |http, g| web_config(http, g[0], &[gated.addr])).await;
    let mut busy = TcpStream::connect(g[0]).await.expect("connect");
    busy.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut idle = TcpStream::connect(g[0]).await.expect("connect");
    // the connection that sent nothing is closed once the header timeout has passed...
    assert_eq!(read_to_close(&mut idle).await, Ok(String::new()));
    // ...while the one whose request is held by the backend (opened earlier) is not cut
    release.notify_one();
    let mut head = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), busy.read(&mut head))
        .await
        .expect("answer in time")
        .expect("read");
    assert!(
        head[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&head[..n])
    );
    // once answered, it is idle in turn and closed after the header timeout
    let rest = read_to_close(&mut busy).await;
    assert!(
        rest.is_ok(),
        "an idle keep-alive connection was kept open: {rest:?}"
    );
    drop(proxy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_head_is_refused_with_431() {
    let a = http_backend("a").await;
    let proxy = one_web(a.addr).await;
    let big = "v".repeat(40 * 1024);
    let req = http::Request::get(format!("http://{}/entrances/web/", proxy.http))
        .header("x-big", big)
        .body(full(""))
        .expect("request");
    let r = send(&client(), req).await;
    assert_eq!(r.status, 431);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configs_timeouts_replace_the_defaults_for_new_connections() {
    let a = http_backend("a").await;
    // the proxy's own header timeout is the default 15 s; the file says 300 ms
    let (proxy, g) = Proxy::start_with(lcc_proxy::Limits::default(), 1, |http, g| {
        web_config(http, g[0], &[a.addr]) + "timeouts: {header_read_ms: 300}\n"
    })
    .await;
    let mut idle = TcpStream::connect(g[0]).await.expect("connect");
    let started = std::time::Instant::now();
    assert_eq!(read_to_close(&mut idle).await, Ok(String::new()));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // without them again, a new connection gets the default: still open after 1 s
    proxy.write_by_rename(&web_config(proxy.http, g[0], &[a.addr]));
    wait_until(Duration::from_secs(5), "reload applied", || async {
        proxy
            .metric("lcc_proxy_reloads_total{result=\"applied\"}")
            .await
            >= 1
    })
    .await;
    let mut idle = TcpStream::connect(g[0]).await.expect("connect");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(1), idle.read(&mut buf)).await;
    assert!(
        read.is_err(),
        "closed before the default header timeout: {read:?}"
    );
}

/// `GET path` on `addr` with `Host: host`.
async fn get_host(
    client: &Client<HttpConnector, TestBody>,
    addr: std::net::SocketAddr,
    host: &str,
    path: &str,
) -> Answer {
    let req = http::Request::get(format!("http://{addr}{path}"))
        .header("host", host)
        .body(full(""))
        .expect("request");
    send(client, req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_entrance_gets_its_hosts_whole_and_others_keep_the_paths() {
    let (a, b) = (http_backend("a").await, http_backend("b").await);
    let (proxy, _) = Proxy::start(2, |http, g| {
        format!(
            "version: 1\nhttp: {{listen: \"{http}\"}}\n\
             entrances: [{{name: docs, gateway: a, host: docs.localhost}}, {{name: any, gateway: b, host: \"*.localhost\"}}, {{name: web, gateway: a}}]\n\
             gateways:\n  - {{name: a, listen: \"{}\", protocol: http, backends: [\"{}\"]}}\n  - {{name: b, listen: \"{}\", protocol: http, backends: [\"{}\"]}}\n",
            g[0], a.addr, g[1], b.addr
        )
    })
    .await;
    let client = client();
    let http = proxy.http;
    wait_until(Duration::from_secs(5), "entrance up", || async {
        !who(&client, http, "/entrances/web/").await.is_empty()
    })
    .await;
    // (host, path, backend, path it sees, prefix header)
    let cases = [
        ("docs.localhost:1234", "/x/../y?q=1", "a", "/y?q=1", ""),
        (
            "DOCS.localhost.",
            "/entrances/web/",
            "a",
            "/entrances/web/",
            "",
        ),
        ("api.localhost", "/_lcc/health", "b", "/_lcc/health", ""),
        (
            "a.b.localhost",
            "/entrances/any/z",
            "b",
            "/z",
            "/entrances/any",
        ),
        (
            "127.0.0.1",
            "/entrances/docs/d",
            "a",
            "/d",
            "/entrances/docs",
        ),
    ];
    for (host, path, backend, seen, prefix) in cases {
        let r = get_host(&client, http, host, path).await;
        assert_eq!(r.status, 200, "{host}{path}");
        assert_eq!(r.header("x-backend"), backend, "{host}{path}");
        assert_eq!(r.header("x-path"), seen, "{host}{path}");
        assert_eq!(
            r.header("x-seen-x-forwarded-prefix"),
            prefix,
            "{host}{path}"
        );
    }
    // an unknown host gets the listener's own pages
    assert_eq!(
        get_host(&client, http, "other.test", "/nope").await.status,
        404
    );
    let r = get_host(&client, http, "localhost:8080", "/").await;
    assert!(
        r.body.contains("<a href=\"/entrances/docs/\">docs</a> (gateway a), <a href=\"//docs.localhost:8080/\">docs.localhost</a></li>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("(gateway b), *.localhost</li>"),
        "{}",
        r.body
    );
}
