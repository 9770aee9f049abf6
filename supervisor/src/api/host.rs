//! The DNS-rebinding guard of every HTTP listener of lcc's control plane (the API and
//! the dashboard): a browser page from another site may resolve its own name to
//! 127.0.0.1, so a request is answered only when its `Host` is a loopback name or the
//! listener's own address. A listener on every address (`0.0.0.0`, `[::]`) also answers
//! a `Host` that is an IP address with its port: rebinding needs a name to rebind, and
//! the machine's own addresses are not known in advance.

use super::problem::Problem;
use hyper::{header, Request, StatusCode};
use std::net::SocketAddr;

/// 421 unless `Host` names a loopback host (any port) or `listen` itself (for an
/// unspecified `listen`, any IP address with its port).
pub(crate) fn check<B>(req: &Request<B>, listen: Option<SocketAddr>) -> Result<(), Problem> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Problem::bad_request("the Host header is missing"))?;
    if allowed(host, listen) {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::MISDIRECTED_REQUEST,
        format!("Host {host:?} is not a loopback name or this API's address"),
    ))
}

fn allowed(host: &str, listen: Option<SocketAddr>) -> bool {
    if let (Some(l), Ok(h)) = (listen, host.parse::<SocketAddr>()) {
        if h == l || (l.ip().is_unspecified() && h.port() == l.port()) {
            return true;
        }
    }
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host
            }
        }),
    };
    let name = name.to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_allowed_are_loopback_names_and_the_listen_address() {
        let listen: SocketAddr = "192.168.1.5:7070".parse().expect("addr");
        let table = [
            ("localhost", true),
            ("localhost:7070", true),
            ("LOCALHOST", true),
            ("api.localhost:80", true),
            ("127.0.0.1:9", true),
            ("127.1.2.3", true),
            ("[::1]:7070", true),
            ("192.168.1.5:7070", true),
            ("192.168.1.5:7071", false),
            ("evil.example", false),
            ("localhost.evil.example", false),
            ("evil.example:7070", false),
            ("[::2]:7070", false),
        ];
        for (host, want) in table {
            assert_eq!(allowed(host, Some(listen)), want, "{host}");
        }
        let any: SocketAddr = "0.0.0.0:7000".parse().expect("addr");
        let table = [
            ("192.168.1.5:7000", true),
            ("[fe80::1]:7000", true),
            ("192.168.1.5:7001", false),
            ("192.168.1.5", false),
            ("my-laptop.lan:7000", false),
            ("localhost:7000", true),
        ];
        for (host, want) in table {
            assert_eq!(allowed(host, Some(any)), want, "{host}");
        }
    }
}
