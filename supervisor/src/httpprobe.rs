//! The daemon's HTTP probe: a fixed `HTTP/1.0` GET on a fresh connection and the status
//! line of its answer, with as few system calls and wake-ups as probing hundreds of
//! instances every few seconds calls for (`lcc probe` uses the full client of `probe.rs`).
//!
//! The socket stays out of the event loop for as long as it need not wait: on loopback
//! the handshake is over when `connect` returns, so the request goes out at once, and a
//! settled probe usually finds its answer already there. Only a socket that must wait is
//! registered with tokio. An unregistered socket wakes nobody when its answer arrives.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One `GET path` on `addr` within `timeout`; status 200-399 passes. With a non-zero
/// `settle` it waits that long (at most half the timeout) after sending before it
/// reads: the probes sent together then read their answers in one wake-up.
pub async fn get(
    addr: SocketAddr,
    host: &str,
    path: &str,
    timeout: Duration,
    settle: Duration,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let late = || format!("GET {path} on {addr}: no answer within {timeout:?}");
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: lcc-probe\r\n\r\n");
    let mut conn = Conn::open(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    // The deadline needs a timer only where something waits: a timer costs a wake-up
    // of the event loop when it is registered.
    if !conn
        .try_write_all(request.as_bytes())
        .map_err(|e| failed(addr, path, e))?
    {
        let rest = conn.unsent(request.as_bytes());
        tokio::time::timeout_at(deadline, conn.register_write_all(&rest))
            .await
            .map_err(|_| late())?
            .map_err(|e| failed(addr, path, e))?;
    }
    if !settle.is_zero() {
        tokio::time::sleep(settle.min(timeout / 2)).await;
    }
    let mut buf = [0u8; 32];
    let n = match conn.try_read_head(&mut buf) {
        Some(n) => n,
        None => tokio::time::timeout_at(deadline, conn.register_read_head(&mut buf))
            .await
            .map_err(|_| late())?,
    }
    .map_err(|e| failed(addr, path, e))?;
    let code =
        status_of(&buf[..n]).ok_or_else(|| format!("GET {path} on {addr}: no HTTP status line"))?;
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!("GET {path} on {addr}: status {code}"))
    }
}

/// A refused connection shows only at the first write; it is reported as such.
fn failed(addr: SocketAddr, path: &str, e: io::Error) -> String {
    if e.kind() == ErrorKind::ConnectionRefused {
        format!("connect {addr}: {e}")
    } else {
        format!("GET {path} on {addr}: {e}")
    }
}

/// The status code of `HTTP/1.x NNN ...`.
fn status_of(head: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(head).ok()?;
    let mut it = text.split(' ');
    it.next().filter(|v| v.starts_with("HTTP/"))?;
    it.next()?.get(..3)?.parse().ok()
}

/// A probe connection: a plain non-blocking socket until an operation would wait, then
/// a tokio stream (registered once, for the rest of its life).
struct Conn {
    /// The socket while it is out of the event loop.
    plain: Option<StdStream>,
    /// The socket once something had to wait.
    registered: Option<TcpStream>,
    /// Bytes of the request written so far.
    sent: usize,
    /// Bytes of the answer read so far.
    got: usize,
}

