//! The daemon writes `proxy.conf` with each gateway's ready backends, runs `lcc-proxy`
//! on it, and restarts the proxy when it dies; `lcc up --wait` returns once the gateways
//! serve the ready instances.

use crate::support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// `STATUS BODY` of a raw HTTP answer.
fn status_and_body(answer: &str) -> String {
    let status = answer.split_whitespace().nth(1).unwrap_or("");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    format!("{status} {}", body.trim())
}

/// A cluster of one `web` replica behind a gateway on one of its ports.
fn one_replica_gateway(name: &str) -> (Cluster, u16) {
    let c = Cluster::new(name);
    let gw = c.gateway_port(0);
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}---\nkind: Gateway\nname: web\nport: {gw}\ntarget: web\ninterface: http\n",
            http_app("web", ""),
            group("web", "web", 1)
        ),
    );
    (c, gw)
}

/// `lcc up -d --wait` with `proxy_bin` as the proxy; the gateway must answer 200 as soon
/// as it returns, with no retry.
fn up_served_at_once(c: &Cluster, gw: u16, proxy_bin: &std::path::Path) {
    let bin = proxy_bin.display().to_string();
    let up = c.lcc_with(&["up", "-d", "--wait"], &[("LCC_PROXY_BIN", &bin)]);
    assert_eq!(up.code, Some(0), "{}", up.err());
    let served = get(gw, "/").map(|r| status_and_body(&r));
    assert!(
        served.as_deref().is_some_and(|r| r.starts_with("200")),
        "gateway not served when `up --wait` returned: {served:?}\n{}",
        c.dump()
    );
}

#[test]
fn gateway_follows_ready_backends_and_proxy_is_restarted() {
    let proxy_bin = lcc_bin().with_file_name("lcc-proxy");
    assert!(
        proxy_bin.exists(),
        "build the workspace first: {} is missing",
        proxy_bin.display()
    );
    let c = Cluster::new("gw");
    let (gw, http) = (c.gateway_port(0), c.http().port());
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}---\nkind: Gateway\nname: web\nport: {gw}\ntarget: web\ninterface: http\n---\nkind: Entrance\nname: web\ngateway: web\n",
            http_app("web", ""),
            group("web", "web", 2)
        ),
    );
    c.up();
    let conf_has = |n: usize| {
        let conf = std::fs::read_to_string(c.path().join(".lcc/proxy.conf")).unwrap_or_default();
        let v: serde_yaml::Value = serde_yaml::from_str(&conf).unwrap_or_default();
        v["gateways"][0]["backends"]
            .as_sequence()
            .is_some_and(|b| b.len() == n)
    };
    // `up --wait` has returned: both replicas are served already, with no retry
    assert!(conf_has(2), "{}", c.dump());
    let served: Vec<Option<String>> = (0..4)
        .map(|_| get(gw, "/").map(|r| status_and_body(&r)))
        .collect();
    assert_eq!(
        served
            .iter()
            .filter(|r| r.as_deref().is_some_and(|r| r.starts_with("200")))
            .count(),
        4,
        "{served:?}\n{}",
        c.dump()
    );
    let entrance = get(http, "/entrances/web/").map(|r| status_and_body(&r));
    assert!(
        entrance.as_deref().is_some_and(|r| r.starts_with("200")),
        "{entrance:?}"
    );
    let marker = std::fs::read_to_string(c.path().join(".lcc/proxy.applied")).expect("marker");
    let conf = std::fs::read(c.path().join(".lcc/proxy.conf")).expect("proxy.conf");
    assert_eq!(marker, lcc_core::proxy_config::digest(&conf));

    let first = c.proxy_pid().expect("proxy pid");
    let _ = std::process::Command::new("kill")
        .args(["-9", &first.to_string()])
        .output();
    assert!(
        wait_until(Duration::from_secs(10), || c
            .proxy_pid()
            .is_some_and(|p| p != first && alive(p))),
        "{}",
        c.dump()
    );
    assert!(
        wait_until(Duration::from_secs(10), || get(gw, "/")
            .is_some_and(|r| r.split_whitespace().nth(1) == Some("200"))),
        "not served after restart"
    );

    assert!(c.lcc(&["stop", "web-1"]).status.success());
    assert!(
        wait_until(Duration::from_secs(10), || conf_has(1)),
        "{}",
        c.dump()
    );
    let second = c.proxy_pid().unwrap();
    assert!(c.lcc(&["down"]).status.success());
    assert!(!alive(second), "proxy left running");
}

