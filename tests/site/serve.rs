//! `lcc serve-static` end to end: the real binary on 127.0.0.1, raw HTTP requests so that
//! hostile paths reach it byte for byte, conditional and range requests per RFC 9110, and
//! a clean stop on SIGTERM.

use crate::support::site::{request, wait_until, Served};
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

const SECRET: &str = "TOP-SECRET-7f3a";

/// `top/secret.txt` beside the served `top/root/`, which holds pages and symlinks out.
fn layout() -> TempDir {
    let top = tempfile::tempdir().expect("tempdir");
    let root = top.path().join("root");
    fs::create_dir_all(root.join("sub")).expect("mkdir");
    fs::write(top.path().join("secret.txt"), SECRET).expect("write");
    fs::write(root.join("index.html"), "<h1>home</h1>").expect("write");
    fs::write(root.join("sub/index.html"), "<h1>sub</h1>").expect("write");
    fs::write(root.join("style.css"), "h1 { color: red }").expect("write");
    fs::write(root.join("data.json"), "{}").expect("write");
    fs::write(root.join("%2e%2e"), "literal name").expect("write");
    std::os::unix::fs::symlink("../secret.txt", root.join("out")).expect("symlink");
    std::os::unix::fs::symlink("..", root.join("outdir")).expect("symlink");
    std::os::unix::fs::symlink("sub/index.html", root.join("inside")).expect("symlink");
    top
}

/// Paths that try to leave the served directory.
const ATTACKS: &[&str] = &[
    "/../secret.txt",
    "/../../secret.txt",
    "/sub/../../secret.txt",
    "/./../secret.txt",
    "//../secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e./secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/%252e%252e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "/..\\secret.txt",
    "/sub\\..\\..\\secret.txt",
    "/%5c..%5csecret.txt",
    "/..%5csecret.txt",
    "/%2e%2e%5csecret.txt",
    "/..%00/secret.txt",
    "/%00../secret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/out",
    "/outdir/secret.txt",
    "/outdir/",
    "/outdir",
    "/outdir/root/out",
];

#[test]
fn no_request_reads_outside_the_directory() {
    let top = layout();
    for spa in [false, true] {
        let extra: &[&str] = if spa { &["--spa"] } else { &[] };
        let served = Served::start(&top.path().join("root"), extra);
        for attack in ATTACKS {
            let reply = request(served.addr, "GET", attack, &[]);
            let body = String::from_utf8_lossy(&reply.body);
            assert!(!body.contains(SECRET), "{attack} leaked the secret");
            if spa {
                assert!(
                    matches!(reply.status, 200 | 400 | 404),
                    "{attack}: {}",
                    reply.status
                );
                if reply.status == 200 {
                    assert_eq!(
                        body, "<h1>home</h1>",
                        "{attack}: only the index may come back"
                    );
                }
            } else {
                assert!(
                    matches!(reply.status, 400 | 404),
                    "{attack}: {}",
                    reply.status
                );
            }
        }
        // What is inside stays reachable, once-decoded names included.
        let literal = request(served.addr, "GET", "/%252e%252e", &[]);
        assert_eq!(
            (literal.status, literal.body.as_slice()),
            (200, &b"literal name"[..])
        );
        let inside = request(served.addr, "GET", "/inside", &[]);
        assert_eq!(inside.body, b"<h1>sub</h1>");
    }
}

