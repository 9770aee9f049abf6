//! Helpers of the site tests: a tiny HTTP server serving fixed bytes, a raw HTTP
//! client (so that paths reach the server byte for byte), a guard around a running
//! `lcc serve-static`, and a bounded wait.

pub use super::{lcc_bin, wait_until};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What the test server answers on one path.
#[derive(Clone)]
pub enum Reply {
    /// 200 with these bytes.
    Bytes(Vec<u8>),
    /// 200 announcing `announced` bytes, sending `body`, then closing.
    Cut { body: Vec<u8>, announced: usize },
}

/// A one-request-per-connection HTTP server on 127.0.0.1, stopped on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves `routes` (path -> reply); any other path gets 404.
    pub fn start(routes: HashMap<String, Reply>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let (stop2, requests2) = (Arc::clone(&stop), Arc::clone(&requests));
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    requests2.fetch_add(1, Ordering::SeqCst);
                    answer(stream, &routes);
                }
            }
        });
        TestServer {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request head and writes the route's reply.
fn answer(stream: TcpStream, routes: &HashMap<String, Reply>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => return,
            Ok(_) if h == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let mut out = &stream;
    let _ = match routes.get(&path) {
        Some(Reply::Bytes(body)) => write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .and_then(|()| out.write_all(body)),
        Some(Reply::Cut { body, announced }) => write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n"
        )
        .and_then(|()| out.write_all(body)),
        None => out.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
        ),
    };
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Reply1 {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply1 {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request with `Connection: close` exactly as written and reads the response.
pub fn request(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply1 {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    parse(&raw)
}

/// Parses a whole response (head and body up to the end of the connection).
pub fn parse(raw: &[u8]) -> Reply1 {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply1 {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// A running `lcc serve-static`, killed on drop.
pub struct Served {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Served {
    /// Starts `lcc serve-static DIR --listen 127.0.0.1:0 [extra]` and reads its address
    /// from the line it prints on stderr.
    pub fn start(dir: &Path, extra: &[&str]) -> Served {
        let mut child = Command::new(lcc_bin())
            .arg("serve-static")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lcc serve-static");
        let stderr = child.stderr.take().expect("stderr");
        let mut reader = BufReader::new(stderr);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        // Keep draining so that a later message never meets a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.trim().trim_end_matches('/').parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("lcc serve-static did not report its address: {line:?}");
        };
        Served { child, addr }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
