//! Live reload: new backends used without errors (rename and in-place writes), TCP
//! sessions surviving, removed listeners closing, broken files refused.

mod common;
use common::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_during_a_stream_of_requests_gives_no_error() {
    let (a, b, c) = (
        http_backend("a").await,
        http_backend("b").await,
        http_backend("c").await,
    );
    let (proxy, g) = Proxy::start(1, |http, g| web_config(http, g[0], &[a.addr])).await;
    let (http, gw) = (proxy.http, g[0]);
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(std::sync::Mutex::new(String::new()));
    // one keep-alive client hammering the entrance, one the gateway, until told to stop
    let mut load = Vec::new();
    for (addr, path) in [(http, "/entrances/web/"), (gw, "/")] {
        let (stop, errors, last) = (stop.clone(), errors.clone(), last.clone());
        load.push(tokio::spawn(async move {
            let client = client();
            for _ in 0..100_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let id = who(&client, addr, path).await;
                if id.is_empty() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                *last.lock().expect("lock") = id;
            }
        }));
    }
    let seen = |id: &'static str| {
        let last = last.clone();
        async move { *last.lock().expect("lock") == id }
    };
    wait_until(Duration::from_secs(5), "a serving", || seen("a")).await;
    proxy.write_by_rename(&web_config(http, gw, &[b.addr]));
    wait_until(Duration::from_secs(5), "b serving after rename", || {
        seen("b")
    })
    .await;
    proxy.write_in_place(&web_config(http, gw, &[c.addr]));
    wait_until(
        Duration::from_secs(5),
        "c serving after in-place write",
        || seen("c"),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("load task");
    }
    assert_eq!(errors.load(Ordering::Relaxed), 0);
    assert!(
        proxy
            .metric("lcc_proxy_reloads_total{result=\"applied\"}")
            .await
            >= 2
    );
}

async fn line(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> String {
    let mut s = String::new();
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut s))
        .await
        .expect("line in time")
        .expect("read line");
    s.trim_end().to_string()
}