#[test]
fn directories_index_pages_redirects_types_and_spa() {
    let top = layout();
    let served = Served::start(&top.path().join("root"), &[]);
    let home = request(served.addr, "GET", "/", &[]);
    assert_eq!(
        (home.status, home.body.as_slice()),
        (200, &b"<h1>home</h1>"[..])
    );
    assert_eq!(
        home.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let redirect = request(served.addr, "GET", "/sub?x=1", &[]);
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), Some("/sub/?x=1"));
    let sub = request(served.addr, "GET", "/sub/", &[]);
    assert_eq!(sub.body, b"<h1>sub</h1>");
    let css = request(served.addr, "GET", "/style.css", &[]);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    let json = request(served.addr, "GET", "/data.json", &[]);
    assert_eq!(json.header("content-type"), Some("application/json"));
    assert_eq!(request(served.addr, "GET", "/nope.html", &[]).status, 404);
    assert_eq!(request(served.addr, "GET", "/style.css/", &[]).status, 404);
    // A FIFO is not a file: 404 at once (opening it would block on a writer).
    let made = Command::new("mkfifo")
        .arg(top.path().join("root/pipe"))
        .status();
    assert!(made.expect("mkfifo").success());
    assert_eq!(request(served.addr, "GET", "/pipe", &[]).status, 404);
    let post = request(served.addr, "POST", "/", &[("Content-Length", "0")]);
    assert_eq!(
        (post.status, post.header("allow")),
        (405, Some("GET, HEAD"))
    );
    drop(served);

    let spa = Served::start(&top.path().join("root"), &["--spa"]);
    let deep = request(spa.addr, "GET", "/app/route/42", &[]);
    assert_eq!(
        (deep.status, deep.body.as_slice()),
        (200, &b"<h1>home</h1>"[..])
    );
    assert_eq!(
        request(spa.addr, "GET", "/style.css", &[]).body,
        b"h1 { color: red }"
    );
}

#[test]
fn the_lcc_site_mark_is_never_served() {
    let top = layout();
    let root = top.path().join("root");
    let mark = "source: https://internal.example/site.tgz\nsha256: 00\n";
    fs::write(root.join(".lcc-site"), mark).expect("write");
    fs::create_dir(root.join("sub/.lcc-site")).expect("mkdir");
    fs::write(root.join("sub/.lcc-site/index.html"), mark).expect("write");
    std::os::unix::fs::symlink(".lcc-site", root.join("alias")).expect("symlink");
    std::os::unix::fs::symlink("../.lcc-site", root.join("sub/up")).expect("symlink");
    let asks = [
        "/.lcc-site",
        "/%2elcc-site",
        "/.lcc%2Dsite",
        "/.lcc-site/",
        "//.lcc-site",
        "/./.lcc-site",
        "/sub/.lcc-site/",
        "/sub/.lcc-site/index.html",
        "/alias",
        "/sub/up",
    ];
    for spa in [false, true] {
        let extra: &[&str] = if spa { &["--spa"] } else { &[] };
        let served = Served::start(&root, extra);
        for ask in asks {
            for method in ["GET", "HEAD"] {
                let reply = request(served.addr, method, ask, &[]);
                let body = String::from_utf8_lossy(&reply.body);
                assert!(
                    !body.contains("internal.example"),
                    "{method} {ask} leaked the mark"
                );
                // As for a missing file: 404, or the SPA's index page.
                let want = if spa { 200 } else { 404 };
                assert_eq!(reply.status, want, "{method} {ask}");
                if spa && method == "GET" {
                    assert_eq!(reply.body, b"<h1>home</h1>", "{ask}");
                }
            }
        }
    }
}

