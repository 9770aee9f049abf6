//! Fault family 8c, malformed HTTP at the real `lcc-proxy` (entrance and HTTP gateway)
//! and the real `lcc serve-static`: bad request lines, huge heads, conflicting
//! Content-Length and Transfer-Encoding (smuggling), bad chunking, traversal, binary
//! garbage and slowloris. Each gets a 4xx (or 501/505) or a closed connection, never a
//! crash; the server answers a good request after every one; no smuggled request
//! reaches the backend. The proxy's entrance corpus is also sent inside TLS to its https
//! listener (through `openssl s_client`).

use crate::support::{
    free_port, http_get, proxy_bin, raw_exchange, status_of, wait_until, KillOnDrop,
};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A backend that records every request head it gets and answers `200 ok`.
struct Recorder {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&heads);
        // The thread ends with the test process; it only ever blocks in accept.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || serve_recorded(stream, &seen));
            }
        });
        Recorder { addr, heads }
    }

    fn saw(&self, needle: &str) -> bool {
        self.heads
            .lock()
            .expect("lock")
            .iter()
            .any(|h| h.contains(needle))
    }
}

/// Answers requests on one connection until it closes, recording each head.
fn serve_recorded(mut stream: TcpStream, seen: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let lower = head.to_ascii_lowercase();
        let mut rest = buf.split_off(end + 4);
        if lower.contains("transfer-encoding: chunked") {
            while !rest.windows(5).any(|w| w == b"0\r\n\r\n") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => rest.extend_from_slice(&chunk[..n]),
                }
            }
            let at = rest.windows(5).position(|w| w == b"0\r\n\r\n").unwrap_or(0);
            rest = rest.split_off(at + 5);
        } else if let Some(len) = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            while rest.len() < len {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => rest.extend_from_slice(&chunk[..n]),
                }
            }
            rest = rest.split_off(len);
        }
        seen.lock().expect("lock").push(head);
        buf = rest;
        if stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .is_err()
        {
            return;
        }
    }
}

/// A running `lcc-proxy` with one entrance `web` and one HTTP gateway, both to `backend`.
/// The servers' header timeout here: short, so the slow-client tests do not sit out
/// the 15-30 s defaults, and far above what a well-formed exchange of these tests takes.
const HEADER_TIMEOUT_MS: u64 = 3000;

