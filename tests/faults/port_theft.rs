//! Fault family 6: another program holds a port of the cluster. An instance's port
//! taken before its restart: the instance gets another port, the gateway follows, and
//! an event says why. A fixed listen address taken (the entrance listener, a gateway):
//! `lcc up` refuses to start and names the place and the holder; `--force` comes up
//! without it; taken at run time, the proxy serves everything else, says so once
//! (`ListenerBusy`) and takes the address when it is free (`ListenerBound`).

use crate::support;
use crate::support::{
    gateway, http_app_under_faults, http_get, shell_app, wait_until, Cluster, Squatter,
};
use serde_json::Value;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

/// `app.yaml`: Instance `web` (an HTTP app) behind a gateway on `port`.
fn web_behind(c: &Cluster, port: u16) {
    c.write(
        "app.yaml",
        &format!(
            "{}---\nkind: Instance\nname: web\napp: web\n---\n{}",
            http_app_under_faults("web", ""),
            gateway("web", "web", port)
        ),
    );
}

#[test]
fn a_stolen_port_gets_the_instance_a_new_one_and_the_gateway_follows() {
    let c = Cluster::new("theft");
    let gw = c.gateway_port(0);
    web_behind(&c, gw);
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
    // The daemon is held still from the crash until the thief has the port, so the
    // theft lands between the crash and the restart however slow the machine is.
    let daemon = c.daemon_pid().expect("daemon pid");
    support::signal("STOP", daemon);
    support::kill_group("KILL", pid as i32);
    let mut thief = None;
    let stolen = wait_until(Duration::from_secs(10), || {
        thief = TcpListener::bind(("127.0.0.1", old)).ok();
        thief.is_some()
    });
    support::signal("CONT", daemon);
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

/// Whether `addr` answers `path` with 200.
fn serves(addr: SocketAddr, path: &str) -> bool {
    http_get(addr, path).is_some_and(|(s, _)| s == 200)
}

/// The messages of the events with `reason` that name `needle`.
fn said(c: &Cluster, reason: &str, needle: &str) -> Vec<String> {
    c.events_with(reason)
        .iter()
        .filter_map(|e: &Value| e["message"].as_str().map(String::from))
        .filter(|m| m.contains(needle))
        .collect()
}

#[test]
fn an_entrance_port_taken_before_up_refuses_up_naming_the_place_and_the_holder() {
    let c = Cluster::new("busy-entrance");
    let gw = c.gateway_port(0);
    web_behind(&c, gw);
    let http = c.http();
    let squatter = Squatter::hold(http.port());
    let out = c.lcc(&["up", "-d", "--wait"]);
    assert_eq!(out.code, Some(1), "{}{}", out.out(), out.err());
    let file = c.path().join("cluster.yaml");
    assert_eq!(
        out.err(),
        format!(
            "error: {http} is taken by pid {} ({})\n --> {}:3:7\n  |\n3 | http: {http}\n  |       ^\n  = in Cluster/busy-entrance, field http\n\nlcc: nothing started: 1 listen address of the cluster is taken by another program; free it or start anyway with `lcc up --force` (the proxy serves the rest and takes it once free)\n",
            squatter.pid,
            squatter.command(),
            file.display()
        )
    );
    assert!(c.daemon_pid().is_none(), "no daemon");
    assert!(!c.state().join("pods").exists(), "no pod");
    assert!(c.procs_inside().is_empty(), "nothing runs");
}

#[test]
fn a_gateway_port_taken_at_a_reload_leaves_the_rest_serving_and_is_taken_once_free() {
    let c = Cluster::new("busy-gateway");
    let (gw0, gw1) = (c.gateway_port(0), c.gateway_port(1));
    web_behind(&c, gw0);
    let app = std::fs::read_to_string(c.path().join("app.yaml")).expect("app.yaml");
    c.up();
    let (a0, a1) = (
        SocketAddr::from(([127, 0, 0, 1], gw0)),
        SocketAddr::from(([127, 0, 0, 1], gw1)),
    );
    let entrance = "/entrances/web/";
    // another program takes the port of a gateway the next edit adds
    let squatter = Squatter::hold(gw1);
    c.write(
        "app.yaml",
        &format!(
            "{app}---\nkind: Gateway\nname: second\nport: {gw1}\ntarget: web\ninterface: http\n"
        ),
    );
    let busy = format!("127.0.0.1:{gw1} is taken by pid {}", squatter.pid);
    assert!(
        wait_until(Duration::from_secs(10), || !said(&c, "ListenerBusy", &busy)
            .is_empty()),
        "ListenerBusy names the address and its holder:\n{}",
        c.dump()
    );
    assert!(
        serves(a0, "/") && serves(c.http(), entrance),
        "the other gateway and the entrance keep answering"
    );
    let t0 = Instant::now();
    squatter.exit();
    // The proxy retries a busy address at most 5 s apart; the rest is slack for a
    // loaded machine.
    let served = wait_until(Duration::from_secs(15), || serves(a1, "/"));
    let took = t0.elapsed();
    assert!(
        served,
        "the gateway answers within 15 s of the holder's exit:\n{}",
        c.dump()
    );
    assert!(
        wait_until(Duration::from_secs(5), || !said(
            &c,
            "ListenerBound",
            &format!("127.0.0.1:{gw1}")
        )
        .is_empty()),
        "ListenerBound:\n{}",
        c.dump()
    );
    eprintln!("faults: gateway port taken at a reload: served {took:?} after the holder exited");
    assert_eq!(
        said(&c, "ListenerBusy", &format!("127.0.0.1:{gw1}")).len(),
        1,
        "ListenerBusy once:\n{}",
        c.dump()
    );
    assert!(serves(a0, "/") && serves(c.http(), entrance));
    assert!(
        c.events_with("ProxyExited").is_empty(),
        "the proxy never exited:\n{}",
        c.dump()
    );
}

#[test]
fn up_force_with_a_gateway_port_taken_comes_up_degraded_and_recovers() {
    let c = Cluster::new("busy-force");
    let gw = c.gateway_port(0);
    web_behind(&c, gw);
    let addr = SocketAddr::from(([127, 0, 0, 1], gw));
    let squatter = Squatter::hold(gw);
    // without --force: refused, naming the Gateway's port
    let refused = c.lcc(&["up", "-d", "--wait"]);
    assert_eq!(refused.code, Some(1), "{}", refused.err());
    assert!(
        refused.err().contains("  = in Gateway/web, field port\n"),
        "{}",
        refused.err()
    );
    let out = c.lcc(&["up", "-d", "--wait", "--force"]);
    assert_eq!(
        out.code,
        Some(0),
        "{}{}\n{}",
        out.out(),
        out.err(),
        c.dump()
    );
    // ready, with a word on what is not served yet
    assert_eq!(
        out.err(),
        format!(
            "lcc: warning: listener 127.0.0.1:{gw} is taken by pid {} ({}); the proxy takes it once free\n",
            squatter.pid,
            squatter.command()
        )
    );
    assert!(c.ready("web"));
    assert!(serves(c.http(), "/entrances/web/"), "the entrance answers");
    let busy = format!("127.0.0.1:{gw} is taken by pid {}", squatter.pid);
    assert!(
        wait_until(Duration::from_secs(10), || !said(&c, "ListenerBusy", &busy)
            .is_empty()),
        "ListenerBusy:\n{}",
        c.dump()
    );
    squatter.exit();
    assert!(
        wait_until(Duration::from_secs(15), || serves(addr, "/")),
        "the gateway answers within 15 s of the holder's exit:\n{}",
        c.dump()
    );
}

#[test]
fn a_proxy_that_keeps_exiting_is_restarted_with_backoff_and_its_last_words() {
    let c = Cluster::new("proxy-exits");
    let gw = c.gateway_port(0);
    web_behind(&c, gw);
    let fake = c.path().join("fake-proxy.sh");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho starting >&2\necho 'lcc-proxy: simulated failure' >&2\nexit 3\n",
    )
    .expect("write");
    let mut perms = std::fs::metadata(&fake).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&fake, perms).expect("chmod");
    let bin = fake.to_string_lossy().into_owned();
    let out = c.lcc_with(&["up", "-d"], &[("LCC_PROXY_BIN", &bin)]);
    assert_eq!(out.code, Some(0), "{}", out.err());
    let times = |reason: &str| -> Vec<f64> {
        c.events_with(reason)
            .iter()
            .filter_map(|e| e["time"].as_f64())
            .collect()
    };
    // count the starts over the 10 s after the first one
    let over = wait_until(Duration::from_secs(20), || {
        let t = times("ProxyExited");
        t.len() >= 2 && t[t.len() - 1] - t[0] >= 10.0
    });
    assert!(over, "the proxy keeps being restarted:\n{}", c.dump());
    let starts = times("ProxyStarted");
    let first = starts[0];
    let in_window = starts.iter().filter(|t| **t - first <= 10.0).count();
    eprintln!("faults: a proxy exiting at once: {in_window} starts in 10 s");
    // 200 ms doubling: starts at 0, 0.2, 0.6, 1.4, 3.0, 6.2 s (every 200 ms: 50)
    assert!(
        (4..=7).contains(&in_window),
        "{in_window} starts in 10 s:\n{}",
        c.dump()
    );
    let exited = c.events_with("ProxyExited");
    let m = exited[0]["message"].as_str().unwrap_or_default();
    assert_eq!(
        m,
        "lcc-proxy exited with code 3: lcc-proxy: simulated failure; restarting in 200ms (exit 1 in a row)"
    );
    let m = exited[2]["message"].as_str().unwrap_or_default();
    assert!(m.ends_with("restarting in 800ms (exit 3 in a row)"), "{m}");
}

#[test]
fn up_wait_with_a_crash_looping_group_fails_when_it_gives_up_not_at_its_timeout() {
    let c = Cluster::new("crash-wait");
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            shell_app("crash", "echo boom >&2; exit 3", 3),
            support::group("crash", "crash", 1)
        ),
    );
    let out = c.lcc(&["up", "-d", "--wait", "--wait-timeout", "60s"]);
    assert_eq!(out.code, Some(1), "{}{}", out.out(), out.err());
    let err = out.err();
    assert!(
        err.starts_with(
            "lcc: not ready:\n  crash-1 Failed: gave up after 3 failures in a row (exit code 3)\n"
        ),
        "{err}"
    );
    // backoff 100, 200 ms between the 3 runs: the outcome is known in well under a
    // second of restarts, not at the 60 s timeout
    assert!(out.took < Duration::from_secs(30), "took {:?}", out.took);
}
