//! Native probes: one HTTP GET or TCP connect with a deadline, no process spawned.
//!
//! The daemon calls the async [`http_to`] and [`tcp_to`] (a host name is resolved
//! first); `lcc probe` (which the pod's `readiness` runs) calls the blocking
//! [`probe_url`].

use std::net::{SocketAddr, ToSocketAddrs};
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Why a probe did not pass.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The URL given to `lcc probe` is not `http://HOST:PORT/PATH` or `tcp://HOST:PORT`.
    #[error("bad probe URL {url:?}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `--timeout` or `--expect` argument that does not parse.
    #[error("bad {what} {value:?}")]
    BadArgument {
        /// `timeout` or `expect`.
        what: &'static str,
        /// The text given.
        value: String,
    },
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// `HOST:PORT`.
        host: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// Nothing accepted the connection.
    #[error("connect to {addr}: {source}")]
    Connect {
        /// Address tried.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// No answer within the timeout.
    #[error("{addr}: no answer within {timeout:?}")]
    Timeout {
        /// Address tried.
        addr: SocketAddr,
        /// The timeout.
        timeout: Duration,
    },
    /// The exchange failed: refused, broken, not HTTP, or no answer in time.
    #[error("{message}")]
    Exchange {
        /// What happened, with the address and path.
        message: String,
    },
    /// The request could not be built (a path that is not a valid request target).
    #[error("bad request path {path:?}")]
    BadPath {
        /// The path.
        path: String,
    },
    /// An answer outside the expected status range.
    #[error("GET {path} on {addr}: status {status}, expected {lo}-{hi}")]
    Status {
        /// Address tried.
        addr: SocketAddr,
        /// Request path.
        path: String,
        /// The status received.
        status: u16,
        /// Lowest accepted status.
        lo: u16,
        /// Highest accepted status.
        hi: u16,
    },
    /// The blocking wrapper could not start its runtime.
    #[error("cannot start the probe runtime: {0}")]
    Runtime(std::io::Error),
}

/// What a passing probe saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOk {
    /// The HTTP status received.
    Http(u16),
    /// The TCP connection was accepted.
    Tcp,
}

/// A TCP connect to `addr` within `timeout`.
pub async fn tcp(addr: SocketAddr, timeout: Duration) -> Result<(), ProbeError> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => Err(ProbeError::Timeout { addr, timeout }),
        Ok(Err(source)) => Err(ProbeError::Connect { addr, source }),
        Ok(Ok(_)) => Ok(()),
    }
}

/// One `GET path` to `addr` with `Host: host` (the daemon's HTTP probe, see
/// `httpprobe.rs`); passes when the status is in `expect`.
pub async fn http(
    addr: SocketAddr,
    host: &str,
    path: &str,
    timeout: Duration,
    expect: RangeInclusive<u16>,
) -> Result<u16, ProbeError> {
    // The request line is written as given: no whitespace or control character may
    // end it early or add a header.
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) || !path.starts_with('/') {
        return Err(ProbeError::BadPath {
            path: path.to_string(),
        });
    }
    let exchange = |message| ProbeError::Exchange { message };
    let status = crate::httpprobe::Probe::start(addr, host, path, timeout)
        .map_err(exchange)?
        .status()
        .await
        .map_err(exchange)?;
    if expect.contains(&status) {
        Ok(status)
    } else {
        let (lo, hi) = (*expect.start(), *expect.end());
        Err(ProbeError::Status {
            addr,
            path: path.to_string(),
            status,
            lo,
            hi,
        })
    }
}

/// A parsed `lcc probe` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `http://AUTHORITY/PATH`.
    Http {
        /// `host:port` as written (also the Host header).
        authority: String,
        /// Path and query, starting with `/`.
        path: String,
    },
    /// `tcp://HOST:PORT`.
    Tcp {
        /// `host:port` as written.
        authority: String,
    },
}

