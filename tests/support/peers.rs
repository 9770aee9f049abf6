//! A cluster spread over the hosts of [`super::hosts::Hosts`] the way an operator does
//! it: the manifests committed in a git checkout, then `lcc sync` from the operator's
//! namespace (each host gets its part, the peer token and its name, and its daemon is
//! started). Helpers to read a host's gateways and to speak raw HTTP to a host.

use super::hosts::Hosts;
use super::lcc_bin;
use super::process::run_with_deadline;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Writes `files` (name, text) into a new git checkout, commits them and syncs every
/// host; returns the checkout (it holds the peer token `lcc sync` made).
pub fn synced(hosts: &Hosts, files: &[(&str, String)]) -> tempfile::TempDir {
    let checkout = tempfile::tempdir().expect("operator's checkout");
    for (name, text) in files {
        std::fs::write(checkout.path().join(name), text).expect("manifest");
    }
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &["commit", "-q", "-m", "cluster"],
    ] {
        super::hosts::git(checkout.path(), args);
    }
    let mut cmd = hosts.operator(lcc_bin());
    cmd.arg("sync").arg(checkout.path()).env("NO_COLOR", "1");
    let sync = run_with_deadline(cmd, Duration::from_secs(90));
    assert_eq!(sync.code, Some(0), "lcc sync: {}{}", sync.out(), sync.err());
    checkout
}

/// The cluster's peer token in `checkout`.
pub fn token(checkout: &Path) -> String {
    std::fs::read_to_string(checkout.join(".lcc/sync/token"))
        .expect("the peer token lcc sync made")
        .trim()
        .to_string()
}

/// The backends of `gateway` in the `proxy.conf` of the cluster in `dir` (empty when
/// there is none yet).
pub fn backends(dir: &Path, gateway: &str) -> Vec<String> {
    lcc_core::proxy_config::load(&dir.join(".lcc/proxy.conf"))
        .ok()
        .and_then(|c| c.gateways.into_iter().find(|g| g.name == gateway))
        .map(|g| g.backends)
        .unwrap_or_default()
}

/// One raw exchange with `addr` (its own connection): the whole answer as text, empty
/// when it cannot connect.
pub fn raw(addr: SocketAddr, request: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = s.write_all(request.as_bytes());
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text
}

/// `GET path` to `addr`: the body of a 200, else `None`.
pub fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let answer = raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}
