//! The daemon's HTTP probe: a fixed `HTTP/1.0` GET on a fresh connection and the status
//! line of its answer, with as few system calls and wake-ups as probing hundreds of
//! instances every few seconds calls for. It is lcc's only HTTP client: `lcc probe` (a
//! pod's `readiness`) uses it too, through `probe.rs`.
//!
//! The socket stays out of the event loop for as long as it need not wait: on loopback
//! the handshake is over when `connect` returns, so the request goes out at once, and a
//! settled probe usually finds its answer already there. Only a socket that must wait is
//! registered with tokio. An unregistered socket wakes nobody when its answer arrives.
//!
//! The handshake's last ACK rides on the request (`TCP_QUICKACK` off before `connect`
//! puts the socket in "ping-pong" mode, in which Linux delays that ACK for data to
//! carry it): the app's `accept` then wakes once, with the request already there,
//! instead of once for the connection and again for the request, and one packet fewer
//! crosses loopback.
//!
//! A finished probe's socket is disconnected (`connect(AF_UNSPEC)`, which resets the
//! connection as `close` would) and kept in [`Sockets`] for a later probe: no socket
//! to create and free each time (the saving per probe is in bench/RESULTS.md).

use std::future::Future;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

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
    let probe = Probe::start(addr, host, path, timeout)?;
    if probe.sent() && !settle.is_zero() {
        tokio::time::sleep(settle.min(timeout / 2)).await;
    }
    probe.answer().await
}

/// One HTTP probe under way: its connection, the request and how much of it went out,
/// the answer so far, and by when it must have come.
///
/// The daemon sends its steady probes with [`Probe::start`] and reads them with
/// [`Probe::try_answer`] at a later wake-up of its loop, together with others: no task,
/// timer or wake-up of their own. Only a probe whose answer is not there by then waits
/// in the event loop ([`Probe::answer`]).
#[derive(Debug)]
pub struct Probe {
    conn: Conn,
    addr: SocketAddr,
    request: Arc<Request>,
    timeout: Duration,
    deadline: Instant,
    /// The head of the answer read so far.
    head: [u8; 32],
    /// Bytes of it.
    got: usize,
}

impl Probe {
    /// Connects and sends what the socket takes at once (on loopback, where the
    /// handshake is over when `connect` returns: all of it).
    pub fn start(
        addr: SocketAddr,
        host: &str,
        path: &str,
        timeout: Duration,
    ) -> Result<Probe, String> {
        let request = Request::new(host, path);
        Probe::start_with(&mut Sockets::default(), addr, request, timeout)
    }

    /// [`Probe::start`] of a prepared `request`, on a socket from `sockets` if one is
    /// kept there.
    pub fn start_with(
        sockets: &mut Sockets,
        addr: SocketAddr,
        request: Arc<Request>,
        timeout: Duration,
    ) -> Result<Probe, String> {
        let conn = Conn::open(sockets, addr).map_err(|e| format!("connect {addr}: {e}"))?;
        let mut probe = Probe {
            conn,
            addr,
            request,
            timeout,
            deadline: Instant::now() + timeout,
            head: [0; 32],
            got: 0,
        };
        probe
            .conn
            .send_plain(&probe.request.bytes)
            .map_err(|e| probe.describe(e))?;
        Ok(probe)
    }

    /// Whether the whole request went out.
    pub fn sent(&self) -> bool {
        self.conn.sent == self.request.bytes.len()
    }

    /// The verdict if the answer's head is there now; `None`: not yet.
    pub fn try_answer(&mut self) -> Option<Result<(), String>> {
        let step = self.conn.send_plain(&self.request.bytes).and_then(|all| {
            if all {
                self.conn.read_plain(&mut self.head, &mut self.got)
            } else {
                Ok(false)
            }
        });
        match step {
            Ok(true) => Some(self.verdict()),
            Ok(false) => None,
            Err(e) => Some(Err(self.describe(e))),
        }
    }

