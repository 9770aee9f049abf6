//! The library server: `serve` on an already-bound listener, ended by its shutdown future.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// GET `path` with `Connection: close`; the whole raw response.
fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_until_the_shutdown_future_completes() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("index.html"), "hello lib").expect("write");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let opts = lcc_site::ServeOptions {
        root: dir.path().to_path_buf(),
        spa: false,
        header_timeout: std::time::Duration::from_secs(30),
    };
    let server = tokio::spawn(lcc_site::serve(listener, opts, async {
        let _ = stopped.await;
    }));
    let page = tokio::task::spawn_blocking(move || get(addr, "/"))
        .await
        .expect("client");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    assert!(page.ends_with("hello lib"));
    stop.send(()).expect("signal");
    let done = tokio::time::timeout(Duration::from_secs(10), server).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "serve returned {done:?}");
    assert!(TcpStream::connect(addr).is_err(), "listener closed");
}

#[tokio::test]
async fn a_missing_directory_is_an_error_naming_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let opts = lcc_site::ServeOptions {
        root: "/nonexistent/lcc-site-test".into(),
        spa: false,
        header_timeout: std::time::Duration::from_secs(30),
    };
    let err = lcc_site::serve(listener, opts, std::future::pending())
        .await
        .expect_err("must fail");
    assert!(
        err.to_string().contains("/nonexistent/lcc-site-test"),
        "{err}"
    );
}