#[test]
fn conditional_and_range_requests_follow_rfc_9110() {
    let top = layout();
    let body = "0123456789abcdefghij";
    fs::write(top.path().join("root/file.txt"), body).expect("write");
    let served = Served::start(&top.path().join("root"), &[]);
    let get = |headers: &[(&str, &str)]| request(served.addr, "GET", "/file.txt", headers);

    let full = get(&[]);
    assert_eq!((full.status, full.body.as_slice()), (200, body.as_bytes()));
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    let etag = full.header("etag").expect("etag").to_owned();
    let modified = full
        .header("last-modified")
        .expect("last-modified")
        .to_owned();

    // Validators: 304 without a body.
    for headers in [
        vec![("If-None-Match", etag.as_str())],
        vec![("If-None-Match", &*format!("\"x\", W/{etag}"))],
        vec![("If-None-Match", "*")],
        vec![("If-Modified-Since", modified.as_str())],
    ] {
        let r = get(&headers);
        assert_eq!(r.status, 304, "{headers:?}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), Some(etag.as_str()));
    }
    let old = "Thu, 01 Jan 1998 00:00:00 GMT";
    assert_eq!(get(&[("If-None-Match", "\"other\"")]).status, 200);
    assert_eq!(get(&[("If-Modified-Since", old)]).status, 200);
    // If-None-Match wins over If-Modified-Since.
    let both = [
        ("If-None-Match", "\"other\""),
        ("If-Modified-Since", modified.as_str()),
    ];
    assert_eq!(get(&both).status, 200);
    assert_eq!(get(&[("If-Match", "\"other\"")]).status, 412);
    assert_eq!(get(&[("If-Unmodified-Since", old)]).status, 412);

    // Ranges.
    let part = get(&[("Range", "bytes=2-5")]);
    assert_eq!((part.status, part.body.as_slice()), (206, &b"2345"[..]));
    assert_eq!(part.header("content-range"), Some("bytes 2-5/20"));
    assert_eq!(part.header("content-length"), Some("4"));
    let tail = get(&[("Range", "bytes=-3")]);
    assert_eq!((tail.status, tail.body.as_slice()), (206, &b"hij"[..]));
    let open = get(&[("Range", "bytes=18-")]);
    assert_eq!(open.header("content-range"), Some("bytes 18-19/20"));
    let over = get(&[("Range", "bytes=20-")]);
    assert_eq!(
        (over.status, over.header("content-range")),
        (416, Some("bytes */20"))
    );
    let multi = get(&[("Range", "bytes=0-1,4-5")]);
    assert_eq!(
        (multi.status, multi.body.as_slice()),
        (200, body.as_bytes())
    );
    let same = get(&[("Range", "bytes=0-0"), ("If-Range", etag.as_str())]);
    assert_eq!((same.status, same.body.as_slice()), (206, &b"0"[..]));
    let by_date = get(&[("Range", "bytes=0-0"), ("If-Range", modified.as_str())]);
    assert_eq!(by_date.status, 206);
    let changed = get(&[("Range", "bytes=0-0"), ("If-Range", "\"stale\"")]);
    assert_eq!(
        (changed.status, changed.body.as_slice()),
        (200, body.as_bytes())
    );

    // HEAD: the same headers, no body.
    let head = request(served.addr, "HEAD", "/file.txt", &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("20"));
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    assert!(head.body.is_empty());
}

#[test]
fn large_files_stream_whole_and_in_ranges() {
    let top = layout();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(top.path().join("root/big.bin"), &big).expect("write");
    let served = Served::start(&top.path().join("root"), &[]);
    let full = request(served.addr, "GET", "/big.bin", &[]);
    assert_eq!(full.status, 200);
    assert_eq!(
        full.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(full.body == big, "streamed body differs");
    let part = request(
        served.addr,
        "GET",
        "/big.bin",
        &[("Range", "bytes=1000000-1000099")],
    );
    assert_eq!(part.status, 206);
    assert!(part.body == big[1_000_000..1_000_100]);
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let top = layout();
    let served = Served::start(&top.path().join("root"), &[]);
    let mut conn = TcpStream::connect(served.addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let req = "GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n";
    conn.write_all(format!("{req}{req}").as_bytes())
        .expect("send");
    conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut raw = String::new();
    conn.read_to_string(&mut raw).expect("read");
    assert_eq!(raw.matches("HTTP/1.1 200 OK").count(), 3, "{raw}");
    assert!(raw.ends_with("<h1>home</h1>"));
}

#[test]
fn stops_on_sigterm_even_with_an_idle_connection_open() {
    let top = layout();
    let mut served = Served::start(&top.path().join("root"), &[]);
    let mut idle = TcpStream::connect(served.addr).expect("connect");
    idle.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let mut buf = [0u8; 256];
    assert!(idle.read(&mut buf).expect("read") > 0);
    let pid = served.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut status = None;
    let stopped = wait_until(Duration::from_secs(10), || {
        status = served.child.try_wait().expect("try_wait");
        status.is_some()
    });
    assert!(stopped, "lcc serve-static ignored SIGTERM");
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    assert!(
        TcpStream::connect(served.addr).is_err(),
        "the listener is closed"
    );
}
