//! The DNS-rebinding guard of every HTTP listener of lcc's control plane (the API and
//! the dashboard): a browser page from another site may resolve its own name to
//! 127.0.0.1, so a request is answered only when its `Host` is a loopback name or the
//! listener's own address. A listener on every address (`0.0.0.0`, `[::]`) also answers
//! a `Host` that is an IP address with its port: rebinding needs a name to rebind, and
//! the machine's own addresses are not known in advance. The peers listener of a host
//! whose `address` is a DNS name also answers that name with the listener's port: the
//! other hosts ask it by that name.

use super::problem::Problem;
use hyper::{header, Request, StatusCode};
use std::net::SocketAddr;

/// 421 unless `Host` names a loopback host (any port) or `listen` itself (for an
/// unspecified `listen`, any IP address with its port).
pub(crate) fn check<B>(req: &Request<B>, listen: Option<SocketAddr>) -> Result<(), Problem> {
    check_named(req, listen, None)
}

/// [`check`], also answering `Host: NAME:PORT` for the listener's own name (a Host's
/// `address` that is a DNS name) and port.
pub(crate) fn check_named<B>(
    req: &Request<B>,
    listen: Option<SocketAddr>,
    name: Option<&str>,
) -> Result<(), Problem> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Problem::bad_request("the Host header is missing"))?;
    if allowed(host, listen, name) {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::MISDIRECTED_REQUEST,
        format!("Host {host:?} is not a loopback name or this API's address"),
    ))
}

fn allowed(host: &str, listen: Option<SocketAddr>, own: Option<&str>) -> bool {
    if let (Some(l), Ok(h)) = (listen, host.parse::<SocketAddr>()) {
        if h == l || (l.ip().is_unspecified() && h.port() == l.port()) {
            return true;
        }
    }
    if let (Some(l), Some(own), Some((name, port))) = (listen, own, host.rsplit_once(':')) {
        if name.eq_ignore_ascii_case(own) && port.parse::<u16>() == Ok(l.port()) {
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
            assert_eq!(allowed(host, Some(listen), None), want, "{host}");
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
            assert_eq!(allowed(host, Some(any), None), want, "{host}");
        }
        // a peers listener whose Host `address` is a name
        let table = [
            ("h2.example.org:7480", true),
            ("H2.EXAMPLE.ORG:7480", true),
            ("h2.example.org:7481", false),
            ("h2.example.org", false),
            ("evil.example:7480", false),
            ("10.0.0.2:7480", true),
        ];
        let peer: SocketAddr = "10.0.0.2:7480".parse().expect("addr");
        for (host, want) in table {
            assert_eq!(
                allowed(host, Some(peer), Some("h2.example.org")),
                want,
                "{host}"
            );
        }
    }
}