struct Proxy {
    _child: KillOnDrop,
    child_pid: u32,
    entrance: SocketAddr,
    gateway: SocketAddr,
    /// The https listener, its certificates from a local CA in `_dir`.
    https: SocketAddr,
    ca: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Proxy {
    fn start(backend: SocketAddr) -> Proxy {
        let dir = tempfile::tempdir().expect("tempdir");
        let entrance: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let gateway: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let https: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let (ca, _) = lcc_core::ca::ensure(&dir.path().join("ca")).expect("local CA");
        let conf = format!(
            "version: 1\nhttp: {{listen: \"{entrance}\"}}\nentrances: [{{name: web, gateway: web}}]\n\
             https: {{listen: \"{https}\", ca: {{cert: \"{}\", key: \"{}\"}}}}\n\
             gateways:\n  - {{name: web, listen: \"{gateway}\", protocol: http, backends: [\"{backend}\"]}}\n\
             timeouts: {{header_read_ms: {HEADER_TIMEOUT_MS}}}\n",
            ca.cert.display(),
            ca.key.display(),
        );
        let path = dir.path().join("proxy.conf");
        std::fs::write(&path, conf).expect("write proxy.conf");
        let child = Command::new(proxy_bin())
            .arg("--config")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn lcc-proxy (run `cargo build --workspace` first)");
        let child_pid = child.id();
        let proxy = Proxy {
            _child: KillOnDrop(child),
            child_pid,
            entrance,
            gateway,
            https,
            ca: ca.cert,
            _dir: dir,
        };
        let up = wait_until(Duration::from_secs(10), || {
            http_get(entrance, "/_lcc/health").is_some_and(|(s, _)| s == 200)
                && http_get(gateway, "/").is_some_and(|(s, _)| s == 200)
        });
        assert!(up, "lcc-proxy answers on {entrance} and {gateway}");
        proxy
    }
}

/// A running `lcc serve-static` on a directory holding index.html.
struct Static {
    child: KillOnDrop,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Static {
    fn start() -> Static {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("site")).expect("mkdir");
        std::fs::write(dir.path().join("site/index.html"), "hello").expect("write");
        std::fs::write(dir.path().join("secret.txt"), "root:x:0:0").expect("write");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let child = Command::new(env!("CARGO_BIN_EXE_lcc"))
            .arg("serve-static")
            .arg(dir.path().join("site"))
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--header-timeout")
            .arg(format!("{HEADER_TIMEOUT_MS}ms"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn lcc serve-static");
        let server = Static {
            child: KillOnDrop(child),
            addr,
            _dir: dir,
        };
        let up = wait_until(Duration::from_secs(10), || {
            http_get(addr, "/").is_some_and(|(s, _)| s == 200)
        });
        assert!(up, "serve-static answers on {addr}");
        server
    }
}

/// Malformed requests: a name and the raw bytes, aimed at `path` where they have one.
fn malformed(path: &str) -> Vec<(&'static str, Vec<u8>)> {
    malformed_at_root()
        .into_iter()
        .map(|(name, bytes)| (name, retarget(&bytes, path)))
        .collect()
}

/// `bytes` with a leading `GET / ` or `POST / ` aimed at `path` instead.
fn retarget(bytes: &[u8], path: &str) -> Vec<u8> {
    for method in ["GET", "POST"] {
        let from = format!("{method} / ");
        if let Some(rest) = bytes.strip_prefix(from.as_bytes()) {
            return [format!("{method} {path} ").as_bytes(), rest].concat();
        }
    }
    bytes.to_vec()
}

/// The malformed requests, aimed at `/`.
fn malformed_at_root() -> Vec<(&'static str, Vec<u8>)> {
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(100_000));
    let huge_header = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "b".repeat(1 << 20)
    );
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        "X-H: v\r\n".repeat(10_000)
    );
    let mut garbage = Vec::with_capacity(4096);
    let mut x: u32 = 0x1234_5678;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        garbage.push((x & 0xff) as u8);
    }
    let mut cases: Vec<(&'static str, Vec<u8>)> = vec![
        ("no method", b"/ HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()),
        ("garbage line", b"GARBAGE\r\n\r\n".to_vec()),
        ("bare method", b"GET\r\n\r\n".to_vec()),
        ("bad version", b"GET / HTTP/9.9\r\nHost: a\r\n\r\n".to_vec()),
        ("NUL in target", b"GET /\x00x HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()),
        ("space in target", b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()),
        ("header without colon", b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n".to_vec()),
        ("space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n".to_vec()),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n b\r\n\r\n".to_vec()),
        ("CL and TE (smuggling)", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled-clte HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()),
        ("TE and CL (smuggling)", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\nGET /smuggled-tecl HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()),
        ("two Content-Lengths", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabcGET /smuggled-clcl HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()),
        ("obfuscated TE", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n".to_vec()),
        ("TE not last chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n".to_vec()),
        ("bad chunk size", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n".to_vec()),
        ("negative Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n".to_vec()),
        ("absurd Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec()),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()),
        ("CONNECT", b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n".to_vec()),
        ("binary garbage", garbage),
    ];
    cases.push(("100 KB URI", long_uri.into_bytes()));
    cases.push(("1 MiB header", huge_header.into_bytes()));
    cases.push(("10000 headers", many_headers.into_bytes()));
    cases
}

/// Whether a status is a refusal the brief allows (4xx; 501/505 name what is unsupported).
fn refusal(status: u16) -> bool {
    (400..500).contains(&status) || status == 501 || status == 505
}

/// Sends every malformed request to `addr` (prefixing entrance paths when `prefix`),
/// checking refusal, liveness and a good request after each; returns the problems.
fn hammer(
    what: &str,
    addr: SocketAddr,
    good_path: &str,
    alive: &mut dyn FnMut() -> bool,
) -> Vec<String> {
    hammer_with(what, addr, good_path, alive, &Plain)
}

/// How the corpus reaches a listener: plain TCP, or TLS through `openssl s_client`.
trait Wire {
    /// Sends `bytes`, reads until closed or `timeout`: the reply and whether it closed.
    fn exchange(&self, addr: SocketAddr, bytes: &[u8], timeout: Duration) -> (Vec<u8>, bool);
    /// A good `GET path`: its status and body.
    fn get(&self, addr: SocketAddr, path: &str) -> Option<(u16, Vec<u8>)>;
}

struct Plain;

impl Wire for Plain {
    fn exchange(&self, addr: SocketAddr, bytes: &[u8], timeout: Duration) -> (Vec<u8>, bool) {
        raw_exchange(addr, bytes, timeout)
    }
    fn get(&self, addr: SocketAddr, path: &str) -> Option<(u16, Vec<u8>)> {
        http_get(addr, path)
    }
}

/// TLS to `name` (SNI), trusting `ca`, through real `openssl s_client` and `curl`.
struct Tls {
    name: &'static str,
    ca: std::path::PathBuf,
}

impl Wire for Tls {
    fn exchange(&self, addr: SocketAddr, bytes: &[u8], timeout: Duration) -> (Vec<u8>, bool) {
        let mut child = Command::new("openssl")
            .args(["s_client", "-quiet", "-nocommands", "-verify_return_error"])
            .args([
                "-connect",
                &addr.to_string(),
                "-servername",
                self.name,
                "-CAfile",
            ])
            .arg(&self.ca)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run openssl (apt-get install openssl)");
        let mut stdin = child.stdin.take().expect("stdin");
        let bytes = bytes.to_vec();
        // fed from a thread: a server that stops reading must not block the test
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        });
        let mut stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let _ = stdout.read_to_end(&mut got);
            got
        });
        let closed = wait_until(timeout, || matches!(child.try_wait(), Ok(Some(_))));
        let _ = child.kill();
        let _ = child.wait();
        let _ = feeder.join();
        (reader.join().unwrap_or_default(), closed)
    }
    fn get(&self, addr: SocketAddr, path: &str) -> Option<(u16, Vec<u8>)> {
        let port = addr.port();
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "3", "-w", "\n%{http_code}", "--cacert"])
            .arg(&self.ca)
            .arg("--resolve")
            .arg(format!("{}:{port}:{}", self.name, addr.ip()))
            .arg(format!("https://{}:{port}{path}", self.name))
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n')?;
        Some((code.parse().ok()?, body.as_bytes().to_vec()))
    }
}