    /// Gives the socket of a finished probe back to `sockets`, disconnected (an app's
    /// connection is reset, as by `close`); one that cannot be is closed.
    pub fn recycle(self, sockets: &mut Sockets) {
        if let Some(s) = self.conn.plain {
            let s = socket2::Socket::from(s);
            if rustix::net::connect_unspec(&s).is_ok() {
                sockets.put(self.addr, s);
            }
        }
    }

    /// Sends the rest and waits for the answer until the deadline; passes on status
    /// 200-399.
    pub async fn answer(self) -> Result<(), String> {
        let (addr, request) = (self.addr, Arc::clone(&self.request));
        passes(addr, &request.path, self.status().await?)
    }

    /// Sends the rest and waits for the answer until the deadline: its status code
    /// (`lcc probe` judges it against its own range).
    pub async fn status(mut self) -> Result<u16, String> {
        let deadline = self.deadline;
        let exchange = async {
            self.conn.send(&self.request.bytes, deadline).await?;
            self.conn
                .read_head(&mut self.head, &mut self.got, deadline)
                .await
        };
        match exchange.await {
            Ok(()) => self.status_code(),
            Err(e) => Err(self.describe(e)),
        }
    }

    /// Passes on status 200-399.
    fn verdict(&self) -> Result<(), String> {
        passes(self.addr, &self.request.path, self.status_code()?)
    }

    /// The status of the answer's head.
    fn status_code(&self) -> Result<u16, String> {
        let (addr, path) = (self.addr, &self.request.path);
        status_of(&self.head[..self.got])
            .ok_or_else(|| format!("GET {path} on {addr}: no HTTP status line"))
    }

    fn describe(&self, e: io::Error) -> String {
        let (addr, path, timeout) = (self.addr, &self.request.path, self.timeout);
        match e.kind() {
            ErrorKind::TimedOut => format!("GET {path} on {addr}: no answer within {timeout:?}"),
            ErrorKind::ConnectionRefused => format!("connect {addr}: {e}"),
            _ => format!("GET {path} on {addr}: {e}"),
        }
    }
}

/// A probe's request, built once and shared by every probe of the same target (the
/// daemon keeps one per instance: no formatting or allocation per probe).
#[derive(Debug)]
pub struct Request {
    /// `GET path HTTP/1.0` with its headers, as sent.
    bytes: Vec<u8>,
    /// The path, for messages.
    path: String,
}

impl Request {
    /// The request for `GET path` with `Host: host`.
    pub fn new(host: &str, path: &str) -> Arc<Request> {
        let text = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: lcc-probe\r\n\r\n");
        Arc::new(Request {
            bytes: text.into_bytes(),
            path: path.to_string(),
        })
    }