#[test]
fn without_an_lcc_proxy_binary_the_daemon_runs_lcc_proxy_mode() {
    // `cargo run --bin lcc` builds `lcc` alone: LCC_PROXY_BIN pointing nowhere stands in
    // for a missing `lcc-proxy`, and the gateway must still be served.
    let (c, gw) = one_replica_gateway("fallback");
    up_served_at_once(&c, gw, &c.path().join("no-such-lcc-proxy"));
    let pid = c.proxy_pid().expect("proxy pid");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(args[0], lcc_bin().display().to_string(), "{args:?}");
    assert_eq!(args[1], "proxy", "{args:?}");
    assert!(c.lcc(&["down"]).status.success());
    assert!(!alive(pid), "proxy left running");
}

#[test]
fn up_wait_returns_once_the_proxy_serves_the_ready_instances() {
    // A proxy that takes 2 s to start (a wrapper that sleeps, then runs the real one):
    // the instance is ready long before, and `up --wait` must still wait for the proxy.
    let (c, gw) = one_replica_gateway("slowproxy");
    let real = lcc_bin().with_file_name("lcc-proxy");
    let wrapper = c.path().join("slow-lcc-proxy");
    c.write(
        "slow-lcc-proxy",
        &format!("#!/bin/sh\nsleep 2\nexec '{}' \"$@\"\n", real.display()),
    );
    let chmod = std::process::Command::new("chmod")
        .arg("755")
        .arg(&wrapper)
        .status()
        .expect("chmod");
    assert!(chmod.success());
    up_served_at_once(&c, gw, &wrapper);
    let pid = c.proxy_pid().expect("proxy pid");
    assert!(c.lcc(&["down"]).status.success());
    assert!(!alive(pid), "proxy left running");
}

#[test]
fn a_gateways_timeouts_and_trusted_proxies_reach_the_proxy() {
    let c = Cluster::new("gwedges");
    let gw = c.gateway_port(0);
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}---\nkind: Gateway\nname: web\nport: {gw}\ntarget: web\ninterface: http\n\
             timeouts: {{connect: 1s, response: 2500ms, idle: 1m}}\ntrustedProxies: [10.0.0.0/8]\n",
            http_app("web", ""),
            group("web", "web", 1)
        ),
    );
    c.up();
    let conf = std::fs::read_to_string(c.path().join(".lcc/proxy.conf")).expect("proxy.conf");
    let v: serde_yaml::Value = serde_yaml::from_str(&conf).expect("yaml");
    let g = &v["gateways"][0];
    assert_eq!(g["timeouts"]["connect_ms"].as_u64(), Some(1000), "{conf}");
    assert_eq!(g["timeouts"]["response_ms"].as_u64(), Some(2500), "{conf}");
    assert_eq!(g["timeouts"]["idle_ms"].as_u64(), Some(60_000), "{conf}");
    assert_eq!(
        g["trusted_proxies"][0].as_str(),
        Some("10.0.0.0/8"),
        "{conf}"
    );
    // the proxy applied it: the gateway serves
    let served = get(gw, "/").map(|r| status_and_body(&r));
    assert!(
        served.as_deref().is_some_and(|r| r.starts_with("200")),
        "{served:?}\n{}",
        c.dump()
    );
    assert!(c.lcc(&["down"]).status.success());
}