impl Target {
    /// Parses `http://HOST[:PORT][/PATH]` or `tcp://HOST:PORT`.
    pub fn parse(url: &str) -> Result<Target, ProbeError> {
        let bad = |reason| ProbeError::BadUrl {
            url: url.to_string(),
            reason,
        };
        if let Some(rest) = url.strip_prefix("http://") {
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            if authority.is_empty() {
                return Err(bad("no host"));
            }
            let authority = if has_port(authority) {
                authority.to_string()
            } else {
                format!("{authority}:80")
            };
            Ok(Target::Http {
                authority,
                path: path.to_string(),
            })
        } else if let Some(authority) = url.strip_prefix("tcp://") {
            let authority = authority.strip_suffix('/').unwrap_or(authority);
            if authority.is_empty() || !has_port(authority) {
                return Err(bad("tcp:// needs HOST:PORT"));
            }
            Ok(Target::Tcp {
                authority: authority.to_string(),
            })
        } else {
            Err(bad("expected http://HOST:PORT/PATH or tcp://HOST:PORT"))
        }
    }

    /// `host:port` of the target.
    fn authority(&self) -> &str {
        match self {
            Target::Http { authority, .. } | Target::Tcp { authority } => authority,
        }
    }
}

/// True when an authority ends in `:PORT` (IPv6 literals are bracketed).
fn has_port(authority: &str) -> bool {
    match authority.rsplit_once(':') {
        Some((host, port)) => {
            !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !host.ends_with(':')
        }
        None => false,
    }
}

/// Parses `--expect LO-HI` (or a single status).
pub fn parse_expect(text: &str) -> Result<RangeInclusive<u16>, ProbeError> {
    let bad = || ProbeError::BadArgument {
        what: "expect",
        value: text.to_string(),
    };
    let (lo, hi) = text.split_once('-').unwrap_or((text, text));
    let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
    if (100..=999).contains(&lo) && lo <= hi && hi <= 999 {
        Ok(lo..=hi)
    } else {
        Err(bad())
    }
}

/// Parses `--timeout`: `500ms`, `2s`, `1m`, or a bare number of seconds.
pub fn parse_timeout(text: &str) -> Result<Duration, ProbeError> {
    let bad = || ProbeError::BadArgument {
        what: "timeout",
        value: text.to_string(),
    };
    let duration = match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 => Duration::from_secs_f64(secs),
        Ok(_) => return Err(bad()),
        Err(_) => humantime::parse_duration(text.trim()).map_err(|_| bad())?,
    };
    if duration.is_zero() {
        return Err(bad());
    }
    Ok(duration)
}

/// Probes `url` once, blocking, within `timeout` in all (name resolution included).
/// Each resolved address is tried in turn until one passes.
pub fn probe_url(
    url: &str,
    timeout: Duration,
    expect: RangeInclusive<u16>,
) -> Result<ProbeOk, ProbeError> {
    let target = Target::parse(url)?;
    let deadline = Instant::now() + timeout;
    let addrs: Vec<SocketAddr> = target
        .authority()
        .to_socket_addrs()
        .map_err(|source| ProbeError::Resolve {
            host: target.authority().to_string(),
            source,
        })?
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ProbeError::Runtime)?;
    let mut last = None;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let result = runtime.block_on(async {
            match &target {
                Target::Http { authority, path } => {
                    http(addr, authority, path, left, expect.clone())
                        .await
                        .map(ProbeOk::Http)
                }
                Target::Tcp { .. } => tcp(addr, left).await.map(|()| ProbeOk::Tcp),
            }
        });
        match result {
            Ok(ok) => return Ok(ok),
            Err(err) => last = Some(err),
        }
    }
    Err(last.unwrap_or(ProbeError::Resolve {
        host: target.authority().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
    }))
}

