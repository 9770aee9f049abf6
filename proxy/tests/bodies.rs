//! Request bodies through the proxy's HTTP/1 client: with a length, chunked, after
//! `Expect: 100-continue`, and answered by the backend before it read them.

mod common;
use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn gateway_to(backend: std::net::SocketAddr) -> (Proxy, std::net::SocketAddr) {
    let (proxy, g) = Proxy::start(1, |http, g| web_config(http, g[0], &[backend])).await;
    let client = client();
    wait_until(Duration::from_secs(5), "gateway up", || async {
        !who(&client, g[0], "/").await.is_empty()
    })
    .await;
    (proxy, g[0])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_goes_with_its_length_or_chunked_and_the_connection_is_reused() {
    let a = http_backend("a").await;
    let (proxy, gw) = gateway_to(a.addr).await;
    let client = client();
    for _ in 0..3 {
        let post = http::Request::post(format!("http://{gw}/upload"))
            .body(full("x".repeat(70_000)))
            .expect("request");
        let r = send(&client, post).await;
        assert_eq!((r.status, r.body.as_str()), (200, "70000"));
        assert_eq!(r.header("x-seen-content-length"), "70000");
        assert_eq!(r.header("x-seen-transfer-encoding"), "");
        // a streamed body of unknown length goes chunked
        let post = http::Request::post(format!("http://{gw}/upload"))
            .body(generated(200_000))
            .expect("request");
        let r = send(&client, post).await;
        assert_eq!((r.status, r.body.as_str()), (200, "200000"));
        assert_eq!(r.header("x-seen-transfer-encoding"), "chunked");
        assert_eq!(r.header("x-seen-content-length"), "");
    }
    let page = proxy.metrics().await;
    let received = "lcc_proxy_received_bytes_total{kind=\"gateway\",name=\"web\"}";
    assert_eq!(metric_value(&page, received), 3 * 270_000, "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_100_continue_is_answered_and_the_body_follows() {
    let a = http_backend("a").await;
    let (_proxy, gw) = gateway_to(a.addr).await;
    let mut s = TcpStream::connect(gw).await.expect("connect");
    s.write_all(
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .await
    .expect("write head");
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("100 in time")
        .expect("read");
    let interim = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim:?}");
    s.write_all(b"hello").await.expect("write body");
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("answer in time")
        .expect("read");
    let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(answer.ends_with("\r\n\r\n5"), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_before_the_body_is_read_reaches_the_client() {
    let a = http_backend("a").await;
    let (_proxy, gw) = gateway_to(a.addr).await;
    let client = client();
    let post = http::Request::post(format!("http://{gw}/early"))
        .body(generated(4 * 1024 * 1024))
        .expect("request");
    let r = send(&client, post).await;
    assert_eq!((r.status, r.body.as_str()), (413, "early"));
    // and the gateway goes on serving
    assert_eq!(who(&client, gw, "/").await, "a");
}