    /// The path it asks for.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// The probe's verdict on a status: 200-399 passes.
fn passes(addr: SocketAddr, path: &str, code: u16) -> Result<(), String> {
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!("GET {path} on {addr}: status {code}"))
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
#[derive(Debug)]
struct Conn {
    /// The socket while it is out of the event loop.
    plain: Option<StdStream>,
    /// The socket once something had to wait.
    registered: Option<TcpStream>,
    /// Bytes of the request written so far.
    sent: usize,
}

impl Conn {
    /// Starts a non-blocking connect; it completes (or fails) by the first write.
    fn open(sockets: &mut Sockets, addr: SocketAddr) -> io::Result<Conn> {
        let socket = match sockets.take(addr) {
            Some(s) => s,
            // Non-blocking from the start (SOCK_NONBLOCK): no fcntl calls.
            None => socket2::Socket::new(
                socket2::Domain::for_address(addr),
                socket2::Type::STREAM.nonblocking(),
                None,
            )?,
        };
        // Best effort: without it the probe only costs one wake-up and one packet more.
        // (Again on a kept socket: a disconnect clears it.)
        let _ = socket.set_tcp_quickack(false);
        match socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EINPROGRESS as i32) => {}
            Err(e) => return Err(e),
        }
        Ok(Conn {
            plain: Some(socket.into()),
            registered: None,
            sent: 0,
        })
    }

    /// Sends what the socket takes of the rest of `buf` without waiting; true once all
    /// of it went out. (A refused connect shows here.)
    fn send_plain(&mut self, buf: &[u8]) -> io::Result<bool> {
        if let Some(s) = self.plain.as_mut() {
            while self.sent < buf.len() {
                match s.write(&buf[self.sent..]) {
                    Ok(n) => self.sent += n,
                    Err(e) if would_wait(&e) => break,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(self.sent == buf.len())
    }

    /// Sends all of `buf`: at once where the socket takes it (on loopback it does), else
    /// waiting in the event loop until `deadline`.
    async fn send(&mut self, buf: &[u8], deadline: Instant) -> io::Result<()> {
        if self.send_plain(buf)? {
            return Ok(());
        }
        let rest = &buf[self.sent..];
        // The deadline takes a timer only where something waits: registering a timer
        // wakes the event loop.
        within(deadline, self.register()?.write_all(rest)).await?;
        self.sent = buf.len();
        Ok(())
    }

    /// Reads into `buf` from `*n` on without waiting; true once a status line's worth
    /// (12 bytes) or the end is there.
    fn read_plain(&mut self, buf: &mut [u8; 32], n: &mut usize) -> io::Result<bool> {
        let Some(s) = self.plain.as_mut() else {
            return Ok(false);
        };
        while *n < 12 {
            match s.read(&mut buf[*n..]) {
                Ok(0) => return Ok(true),
                Ok(r) => *n += r,
                Err(e) if would_wait(&e) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Reads a status line's worth (or up to the end) into `buf` from `*n` on: what is
    /// there now, else waiting in the event loop until `deadline`.
    async fn read_head(
        &mut self,
        buf: &mut [u8; 32],
        n: &mut usize,
        deadline: Instant,
    ) -> io::Result<()> {
        if self.read_plain(buf, n)? {
            return Ok(());
        }
        let stream = self.register()?;
        within(deadline, async {
            while *n < 12 {
                match stream.read(&mut buf[*n..]).await? {
                    0 => break,
                    r => *n += r,
                }
            }
            Ok(())
        })
        .await
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

/// Disconnected probe sockets, IPv4 and IPv6, kept for the next probes.
#[derive(Debug, Default)]
pub struct Sockets {
    v4: Vec<socket2::Socket>,
    v6: Vec<socket2::Socket>,
}

impl Sockets {
    /// Sockets kept per family at most: as many as the steady probes the daemon holds
    /// for a later read at most (`probe_grid::MAX_HELD`), which one grid instant's
    /// probes reach with 256 instances.
    const KEEP: usize = 256;

    fn take(&mut self, addr: SocketAddr) -> Option<socket2::Socket> {
        self.family(addr).pop()
    }

    fn put(&mut self, addr: SocketAddr, s: socket2::Socket) {
        let kept = self.family(addr);
        if kept.len() < Sockets::KEEP {
            kept.push(s);
        }
    }

    fn family(&mut self, addr: SocketAddr) -> &mut Vec<socket2::Socket> {
        if addr.is_ipv4() {
            &mut self.v4
        } else {
            &mut self.v6
        }
    }
}

/// `io` until `deadline`; running out of time is `TimedOut`.
async fn within<T>(deadline: Instant, io: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    tokio::time::timeout_at(deadline, io)
        .await
        .unwrap_or_else(|_| Err(ErrorKind::TimedOut.into()))
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
    async fn the_app_sees_the_connection_only_with_the_request() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        // The held-back ACK goes alone after 200 ms: a test thread stalled that long
        // between two calls sees the connection early, so one clean try in 5 suffices.
        let mut held_back = None;
        for _ in 0..5 {
            let conn = Conn::open(&mut Sockets::default(), addr).unwrap();
            match l.accept() {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    held_back = Some(conn);
                    break;
                }
                other => drop(other),
            }
        }
        let mut conn = held_back.expect("the handshake's last ACK was never held back");
        conn.send(b"GET / HTTP/1.0\r\n\r\n", deadline)
            .await
            .unwrap();
        l.set_nonblocking(false).unwrap();
        let (mut app, _) = l.accept().unwrap();
        app.set_nonblocking(true).unwrap();
        let mut got = [0u8; 64];
        // the request arrived with the connection: no wait for it
        let n = app.read(&mut got).unwrap();
        assert_eq!(&got[..n], b"GET / HTTP/1.0\r\n\r\n");
    }

    #[tokio::test]
    async fn a_kept_socket_serves_the_next_probe_and_the_app_sees_each_end() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        // Each connection: the answer with more than the probe reads, then how it ended.
        let app = tokio::spawn(async move {
            let mut ends = Vec::new();
            for _ in 0..3 {
                let (mut s, peer) = l.accept().await.unwrap();
                let mut b = [0u8; 256];
                let _ = s.read(&mut b).await.unwrap();
                s.write_all(b"HTTP/1.0 200 OK\r\n\r\n").await.unwrap();
                s.write_all(&[b'x'; 100]).await.unwrap();
                let end = s.read(&mut b).await;
                ends.push((peer, end.map_err(|e| e.kind())));
            }
            ends
        });
        let mut kept = Sockets::default();
        for _ in 0..3 {
            let mut p = Probe::start_with(
                &mut kept,
                addr,
                Request::new("h", "/"),
                Duration::from_secs(5),
            )
            .unwrap();
            assert_eq!(kept.v4.len(), 0, "the kept socket is in use");
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            let result = loop {
                if let Some(r) = p.try_answer() {
                    break r;
                }
                assert!(std::time::Instant::now() < deadline, "no answer");
                tokio::time::sleep(Duration::from_millis(5)).await;
            };
            assert_eq!(result, Ok(()));
            p.recycle(&mut kept);
            assert_eq!(kept.v4.len(), 1, "disconnected and kept");
        }
        let ends = app.await.unwrap();
        let peers: std::collections::BTreeSet<_> = ends.iter().map(|(p, _)| *p).collect();
        assert_eq!(peers.len(), 3, "three connections: {ends:?}");
        // Unread answer left: the disconnect resets the connection, as `close` would.
        for (_, end) in &ends {
            assert_eq!(*end, Err(ErrorKind::ConnectionReset), "{ends:?}");
        }
    }

    #[tokio::test]
    async fn a_probe_sent_now_is_read_at_a_later_wake_up() {
        let ms = Duration::from_millis;
        let (addr, task) = server(vec![(200, ms(0)), (503, ms(0)), (200, ms(3000))]).await;
        let start = |timeout| Probe::start(addr, "h", "/health", timeout).unwrap();
        let mut p = start(ms(5000));
        assert!(p.sent(), "loopback takes the request at once");
        // The app answers while the probe is not polled at all.
        tokio::time::sleep(ms(200)).await;
        assert_eq!(p.try_answer(), Some(Ok(())));
        let mut p = start(ms(5000));
        tokio::time::sleep(ms(200)).await;
        let err = p.try_answer().unwrap().unwrap_err();
        assert!(err.contains("status 503"), "{err}");
        // No answer yet: it waits in the event loop, until the probe's own deadline.
        let mut p = start(ms(400));
        tokio::time::sleep(ms(50)).await;
        assert_eq!(p.try_answer(), None);
        let err = p.answer().await.unwrap_err();
        assert!(err.contains("no answer within 400ms"), "{err}");
        task.abort();
        let _ = task.await;
        // nothing listens there, nor can meanwhile (a freed port may be taken by another
        // test): a socket holds it bound, without listening
        let held = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        held.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .expect("bind");
        let dead = held.local_addr().expect("addr").as_socket().expect("inet");
        let err = Probe::start(dead, "h", "/health", ms(400)).unwrap_err();
        assert!(err.starts_with(&format!("connect {dead}")), "{err}");
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