fn hammer_with(
    what: &str,
    addr: SocketAddr,
    good_path: &str,
    alive: &mut dyn FnMut() -> bool,
    wire: &dyn Wire,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, bytes) in malformed(good_path) {
        let (reply, closed) = wire.exchange(addr, &bytes, Duration::from_secs(3));
        let statuses = count_responses(&reply);
        match status_of(&reply) {
            Some(s) if refusal(s) => {}
            // RFC 9112 6.1: a message with both CL and TE may be served by TE if the
            // connection is closed after the one response.
            Some(s)
                if name.contains("smuggling")
                    && (200..300).contains(&s)
                    && statuses == 1
                    && closed => {}
            None if closed => {}
            // the entrance listeners speak HTTP/2 to a client that starts with its
            // preface: their answer is a SETTINGS frame (type 4), then the idle cut
            None if name == "HTTP/2 preface" && reply.get(3) == Some(&4) => {}
            other => problems.push(format!(
                "{what}: {name}: got {other:?} ({} responses, closed: {closed}): {:?}",
                statuses,
                String::from_utf8_lossy(&reply[..reply.len().min(200)])
            )),
        }
        if statuses > 1 {
            problems.push(format!(
                "{what}: {name}: {statuses} responses to one malformed message"
            ));
        }
        if !alive() {
            problems.push(format!("{what}: {name}: the server died"));
            return problems;
        }
        match wire.get(addr, good_path) {
            Some((200, _)) => {}
            other => problems.push(format!(
                "{what}: after {name}: a good request got {other:?}"
            )),
        }
    }
    problems
}

/// How many HTTP responses start in `bytes` (at a line start).
fn count_responses(bytes: &[u8]) -> usize {
    let text = String::from_utf8_lossy(bytes);
    text.split("\r\n")
        .filter(|l| l.starts_with("HTTP/1."))
        .count()
}

