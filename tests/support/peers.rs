//! Clusters spread over the hosts of [`super::hosts::Hosts`] without `lcc sync` (the
//! sync has tests of its own): the same manifests copied into every host's directory,
//! each told which host it is (`.lcc/sync/host`) and given the peer token
//! (`.lcc/sync/token`, 0600), then `lcc up -d` inside the host's namespace. The
//! operator's checkout holds the same manifests and the token.

use super::hosts::Hosts;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// The peer token the tests' clusters share.
pub const TOKEN: &str = "0123456789abcdef0123456789abcdef-peers-test";

/// Writes `files` (name, text) and the token into `dir`, and `host` as its identity.
pub fn put(dir: &Path, files: &[(&str, String)], host: Option<&str>) {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("manifest");
    }
    let sync = dir.join(".lcc/sync");
    std::fs::create_dir_all(&sync).expect(".lcc/sync");
    std::fs::set_permissions(dir.join(".lcc"), std::fs::Permissions::from_mode(0o700))
        .expect("mode");
    let token = sync.join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).expect("token");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).expect("mode");
    if let Some(h) = host {
        std::fs::write(sync.join("host"), format!("{h}\n")).expect("host");
    }
}

/// Puts the cluster on every host and starts each host's daemon in its namespace.
pub fn start(hosts: &Hosts, files: &[(&str, String)]) {
    for h in hosts.all() {
        put(&h.dir, files, Some(&h.name));
        let dir = h.dir.display().to_string();
        let up = h.lcc(&["-C", &dir, "up", "-d"]);
        assert_eq!(
            up.code,
            Some(0),
            "lcc up on {}: {}{}",
            h.name,
            up.out(),
            up.err()
        );
    }
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

/// A raw `GET /` to `addr` (one connection), the body if the answer is a 200.
pub fn get(addr: std::net::SocketAddr, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}
