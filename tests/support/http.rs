//! Raw HTTP/1.1 over std sockets, so that a request reaches a server byte for byte.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Sends raw `bytes` to `addr` and reads what comes back until EOF, `read_timeout`
/// of silence, or 1 MiB; returns the bytes and whether the peer closed.
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8], read_timeout: Duration) -> (Vec<u8>, bool) {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return (Vec::new(), true);
    };
    let _ = stream.set_read_timeout(Some(read_timeout));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    // A server may cut us off mid-write: that is an allowed answer.
    let _ = stream.write_all(bytes);
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() > (1 << 20) {
                    break false;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (got, closed)
}

/// The status code of the first HTTP response in `bytes`, if any.
pub fn status_of(bytes: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next()?;
    let mut parts = line.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// `GET path` with `Connection: close`: the status and body, or None if no answer.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, Vec<u8>)> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let (bytes, _) = raw_exchange(addr, req.as_bytes(), Duration::from_secs(3));
    let status = status_of(&bytes)?;
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((status, bytes[split + 4..].to_vec()))
}
