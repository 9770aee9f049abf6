//! Round robin over HTTP gateways, skipping dead backends, and the 503/504/502 answers.

mod common;
use common::*;
use std::collections::HashMap;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_spread_evenly_over_three_backends() {
    let (a, b, c) = (
        http_backend("a").await,
        http_backend("b").await,
        http_backend("c").await,
    );
    let backends = [a.addr, b.addr, c.addr];
    let (proxy, gws) = Proxy::start(1, |http, g| web_config(http, g[0], &backends)).await;
    let client = client();
    wait_until(Duration::from_secs(5), "gateway up", || async {
        !who(&client, gws[0], "/").await.is_empty()
    })
    .await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for _ in 0..300 {
        *seen.entry(who(&client, gws[0], "/").await).or_default() += 1;
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    for id in ["a", "b", "c"] {
        assert_eq!(seen[id], 100, "{seen:?}");
    }
    // the entrance balances the same way
    let mut seen: HashMap<String, usize> = HashMap::new();
    for _ in 0..30 {
        *seen
            .entry(who(&client, proxy.http, "/entrances/web/").await)
            .or_default() += 1;
    }
    assert_eq!(
        seen.values().copied().collect::<Vec<_>>(),
        [10, 10, 10],
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_backend_among_three_gives_no_error() {
    let (a, c) = (http_backend("a").await, http_backend("c").await);
    let backends = [a.addr, dead_addr(), c.addr];
    let (_proxy, gws) = Proxy::start(1, |http, g| web_config(http, g[0], &backends)).await;
    let client = client();
    wait_until(Duration::from_secs(5), "gateway up", || async {
        !who(&client, gws[0], "/").await.is_empty()
    })
    .await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for _ in 0..60 {
        let r = get(&client, gws[0], "/").await;
        assert_eq!(r.status, 200, "{}", r.body);
        *seen.entry(r.header("x-backend").to_string()).or_default() += 1;
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_backend_is_503_slow_is_504_broken_is_502() {
    let slow = http_backend("slow").await;
    let broken = broken_backend().await;
    let dead = dead_addr();
    let (_proxy, g) = Proxy::start(4, |http, g| {
        format!(
            "version: 1\nhttp: {{listen: \"{http}\"}}\ngateways:\n\
             - {{name: empty, listen: \"{}\", protocol: http}}\n\
             - {{name: dead, listen: \"{}\", protocol: http, backends: [\"{dead}\"]}}\n\
             - {{name: slow, listen: \"{}\", protocol: http, backends: [\"{}\"]}}\n\
             - {{name: broken, listen: \"{}\", protocol: http, backends: [\"{}\"]}}\n",
            g[0], g[1], g[2], slow.addr, g[3], broken.addr
        )
    })
    .await;
    let client = client();
    let cases = [
        (g[0], "/", 503, "no backend"),
        (g[1], "/", 503, "accepts connections"),
        (g[2], "/slow", 504, "did not answer"),
        (g[3], "/", 502, "broke"),
    ];
    for (addr, path, status, reason) in cases {
        let r = get(&client, addr, path).await;
        assert_eq!(r.status, status, "{addr}: {}", r.body);
        assert!(r.body.contains(reason), "{}", r.body);
        assert!(r.header("content-type").starts_with("text/plain"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stream_of_an_h2_connection_gets_its_504_in_time() {
    let slow = http_backend("slow").await;
    let backends = [slow.addr];
    let (proxy, _) = Proxy::start(1, |http, g| web_config(http, g[0], &backends)).await;
    // h2c with prior knowledge: hyper's pool keeps one connection for all three
    let h2 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let first = send(&h2, request(proxy.http, "/entrances/web/")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    // three streams in flight together, each held by the backend (10 s) past the
    // response timeout (500 ms): each gets its own 504
    let one = || async {
        let r = tokio::time::timeout(
            Duration::from_secs(5),
            h2.request(request(proxy.http, "/entrances/web/slow")),
        )
        .await;
        match r {
            Ok(Ok(resp)) => (resp.status().as_u16(), resp.version()),
            Ok(Err(e)) => panic!("request: {e}"),
            Err(_) => (0, http::Version::HTTP_2),
        }
    };
    let got = tokio::join!(one(), one(), one());
    let want = (504, http::Version::HTTP_2);
    assert_eq!(got, (want, want, want), "0: no answer within 5 s");
}
