//! The daemon's seams to the other parts: loading the plan, rendering a pod, probing.
//! Kept in one place so each call site stays short and errors become one-line strings.

use lcc_compiler::{Plan, PodSpec};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Loads and validates the cluster in `dir`; the error is the printable diagnostics.
pub fn load_plan(dir: &Path) -> Result<Plan, String> {
    lcc_compiler::load_cluster(dir).map_err(|d| d.to_string())
}

/// Renders the pod script of `spec` into `pod_dir`.
pub fn render_pod(pod_dir: &Path, spec: &PodSpec, lcc_bin: &Path) -> Result<(), String> {
    lcc_compiler::render::write_pod(pod_dir, spec, lcc_bin).map_err(|e| e.to_string())
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
pub async fn probe_tcp(host: &str, port: u16, timeout: Duration) -> Result<(), String> {
    let addr = resolve(host, port, timeout).await?;
    crate::probe::tcp(addr, timeout)
        .await
        .map_err(|e| e.to_string())
}

/// One HTTP GET of `path` on `host:port` within `timeout`; status 200-399 passes.
///
/// The daemon probes hundreds of instances every few seconds, so this is the lean
/// path: one write of a fixed `HTTP/1.0` request and a read of the status line, with
/// no client machinery (`lcc probe` uses [`crate::probe::http`]).
pub async fn probe_http(
    host: &str,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Result<(), String> {
    let addr = resolve(host, port, timeout).await?;
    let fut = async {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let req =
            format!("GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: lcc-probe\r\n\r\n");
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("GET {path} on {addr}: {e}"))?;
        let mut buf = [0u8; 32];
        let mut n = 0;
        while n < 12 {
            match s
                .read(&mut buf[n..])
                .await
                .map_err(|e| format!("GET {path} on {addr}: {e}"))?
            {
                0 => break,
                r => n += r,
            }
        }
        status_of(&buf[..n]).ok_or_else(|| format!("GET {path} on {addr}: no HTTP status line"))
    };
    let code = tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "GET {path} on {addr}: no answer within {timeout:?}"
            ))
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line() {
        assert_eq!(status_of(b"HTTP/1.0 200 OK\r\n"), Some(200));
        assert_eq!(status_of(b"HTTP/1.1 503"), Some(503));
        assert_eq!(status_of(b"SSH-2.0"), None);
    }

    #[tokio::test]
    async fn probes_a_real_server() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            for code in [200, 500] {
                let (mut s, _) = l.accept().await.unwrap();
                let mut b = [0u8; 256];
                let _ = s.read(&mut b).await;
                let _ = s
                    .write_all(format!("HTTP/1.0 {code} X\r\n\r\n").as_bytes())
                    .await;
            }
        });
        let t = Duration::from_secs(5);
        assert_eq!(probe_http("127.0.0.1", port, "/", t).await, Ok(()));
        assert!(probe_http("127.0.0.1", port, "/", t)
            .await
            .unwrap_err()
            .contains("status 500"));
        server.await.unwrap();
        assert!(
            probe_http("127.0.0.1", port, "/", t).await.is_err(),
            "nothing listens any more"
        );
    }
}