fn tcp_config(
    http: std::net::SocketAddr,
    gw: std::net::SocketAddr,
    backends: &[std::net::SocketAddr],
) -> String {
    let list: Vec<String> = backends.iter().map(|b| format!("\"{b}\"")).collect();
    format!(
        "version: 1\nhttp: {{listen: \"{http}\"}}\ngateways:\n  - {{name: db, listen: \"{gw}\", protocol: tcp, backends: [{}]}}\n",
        list.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_sessions_round_robin_half_close_and_survive_a_reload() {
    let (one, two, three) = (
        tcp_backend("one").await,
        tcp_backend("two").await,
        tcp_backend("three").await,
    );
    let (proxy, g) = Proxy::start(1, |http, g| tcp_config(http, g[0], &[one.addr, two.addr])).await;
    let gw = g[0];
    let open = || async move {
        let (r, w) = TcpStream::connect(gw).await.expect("connect").into_split();
        (BufReader::new(r), w)
    };
    let (mut r1, mut w1) = open().await;
    w1.write_all(b"hi\n").await.expect("write");
    let first = line(&mut r1).await;
    let (mut r2, mut w2) = open().await;
    w2.write_all(b"hi\n").await.expect("write");
    let second = line(&mut r2).await;
    let mut pair = [first.clone(), second];
    pair.sort();
    assert_eq!(pair, ["one:hi", "two:hi"], "round robin per connection");
    // reload onto another backend: the open session keeps its backend
    let applied = proxy
        .metric("lcc_proxy_reloads_total{result=\"applied\"}")
        .await;
    proxy.write_by_rename(&tcp_config(proxy.http, gw, &[three.addr]));
    wait_until(Duration::from_secs(5), "reload applied", || async {
        proxy
            .metric("lcc_proxy_reloads_total{result=\"applied\"}")
            .await
            > applied
    })
    .await;
    w1.write_all(b"after\n").await.expect("write after reload");
    let id = first.split(':').next().expect("id").to_string();
    assert_eq!(line(&mut r1).await, format!("{id}:after"));
    // half-close: our EOF reaches the backend, its last words still reach us
    w1.shutdown().await.expect("shutdown");
    assert_eq!(line(&mut r1).await, format!("{id}:eof"));
    let (mut r3, mut w3) = open().await;
    w3.write_all(b"new\n").await.expect("write");
    assert_eq!(line(&mut r3).await, "three:new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_gateway_closes_new_one_opens_and_broken_config_is_refused() {
    let a = http_backend("a").await;
    let (proxy, g) = Proxy::start(1, |http, g| web_config(http, g[0], &[a.addr])).await;
    let client = client();
    wait_until(Duration::from_secs(5), "gateway up", || async {
        who(&client, g[0], "/").await == "a"
    })
    .await;
    // move the gateway to a new address: the old listener closes, the new one opens
    let moved = proxy.prebound.bind_local().expect("bind");
    proxy.write_by_rename(&web_config(proxy.http, moved, &[a.addr]));
    wait_until(Duration::from_secs(5), "new listener serving", || async {
        who(&client, moved, "/").await == "a"
    })
    .await;
    let old = g[0];
    wait_until(Duration::from_secs(5), "old listener closed", || async {
        TcpStream::connect(old).await.is_err()
    })
    .await;
    // a broken file is refused and the last good config keeps serving
    for broken in [
        "version: 1\ngateways: [{name: x",
        "version: 2\n",
        &web_config(proxy.http, moved, &[a.addr]).replace("protocol: http", "protocol: udp"),
    ] {
        let refused = proxy
            .metric("lcc_proxy_reloads_total{result=\"refused\"}")
            .await;
        proxy.write_by_rename(broken);
        wait_until(Duration::from_secs(5), "refusal", || async {
            proxy
                .metric("lcc_proxy_reloads_total{result=\"refused\"}")
                .await
                > refused
        })
        .await;
        assert_eq!(who(&client, moved, "/").await, "a");
        assert_eq!(who(&client, proxy.http, "/entrances/web/").await, "a");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_finishes_after_its_gateway_is_removed() {
    let release = Arc::new(tokio::sync::Notify::new());
    let gated = gated_backend(release.clone()).await;
    let limits = lcc_proxy::Limits {
        response_timeout: Duration::from_secs(30),
        ..test_limits()
    };
    let (proxy, g) =
        Proxy::start_with(limits, 1, |http, g| web_config(http, g[0], &[gated.addr])).await;
    let gw = g[0];
    let in_flight = tokio::spawn(async move { get(&client(), gw, "/").await });
    // once the backend holds the request, remove the gateway
    wait_until(Duration::from_secs(5), "request in flight", || async {
        proxy
            .metric("lcc_proxy_requests_total{kind=\"gateway\",name=\"web\"}")
            .await
            == 1
    })
    .await;
    proxy.write_by_rename(&format!(
        "version: 1\nhttp: {{listen: \"{}\"}}\n",
        proxy.http
    ));
    wait_until(Duration::from_secs(5), "listener closed", || async {
        TcpStream::connect(gw).await.is_err()
    })
    .await;
    release.notify_one();
    let answer = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .expect("answer in time")
        .expect("task");
    assert_eq!((answer.status, answer.body.as_str()), (200, "held"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_does_not_hold_back_the_rest_and_opens_once_free() {
    let (a, b) = (http_backend("a").await, http_backend("b").await);
    let (proxy, g) = Proxy::start(1, |http, g| web_config(http, g[0], &[a.addr])).await;
    let client = client();
    wait_until(Duration::from_secs(5), "a serving", || async {
        who(&client, g[0], "/").await == "a"
    })
    .await;
    // another process holds the port the new gateway wants
    let thief = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = thief.local_addr().expect("addr");
    let text = format!(
        "{}  - {{name: late, listen: \"{taken}\", protocol: http, backends: [\"{}\"]}}\n",
        web_config(proxy.http, g[0], &[b.addr]),
        a.addr
    );
    proxy.write_by_rename(&text);
    wait_until(
        Duration::from_secs(5),
        "web moved to b despite the taken port",
        || async { who(&client, g[0], "/").await == "b" },
    )
    .await;
    drop(thief);
    wait_until(
        Duration::from_secs(5),
        "late gateway open once the port is free",
        || async { who(&client, taken, "/").await == "a" },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_outlives_a_reload_and_drains_when_its_listener_goes() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let ws = ws_backend().await;
    let (proxy, g) = Proxy::start(1, |http, g| web_config(http, g[0], &[ws.addr])).await;
    let url = format!("ws://{}/entrances/web/", proxy.http);
    let (mut socket, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("handshake in time")
    .expect("handshake");
    // the http listener moves away: the open websocket still echoes ...
    let moved = proxy.prebound.bind_local().expect("bind");
    proxy.write_by_rename(&web_config(moved, g[0], &[ws.addr]));
    let old = proxy.http;
    wait_until(Duration::from_secs(5), "old listener closed", || async {
        TcpStream::connect(old).await.is_err()
    })
    .await;
    socket.send(Message::text("still")).await.expect("send");
    let echo = socket.next().await.expect("echo").expect("frame");
    assert_eq!(echo.into_text().expect("text").as_str(), "still");
    // ... until the drain timeout (2 s in tests) cuts it
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) => break,
                Some(Ok(m)) if m.is_close() => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the tunnel outlived the drain timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_tcp_session_is_closed_after_the_idle_timeout() {
    let one = tcp_backend("one").await;
    let limits = lcc_proxy::Limits {
        tcp_idle_timeout: Duration::from_millis(300),
        ..test_limits()
    };
    let (_proxy, g) =
        Proxy::start_with(limits, 1, |http, g| tcp_config(http, g[0], &[one.addr])).await;
    let (r, mut w) = TcpStream::connect(g[0])
        .await
        .expect("connect")
        .into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"hi\n").await.expect("write");
    assert_eq!(line(&mut r).await, "one:hi");
    // then silence: the proxy hangs up (EOF) well before the 10 s bound
    let mut rest = String::new();
    let n = tokio::time::timeout(Duration::from_secs(10), r.read_line(&mut rest))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "got {rest:?}");
}
