//! A small HTTP/1.1 client for the daemon's API over its Unix socket or TCP: one request
//! per connection (`Connection: close`), the answer read whole, or a stream read until a
//! condition holds (events, `follow` logs).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// An answer: status, headers (names lowercase), body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// The first header of that (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Where the API is.
#[derive(Debug, Clone)]
pub enum Target<'a> {
    Socket(&'a Path),
    Tcp(std::net::SocketAddr),
}

/// A connected stream to the API.
fn connect(to: &Target<'_>) -> Box<dyn ReadWrite> {
    let stream: Box<dyn ReadWrite> = match to {
        Target::Socket(p) => Box::new(UnixStream::connect(p).expect("connect to the API socket")),
        Target::Tcp(a) => Box::new(
            std::net::TcpStream::connect_timeout(a, Duration::from_secs(2))
                .expect("connect to the API over TCP"),
        ),
    };
    stream
}

pub trait ReadWrite: Read + Write {
    fn set_timeout(&self, t: Duration);
}
impl ReadWrite for UnixStream {
    fn set_timeout(&self, t: Duration) {
        let _ = self.set_read_timeout(Some(t));
    }
}
impl ReadWrite for std::net::TcpStream {
    fn set_timeout(&self, t: Duration) {
        let _ = self.set_read_timeout(Some(t));
    }
}

/// The request's bytes: `Host: localhost` unless `headers` give one.
fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str("Host: localhost\r\n");
    }
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// One request, the whole answer (within 10 s).
pub fn call(
    to: &Target<'_>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut s = connect(to);
    s.set_timeout(Duration::from_secs(10));
    // A server may answer (413) before reading everything: the rest may not go out.
    let _ = s.write_all(&request(method, path, headers, body));
    let mut bytes = Vec::new();
    let _ = s.read_to_end(&mut bytes);
    parse(&bytes).unwrap_or_else(|| {
        panic!(
            "{method} {path}: no HTTP answer: {:?}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

/// `GET path` on the socket.
pub fn get(socket: &Path, path: &str) -> Answer {
    call(&Target::Socket(socket), "GET", path, &[], b"")
}

/// Opens a streaming request and reads until `done` holds for what came so far (or
/// `timeout`); returns the status and everything read.
pub fn stream_until(
    to: &Target<'_>,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
    mut done: impl FnMut(&str) -> bool,
    mut meanwhile: impl FnMut(),
) -> (u16, String) {
    let mut s = connect(to);
    s.set_timeout(Duration::from_millis(200));
    s.write_all(&request("GET", path, headers, b""))
        .expect("send");
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let mut acted = false;
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        let text = String::from_utf8_lossy(&got).into_owned();
        if !acted && text.contains("\r\n\r\n") {
            acted = true;
            meanwhile();
        }
        if done(&text) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = crate::support::status_of(&got).unwrap_or(0);
    (status, text)
}

/// Status, headers and body of a whole answer (chunked bodies decoded).
fn parse(bytes: &[u8]) -> Option<Answer> {
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let raw = &bytes[split + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(raw) } else { raw.to_vec() };
    Some(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&raw[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        let end = (start + size).min(raw.len());
        out.extend_from_slice(&raw[start..end]);
        raw = &raw[(end + 2).min(raw.len())..];
    }
    out
}
