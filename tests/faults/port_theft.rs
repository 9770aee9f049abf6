//! Fault family 6: another program binds an instance's port before its restart: the
//! instance gets another port, the gateway follows, and an event says why.

use crate::support;
use crate::support::{gateway, http_app_under_faults, http_get, wait_until, Cluster};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

#[test]
fn a_stolen_port_gets_the_instance_a_new_one_and_the_gateway_follows() {
    let c = Cluster::new("theft");
    let gw = c.gateway_port(0);
    c.write(
        "app.yaml",
        &format!(
            "{}---\nkind: Instance\nname: web\napp: web\n---\n{}",
            http_app_under_faults("web", ""),
            gateway("web", "web", gw)
        ),
    );
    c.up();
    let addr = SocketAddr::from(([127, 0, 0, 1], gw));
    let old = c.port("web", "http").expect("port");
    assert!(wait_until(Duration::from_secs(10), || http_get(addr, "/")
        .is_some_and(|(s, _)| s == 200)));

    let stop = c.lcc(&["stop", "web"]);
    assert_eq!(stop.code, Some(0), "{}", stop.err());
    assert!(
        wait_until(Duration::from_secs(10), || c.procs_of("web").is_empty()),
        "web stopped"
    );
    // The stopped app's socket may linger a moment after its process is gone.
    let mut thief = None;
    assert!(
        wait_until(Duration::from_secs(10), || {
            thief = TcpListener::bind(("127.0.0.1", old)).ok();
            thief.is_some()
        }),
        "steal the port {old}"
    );
    let t0 = Instant::now();
    let start = c.lcc(&["start", "web"]);
    assert_eq!(start.code, Some(0), "{}", start.err());
    let moved = wait_until(Duration::from_secs(15), || {
        c.ready("web")
            && c.port("web", "http").is_some_and(|p| p != old)
            && http_get(addr, "/").is_some_and(|(s, _)| s == 200)
    });
    let took = t0.elapsed();
    assert!(
        moved,
        "web moved to a new port and the gateway serves:\n{}",
        c.dump()
    );
    let new = c.port("web", "http").expect("port");
    let conf = c.proxy_backends().unwrap_or_default();
    assert!(
        conf == [format!("127.0.0.1:{new}")],
        "proxy.conf follows: {conf:?}"
    );
    let why = c.events().into_iter().find(|e| {
        let m = e["message"].as_str().unwrap_or_default();
        m.contains(&old.to_string())
            && (m.contains("in use") || m.contains("taken") || m.contains("busy"))
    });
    eprintln!("faults: port theft: {old} stolen, instance on {new}, serving via the gateway after {took:?}; event: {why:?}");
    assert!(
        why.is_some(),
        "an event names the stolen port and why:\n{}",
        c.dump()
    );
    drop(thief);
}

#[test]
fn a_port_stolen_between_a_crash_and_the_restart_moves_the_instance() {
    let c = Cluster::new("theft2");
    let gw = c.gateway_port(0);
    // A 1 s backoff leaves the thief time to bind between the crash and the restart.
    let app = http_app_under_faults("web", "")
        .replace("initial: 100ms", "initial: 1s")
        .replace("max: 400ms", "max: 2s");
    c.write(
        "app.yaml",
        &format!(
            "{app}---\nkind: Instance\nname: web\napp: web\n---\n{}",
            gateway("web", "web", gw)
        ),
    );
    c.up();
    let addr = SocketAddr::from(([127, 0, 0, 1], gw));
    let old = c.port("web", "http").expect("port");
    let (pid, _) = c.run_id("web").expect("runs");
    let t0 = Instant::now();
    support::kill_group("KILL", pid as i32);
    let mut thief = None;
    let stolen = wait_until(Duration::from_secs(1), || {
        thief = TcpListener::bind(("127.0.0.1", old)).ok();
        thief.is_some()
    });
    assert!(
        stolen,
        "the port is free after the crash and the thief binds it"
    );
    let moved = wait_until(Duration::from_secs(15), || {
        c.ready("web")
            && c.port("web", "http").is_some_and(|p| p != old)
            && http_get(addr, "/").is_some_and(|(s, _)| s == 200)
    });
    assert!(
        moved,
        "web moved to a new port after its crash:\n{}",
        c.dump()
    );
    let new = c.port("web", "http").expect("port");
    let conf = c.proxy_backends().unwrap_or_default();
    assert_eq!(conf, [format!("127.0.0.1:{new}")], "proxy.conf follows");
    let why = c.events_with("PortChanged").into_iter().find(|e| {
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&old.to_string())
    });
    eprintln!("faults: port theft after a crash: {old} stolen, instance on {new}, serving via the gateway {:?} after the crash; event: {why:?}", t0.elapsed());
    assert!(
        why.is_some(),
        "a PortChanged event names {old}:\n{}",
        c.dump()
    );
    drop(thief);
}