#[test]
fn malformed_requests_at_the_proxy_are_refused_and_it_keeps_serving() {
    let backend = Recorder::start();
    let proxy = Proxy::start(backend.addr);
    let pid = proxy.child_pid;
    let mut alive = || std::path::Path::new(&format!("/proc/{pid}")).exists() && !zombie(pid);
    let mut problems = hammer("entrance", proxy.entrance, "/entrances/web/", &mut alive);
    problems.extend(hammer("gateway", proxy.gateway, "/", &mut alive));
    // the same corpus inside TLS, on the https listener
    let tls = Tls {
        name: "web.localhost",
        ca: proxy.ca.clone(),
    };
    problems.extend(hammer_with(
        "https entrance",
        proxy.https,
        "/entrances/web/",
        &mut alive,
        &tls,
    ));
    for smuggled in ["/smuggled-clte", "/smuggled-tecl", "/smuggled-clcl"] {
        if backend.saw(smuggled) {
            problems.push(format!(
                "the backend received the smuggled request {smuggled}"
            ));
        }
    }
    let both = backend.heads.lock().expect("lock").iter().any(|h| {
        let l = h.to_ascii_lowercase();
        l.contains("content-length:") && l.contains("transfer-encoding:")
    });
    if both {
        problems.push(
            "a request with both Content-Length and Transfer-Encoding reached the backend".into(),
        );
    }
    eprintln!(
        "faults: malformed HTTP at lcc-proxy: {} injected, {} problems",
        3 * malformed("/").len(),
        problems.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn malformed_requests_at_serve_static_are_refused_and_it_keeps_serving() {
    let mut server = Static::start();
    let addr = server.addr;
    let mut alive = || matches!(server.child.0.try_wait(), Ok(None));
    let mut problems = hammer("serve-static", addr, "/", &mut alive);
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "//../secret.txt",
        "/.%00./secret.txt",
    ] {
        let req = format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        let (reply, _) = raw_exchange(addr, req.as_bytes(), Duration::from_secs(3));
        if String::from_utf8_lossy(&reply).contains("root:x") {
            problems.push(format!(
                "serve-static: {path} served a file outside its directory"
            ));
        }
    }
    eprintln!(
        "faults: malformed HTTP at serve-static: {} injected, {} problems",
        malformed("/").len() + 6,
        problems.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Whether `pid` is a zombie (dead but not reaped).
fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Opens `n` connections that send a partial head and then one header line every
/// `drip`; returns them.
fn slowloris(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|_| {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
            s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n").ok()?;
            s.set_read_timeout(Some(Duration::from_millis(1))).ok()?;
            Some(s)
        })
        .collect()
}

/// Drips a header line into every open slow connection until all are closed by the
/// server or `limit` passes, checking meanwhile that `good` keeps getting 200s; returns
/// (time until all were cut, good requests served, good requests failed).
fn drip_until_cut(
    mut conns: Vec<TcpStream>,
    limit: Duration,
    good: SocketAddr,
    path: &str,
) -> (Option<Duration>, u32, u32) {
    let start = Instant::now();
    let (mut ok, mut failed) = (0, 0);
    while start.elapsed() < limit {
        conns.retain_mut(|s| {
            let mut b = [0u8; 512];
            let open = match s.read(&mut b) {
                Ok(_) => false,
                Err(e) => matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
            };
            open && s.write_all(b"X-Slow: 1\r\n").is_ok()
        });
        if conns.is_empty() {
            return (Some(start.elapsed()), ok, failed);
        }
        match http_get(good, path) {
            Some((200, _)) => ok += 1,
            _ => failed += 1,
        }
        // The attack itself: one more header line every half second.
        std::thread::sleep(Duration::from_millis(500));
    }
    (None, ok, failed)
}

#[test]
fn slowloris_at_the_proxy_is_cut_off_and_others_are_served() {
    let backend = Recorder::start();
    let proxy = Proxy::start(backend.addr);
    let conns = slowloris(proxy.entrance, 100);
    assert_eq!(conns.len(), 100, "100 slow connections opened");
    let (cut, ok, failed) = drip_until_cut(
        conns,
        Duration::from_secs(25),
        proxy.entrance,
        "/entrances/web/",
    );
    eprintln!("faults: slowloris at lcc-proxy: 100 connections cut after {cut:?}; meanwhile {ok} good requests served, {failed} failed");
    assert!(
        cut.is_some(),
        "every slow connection is cut off within 25 s"
    );
    assert_eq!(failed, 0, "good requests are served during the attack");
}

#[test]
fn slowloris_at_serve_static_is_cut_off_and_others_are_served() {
    let server = Static::start();
    let conns = slowloris(server.addr, 100);
    assert_eq!(conns.len(), 100, "100 slow connections opened");
    let (cut, ok, failed) = drip_until_cut(conns, Duration::from_secs(40), server.addr, "/");
    eprintln!("faults: slowloris at serve-static: 100 connections cut after {cut:?}; meanwhile {ok} good requests served, {failed} failed");
    assert!(
        cut.is_some(),
        "every slow connection is cut off within 40 s"
    );
    assert_eq!(failed, 0, "good requests are served during the attack");
}
