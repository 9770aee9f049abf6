//! `lcc probe` and `lcc port`, the commands pods call: exit codes and one-line reasons
//! against real listeners on 127.0.0.1.

use crate::support::pod::lcc_bin;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Output;

fn lcc(args: &[&str]) -> Output {
    std::process::Command::new(lcc_bin())
        .args(args)
        .output()
        .expect("run lcc")
}

/// Answers one HTTP request with `status`.
fn answer_once(listener: TcpListener, status: u16) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok((mut conn, _)) = listener.accept() else {
            return;
        };
        let mut buf = [0u8; 1024];
        let mut head = Vec::new();
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
        let _ = conn.write_all(reply.as_bytes());
    })
}

#[test]
fn probe_passes_fails_and_rejects_bad_usage() {
    let listener = crate::support::pod::listen_low();
    let addr = listener.local_addr().expect("addr");
    let server = answer_once(listener.try_clone().expect("clone"), 200);
    assert!(lcc(&["probe", &format!("http://{addr}/ok")])
        .status
        .success());
    server.join().expect("server");

    let server = answer_once(listener.try_clone().expect("clone"), 500);
    let out = lcc(&["probe", &format!("http://{addr}/"), "--expect", "200-299"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("status 500"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    server.join().expect("server");

    assert!(lcc(&["probe", &format!("tcp://{addr}")]).status.success());
    drop(listener);
    let out = lcc(&["probe", &format!("tcp://{addr}"), "--timeout", "500ms"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&addr.to_string()));

    for bad in [
        &["probe", "ftp://x:1"][..],
        &["probe", "tcp://nohost"],
        &["probe", "tcp://127.0.0.1:1", "--timeout", "soon"],
        &["probe", "tcp://127.0.0.1:1", "--expect", "x"],
    ] {
        assert_eq!(lcc(bad).status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn port_picks_in_range_and_checks() {
    let out = lcc(&["port", "--range", "41000-41999"]);
    assert!(out.status.success());
    let port: u16 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a port number");
    assert!((41000..=41999).contains(&port));

    let listener = crate::support::pod::listen_low();
    let busy = listener.local_addr().expect("addr").port().to_string();
    let out = lcc(&["port", "--check", &busy]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("port {busy} is in use")));
    let range = format!("{busy}-{busy}");
    assert_eq!(lcc(&["port", "--range", &range]).status.code(), Some(1));
    drop(listener);
    assert!(crate::support::pod::wait_until(
        std::time::Duration::from_secs(5),
        || lcc(&["port", "--check", &busy]).status.success()
    ));
    assert_eq!(lcc(&["port", "--range", "9-1"]).status.code(), Some(2));
}
