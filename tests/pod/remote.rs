//! Remote pods: no process, state recorded by run/stop/rm, readiness that follows a
//! listener on 127.0.0.1 going up and down, host:port in `ports` and `info`.

use crate::support::pod::*;
use lcc_compiler::podspec::{AppKind, ProbeAction, Remote};
use std::io::{Read, Write};
use std::net::TcpListener;

/// A remote app on 127.0.0.1:`port`.
fn remote(port: u16) -> lcc_compiler::PodSpec {
    let mut spec = local("search", &["unused"]);
    spec.kind = AppKind::Remote;
    spec.platforms = vec![];
    spec.interfaces = vec![iface("http", Some(port))];
    spec.remote = Some(Remote {
        host: "127.0.0.1".into(),
    });
    spec
}

#[test]
fn readiness_follows_the_remote_listener() {
    for shell in SHELLS {
        let listener = listen_low();
        let addr = listener.local_addr().expect("addr");
        let pod = Pod::new(&remote(addr.port()), shell);
        assert_eq!(pod.status(), "not-created");
        assert_eq!(pod.cmd(&["readiness"]).status.code(), Some(1));
        pod.ok(&["run"]);
        pod.ok(&["run"]);
        assert_eq!(pod.status(), "running");
        pod.ok(&["readiness"]);
        drop(listener);
        let out = pod.cmd(&["readiness"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains(&addr.to_string()));
        let listener = TcpListener::bind(addr).expect("rebind");
        pod.ok(&["readiness"]);
        assert_eq!(pod.ok(&["ports"]), format!("http {addr} http\n"));
        let info = pod.info();
        assert_eq!(info["type"], "remote");
        assert_eq!(info["interfaces"][0]["host"], "127.0.0.1");
        assert_eq!(info["interfaces"][0]["port"], addr.port());
        pod.ok(&["stop"]);
        assert_eq!(pod.status(), "stopped");
        assert_eq!(pod.cmd(&["readiness"]).status.code(), Some(1));
        pod.ok(&["rm"]);
        pod.ok(&["rm"]);
        assert_eq!(pod.status(), "not-created");
        drop(listener);
    }
}

#[test]
fn a_manifest_http_probe_goes_to_the_remote_host() {
    for shell in SHELLS {
        let listener = listen_low();
        let addr = listener.local_addr().expect("addr");
        let mut spec = remote(addr.port());
        spec.probe = Some(probe(ProbeAction::Http {
            interface: "http".into(),
            path: "/health".into(),
        }));
        let pod = Pod::new(&spec, shell);
        pod.ok(&["run"]);
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut head = Vec::new();
            let mut buf = [0u8; 512];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            String::from_utf8_lossy(&head).into_owned()
        });
        pod.ok(&["readiness"]);
        let head = server.join().expect("server");
        // lcc's one HTTP client (the daemon's probe) speaks HTTP/1.0.
        assert!(head.starts_with("GET /health HTTP/1.0\r\n"), "{head}");
        assert!(head.contains(&format!("Host: {addr}\r\n")), "{head}");
    }
}
