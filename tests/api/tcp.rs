//! The API over TCP: bearer token required (none, wrong, right), the Host guard, and
//! `lcc api token`.

use crate::support::api::{call, Target};
use crate::support::Cluster;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;

#[test]
fn tcp_needs_the_token_and_a_loopback_host() {
    let c = Cluster::new("apitcp");
    let addr = SocketAddr::from(([127, 0, 0, 1], c.gateway_port(8)));
    c.write_web_group(1);
    let cluster = std::fs::read_to_string(c.path().join("cluster.yaml")).expect("cluster.yaml");
    c.write(
        "cluster.yaml",
        &format!("{cluster}api: {{listen: \"{addr}\"}}\n"),
    );
    c.up();
    let token_file = c.state().join("api.token");
    let mode = std::fs::metadata(&token_file)
        .expect("api.token")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let printed = c.lcc(&["api", "token"]);
    assert_eq!(printed.code, Some(0), "{}", printed.err());
    let token = printed.out().trim().to_string();
    assert_eq!(token.len(), 64);
    assert_eq!(
        std::fs::read_to_string(&token_file).expect("token").trim(),
        token
    );

    let to = Target::Tcp(addr);
    let host = addr.to_string();
    let right = format!("Bearer {token}");
    let wrong = format!("Bearer {}", "0".repeat(64));
    let table: Vec<(Vec<(&str, &str)>, u16)> = vec![
        (vec![("Host", host.as_str())], 401),
        (
            vec![("Host", host.as_str()), ("Authorization", wrong.as_str())],
            401,
        ),
        (
            vec![
                ("Host", host.as_str()),
                ("Authorization", "Basic dXNlcjpwYXNz"),
            ],
            401,
        ),
        (
            vec![("Host", host.as_str()), ("Authorization", right.as_str())],
            200,
        ),
        (
            vec![
                ("Host", "localhost:7070"),
                ("Authorization", right.as_str()),
            ],
            200,
        ),
        (
            vec![("Host", "evil.example"), ("Authorization", right.as_str())],
            421,
        ),
        (
            vec![
                ("Host", "127.0.0.1.nip.io"),
                ("Authorization", right.as_str()),
            ],
            421,
        ),
    ];
    for (headers, status) in table {
        let a = call(&to, "GET", "/api/v1/cluster", &headers, b"");
        assert_eq!(
            a.status,
            status,
            "{headers:?}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert!(a.header("access-control-allow-origin").is_none());
        if status == 401 {
            assert_eq!(a.header("www-authenticate"), Some("Bearer"));
        }
    }
    // A mutation over TCP needs the token too.
    let stop = call(
        &to,
        "POST",
        "/api/v1/instances/web-1/stop",
        &[("Host", host.as_str())],
        b"",
    );
    assert_eq!(stop.status, 401);
    assert_eq!(
        c.status("web-1").map(|s| s["desired"].clone()),
        Some("running".into())
    );

    let rotated = c.lcc(&["api", "token", "--rotate"]);
    assert_eq!(rotated.code, Some(0));
    assert_ne!(rotated.out().trim(), token);
    assert_eq!(
        std::fs::read_to_string(&token_file).expect("token").trim(),
        rotated.out().trim()
    );
}