impl Conn {
    /// Starts a non-blocking connect; it completes (or fails) by the first write.
    fn open(addr: SocketAddr) -> io::Result<Conn> {
        // Non-blocking from the start (SOCK_NONBLOCK): no fcntl calls.
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM.nonblocking(),
            None,
        )?;
        match socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EINPROGRESS as i32) => {}
            Err(e) => return Err(e),
        }
        Ok(Conn {
            plain: Some(socket.into()),
            registered: None,
            sent: 0,
            got: 0,
        })
    }

    /// Writes what the socket takes now; true once all of `buf` is sent.
    fn try_write_all(&mut self, buf: &[u8]) -> io::Result<bool> {
        let Some(s) = self.plain.as_mut() else {
            return Ok(false);
        };
        while self.sent < buf.len() {
            match s.write(&buf[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if would_wait(&e) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// What `try_write_all` left of `buf`.
    fn unsent(&self, buf: &[u8]) -> Vec<u8> {
        buf[self.sent.min(buf.len())..].to_vec()
    }

    /// Writes `rest`, waiting in the event loop.
    async fn register_write_all(&mut self, rest: &[u8]) -> io::Result<()> {
        self.register()?.write_all(rest).await
    }

    /// Reads a status line's worth if it is there now; `None` if it has to wait.
    fn try_read_head(&mut self, buf: &mut [u8; 32]) -> Option<io::Result<usize>> {
        let s = self.plain.as_mut()?;
        let mut n = 0;
        while n < 12 {
            match s.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(r) => n += r,
                Err(e) if would_wait(&e) => {
                    self.got = n;
                    return None;
                }
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(n))
    }

    /// Reads a status line's worth, waiting in the event loop.
    async fn register_read_head(&mut self, buf: &mut [u8; 32]) -> io::Result<usize> {
        let mut n = self.got;
        let s = self.register()?;
        while n < 12 {
            match s.read(&mut buf[n..]).await? {
                0 => break,
                r => n += r,
            }
        }
        Ok(n)
    }

    /// The tokio stream, registering the socket on first use.
    fn register(&mut self) -> io::Result<&mut TcpStream> {
        if let Some(s) = self.plain.take() {
            self.registered = Some(TcpStream::from_std(s)?);
        }
        self.registered
            .as_mut()
            .ok_or_else(|| io::Error::other("probe connection lost"))
    }
}

/// Errors that mean "not yet": a connect still in progress, an empty or full buffer.
fn would_wait(e: &io::Error) -> bool {
    e.kind() == ErrorKind::WouldBlock
        || e.raw_os_error() == Some(nix::errno::Errno::ENOTCONN as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn status_line() {
        assert_eq!(status_of(b"HTTP/1.0 200 OK\r\n"), Some(200));
        assert_eq!(status_of(b"HTTP/1.1 503"), Some(503));
        assert_eq!(status_of(b"SSH-2.0"), None);
    }

    /// Answers each connection with `HTTP/1.0 CODE`, after `delay` (a slow app).
    async fn server(codes: Vec<(u16, Duration)>) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = tokio::spawn(async move {
            for (code, delay) in codes {
                let (mut s, _) = l.accept().await.unwrap();
                let mut b = [0u8; 256];
                let n = s.read(&mut b).await.unwrap();
                assert!(b[..n].starts_with(b"GET /health HTTP/1.0\r\n"));
                tokio::time::sleep(delay).await;
                let _ = s
                    .write_all(format!("HTTP/1.0 {code} X\r\n\r\n").as_bytes())
                    .await;
            }
        });
        (addr, task)
    }

    #[tokio::test]
    async fn passes_fails_and_times_out_on_a_real_server() {
        let ms = Duration::from_millis;
        let (addr, task) = server(vec![
            (200, ms(0)),
            (500, ms(0)),
            (204, ms(0)),
            (200, ms(50)),
            (200, ms(3000)),
        ])
        .await;
        let t = Duration::from_secs(5);
        let get = |timeout, settle| get(addr, "h", "/health", timeout, settle);
        assert_eq!(get(t, ms(0)).await, Ok(()));
        let err = get(t, ms(0)).await.unwrap_err();
        assert!(err.contains("status 500"), "{err}");
        // A settling probe reads the same answer, later.
        assert_eq!(get(t, ms(20)).await, Ok(()));
        // An answer later than the settle time: the socket waits in the event loop.
        assert_eq!(get(t, ms(5)).await, Ok(()));
        let err = get(ms(300), ms(20)).await.unwrap_err();
        assert!(err.contains("no answer within"), "{err}");
        task.abort();
        let _ = task.await;
        let err = get(t, ms(0)).await.unwrap_err();
        assert!(err.starts_with(&format!("connect {addr}")), "{err}");
    }
}
