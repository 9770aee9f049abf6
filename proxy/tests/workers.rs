//! Thread per core: with two worker threads, connections are spread evenly over them,
//! requests over many keep-alive connections are all served, balanced and counted once;
//! a reload reaches the connections of every worker; a listener added or removed by a
//! reload opens or closes on every worker.

mod common;
use common::*;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use lcc_proxy::Accept;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// One client keep-alive connection, closed when dropped.
struct KeepAlive {
    sender: SendRequest<TestBody>,
    task: JoinHandle<()>,
    addr: SocketAddr,
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl KeepAlive {
    async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        let task = tokio::spawn(async move {
            let _ = conn.await;
        });
        Self { sender, task, addr }
    }

    /// The backend answering `path` on this very connection, or "" on any failure.
    async fn who(&mut self, path: &str) -> String {
        if self.sender.ready().await.is_err() {
            return String::new();
        }
        let req = http::Request::get(path)
            .header("host", self.addr.to_string())
            .body(full(""))
            .expect("request");
        backend_of(self.sender.send_request(req).await.ok())
    }
}

async fn open_many(addr: SocketAddr, n: usize) -> Vec<KeepAlive> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(KeepAlive::open(addr).await);
    }
    conns
}

/// Asserts that each of the two workers has served at least `least` connections.
fn assert_even_split(page: &str, least: u64) {
    for worker in ["0", "1"] {
        let series = format!("lcc_proxy_worker_connections_total{{worker=\"{worker}\"}}");
        assert!(metric_value(page, &series) >= least, "{page}");
    }
}

fn gateway_series(name: &str) -> String {
    format!("lcc_proxy_requests_total{{kind=\"gateway\",name=\"{name}\"}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_connections_over_two_workers_are_served_balanced_and_counted() {
    let (a, b) = (http_backend("a").await, http_backend("b").await);
    let (proxy, g) = Proxy::start_on(limits(), 2, Accept::ReusePort, 1, |http, g| {
        web_config(http, g[0], &[a.addr, b.addr])
    })
    .await;
    let (http, gw) = (proxy.http, g[0]);
    let client = client();
    wait_until(Duration::from_secs(5), "proxy serving", || async {
        !who(&client, gw, "/").await.is_empty()
    })
    .await;
    let before = proxy.metric(&gateway_series("web")).await;
    let (mut seen_a, mut seen_b) = (0u64, 0u64);
    let mut conns = open_many(gw, 24).await;
    conns.extend(open_many(http, 24).await);
    for _ in 0..3 {
        for conn in &mut conns {
            let path = match conn.addr == gw {
                true => "/",
                false => "/entrances/web/",
            };
            match conn.who(path).await.as_str() {
                "a" => seen_a += 1,
                "b" => seen_b += 1,
                other => panic!("request failed: {other:?}"),
            }
        }
    }
    // one round-robin position shared by both workers: the split is exact
    assert_eq!(seen_a + seen_b, 144);
    assert!(seen_a.abs_diff(seen_b) <= 1, "a {seen_a}, b {seen_b}");
    let page = proxy.metrics().await;
    let entrance = "lcc_proxy_requests_total{kind=\"entrance\",name=\"web\"}";
    assert_eq!(metric_value(&page, entrance), 72, "{page}");
    assert_eq!(metric_value(&page, &gateway_series("web")) - before, 72);
    // connections go to the worker with the fewest: 48 held open split about evenly
    assert_even_split(&page, 20);
    // the client's pooled connection too: the idle limit would close it only in 5 s
    drop((conns, client));
    wait_until(Duration::from_secs(5), "connections closed", || async {
        // the metrics request itself is the one open connection
        proxy.metric("lcc_proxy_active_connections").await <= 1
    })
    .await;
}

/// `web` (an entrance's gateway) at `gw` over `web`, and gateway `more` at `more` over
/// `more_backends` when given.
fn config(
    http: SocketAddr,
    gw: Option<(SocketAddr, SocketAddr)>,
    more: Option<(SocketAddr, SocketAddr)>,
) -> String {
    let mut text = format!("version: 1\nhttp: {{listen: \"{http}\"}}\ngateways:\n");
    for (name, gateway) in [("web", gw), ("more", more)] {
        if let Some((listen, backend)) = gateway {
            text.push_str(&format!(
                "  - {{name: {name}, listen: \"{listen}\", protocol: http, backends: [\"{backend}\"]}}\n"
            ));
        }
    }
    text
}

async fn all_answer(conns: &mut [KeepAlive], id: &str) -> bool {
    for conn in conns.iter_mut() {
        if conn.who("/").await != id {
            return false;
        }
    }
    true
}

/// Polls until every connection answers `id` in one pass (5 s at most).
async fn until_all_answer(conns: &mut [KeepAlive], id: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !all_answer(conns, id).await {
        assert!(
            Instant::now() < deadline,
            "not every connection answers {id}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The shrunk limits with room for a loaded machine: held keep-alive connections sit idle
/// while the others are opened and reloads land, and the header timeout is also the
/// idle limit.
fn limits() -> lcc_proxy::Limits {
    lcc_proxy::Limits {
        header_read_timeout: Duration::from_secs(5),
        response_timeout: Duration::from_secs(5),
        ..test_limits()
    }
}

async fn all_refused(addr: SocketAddr) -> bool {
    for _ in 0..24 {
        if TcpStream::connect(addr).await.is_ok() {
            return false;
        }
    }
    true
}

async fn reload_reaches_every_worker(accept: Accept) {
    let (a, b) = (http_backend("a").await, http_backend("b").await);
    let (proxy, g) = Proxy::start_on(limits(), 2, accept, 2, |http, g| {
        config(http, Some((g[0], a.addr)), None)
    })
    .await;
    let (http, gw, added) = (proxy.http, g[0], g[1]);
    let client = client();
    wait_until(Duration::from_secs(5), "proxy serving", || async {
        who(&client, gw, "/").await == "a"
    })
    .await;
    let mut conns = open_many(gw, 24).await;
    assert!(all_answer(&mut conns, "a").await);
    // whichever socket the kernel picks, both workers hold about half the connections
    assert_even_split(&proxy.metrics().await, 10);

    // the backend swaps for the open connections of every worker
    proxy.write_by_rename(&config(http, Some((gw, b.addr)), Some((added, a.addr))));
    until_all_answer(&mut conns, "b").await;
    // the added listener is served by whichever worker takes a connection
    wait_until(Duration::from_secs(5), "added listener serving", || async {
        who(&client, added, "/").await == "a"
    })
    .await;
    let mut fresh = open_many(added, 24).await;
    assert!(all_answer(&mut fresh, "a").await);

    // the removed listener closes on every worker: no connect succeeds any more
    proxy.write_by_rename(&config(http, None, Some((added, a.addr))));
    wait_until(Duration::from_secs(5), "removed listener closed", || {
        all_refused(gw)
    })
    .await;
    assert!(all_answer(&mut fresh, "a").await);
    let page = proxy.metrics().await;
    assert_eq!(
        metric_value(&page, "lcc_proxy_reloads_total{result=\"applied\"}"),
        2,
        "{page}"
    );
    assert_eq!(metric_value(&page, &gateway_series("more")), 1 + 24 * 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_reaches_every_worker_on_one_shared_socket() {
    reload_reaches_every_worker(Accept::Shared).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_reaches_every_worker_on_a_socket_per_worker() {
    reload_reaches_every_worker(Accept::ReusePort).await;
}
