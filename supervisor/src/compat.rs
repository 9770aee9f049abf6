//! The daemon's seams to the other parts: loading the plan, rendering a pod, probing.
//! Kept in one place so each call site stays short and errors become one-line strings.

use lcc_compiler::{Plan, PodSpec};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

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

/// One HTTP GET of `path` on `host:port` within `timeout` (see [`crate::httpprobe`]).
pub async fn probe_http(
    host: &str,
    port: u16,
    path: &str,
    timeout: Duration,
    settle: Duration,
) -> Result<(), String> {
    let addr = resolve(host, port, timeout).await?;
    crate::httpprobe::get(addr, &format!("{host}:{port}"), path, timeout, settle).await
}