/// Resolves `host:port` (an IP needs no lookup; a remote host name does).
async fn resolve(host: &str, port: u16, timeout: Duration) -> Result<SocketAddr, String> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let lookup = tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await;
    match lookup {
        Ok(Ok(mut addrs)) => addrs.next().ok_or_else(|| format!("{host}: no address")),
        Ok(Err(e)) => Err(format!("{host}: {e}")),
        Err(_) => Err(format!("{host}: lookup timed out")),
    }
}

/// One TCP connect to `host:port` within `timeout`.
pub async fn tcp_to(host: &str, port: u16, timeout: Duration) -> Result<(), String> {
    let addr = resolve(host, port, timeout).await?;
    tcp(addr, timeout).await.map_err(|e| e.to_string())
}

/// One HTTP GET of `path` on `host:port` within `timeout` (the daemon's probe of a remote or local instance; see [`crate::httpprobe`]).
pub async fn http_to(
    host: &str,
    port: u16,
    path: &str,
    timeout: Duration,
    settle: Duration,
) -> Result<(), String> {
    let addr = resolve(host, port, timeout).await?;
    crate::httpprobe::get(addr, &format!("{host}:{port}"), path, timeout, settle).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// Answers one connection with `status` and returns the request head it read.
    fn one_shot_server(status: u16) -> (SocketAddr, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let handle = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
            conn.write_all(answer.as_bytes()).expect("write");
            String::from_utf8_lossy(&head).into_owned()
        });
        (addr, handle)
    }

    #[test]
    fn http_probe_passes_and_sends_host_and_path() {
        let (addr, server) = one_shot_server(204);
        let url = format!("http://{addr}/health?x=1");
        let ok = probe_url(&url, Duration::from_secs(5), 200..=399).expect("probe");
        assert_eq!(ok, ProbeOk::Http(204));
        let head = server.join().expect("server");
        assert!(head.starts_with("GET /health?x=1 HTTP/1.0\r\n"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains(&format!("host: {addr}\r\n")),
            "{head}"
        );
    }

    #[test]
    fn http_probe_fails_on_status_outside_range() {
        let (addr, server) = one_shot_server(503);
        let err = probe_url(
            &format!("http://{addr}/"),
            Duration::from_secs(5),
            200..=399,
        )
        .expect_err("503 must fail");
        assert!(err.to_string().contains("status 503"), "{err}");
        server.join().expect("server");
    }

    #[test]
    fn refused_and_silent_endpoints_fail() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        // Accepted by the kernel but never answered: the timeout must end it.
        let err = probe_url(
            &format!("http://{addr}/"),
            Duration::from_millis(200),
            200..=399,
        )
        .expect_err("silent server");
        assert!(err.to_string().contains("no answer within"), "{err}");
        assert_eq!(
            probe_url(&format!("tcp://{addr}"), Duration::from_secs(2), 200..=399).expect("tcp"),
            ProbeOk::Tcp
        );
        drop(listener);
        let err = probe_url(&format!("tcp://{addr}"), Duration::from_secs(2), 200..=399)
            .expect_err("refused");
        assert!(matches!(err, ProbeError::Connect { .. }), "{err}");
    }

    #[test]
    fn urls_and_arguments_parse() {
        assert_eq!(
            Target::parse("http://localhost").expect("url"),
            Target::Http {
                authority: "localhost:80".into(),
                path: "/".into()
            }
        );
        assert_eq!(
            Target::parse("tcp://[::1]:5432").expect("url"),
            Target::Tcp {
                authority: "[::1]:5432".into()
            }
        );
        assert!(Target::parse("tcp://host").is_err());
        assert!(Target::parse("ftp://host:1").is_err());
        assert_eq!(parse_expect("200-399").expect("expect"), 200..=399);
        assert_eq!(parse_expect("204").expect("expect"), 204..=204);
        assert!(parse_expect("399-200").is_err());
        assert_eq!(
            parse_timeout("500ms").expect("t"),
            Duration::from_millis(500)
        );
        assert_eq!(parse_timeout("2").expect("t"), Duration::from_secs(2));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("soon").is_err());
    }
}
