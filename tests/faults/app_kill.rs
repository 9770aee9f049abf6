//! Fault family 3: SIGKILL and SIGSTOP (a hung process) of app processes in a group of
//! three behind a gateway: the instance turns not ready, the proxy stops sending to it,
//! it is restarted, and the group gets back to three ready; the gateway keeps serving.

use crate::support::{http_app_under_faults, http_get, kill_group, wait_until, Cluster};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Whether proxy.conf lists 127.0.0.1:`port` as a backend.
fn in_proxy_conf(c: &Cluster, port: u16) -> bool {
    c.proxy_backends()
        .unwrap_or_default()
        .contains(&format!("127.0.0.1:{port}"))
}

/// Ready members of group web.
fn ready_count(c: &Cluster) -> usize {
    c.members("web").iter().filter(|m| c.ready(m)).count()
}

/// Injects `sig` into the process group of `victim`; returns (not ready, out of the
/// proxy, ready again) times.
fn inject(
    c: &Cluster,
    addr: SocketAddr,
    victim: &str,
    sig: &str,
) -> (Duration, Duration, Duration) {
    let (pid, start) = c.run_id(victim).expect("victim runs");
    let port = c.port(victim, "http").expect("victim port");
    assert!(
        in_proxy_conf(c, port),
        "{victim} is a backend before the fault"
    );
    // The NotReady event is a record: a status sample can miss a short not-ready spell
    // when the test thread is descheduled on a loaded machine.
    let object = format!("instance/{victim}");
    let not_ready_before = c.events_of(&object, "NotReady").len();
    let t0 = Instant::now();
    kill_group(sig, pid as i32);
    assert!(
        wait_until(Duration::from_secs(10), || c
            .events_of(&object, "NotReady")
            .len()
            > not_ready_before),
        "{sig}: {victim} turns not ready:\n{}",
        c.dump()
    );
    let not_ready = t0.elapsed();
    assert!(
        wait_until(Duration::from_secs(10), || !in_proxy_conf(c, port)),
        "{sig}: {victim} leaves proxy.conf"
    );
    let out = t0.elapsed();
    // Once the proxy has applied the new proxy.conf (a request sent before may still
    // reach the victim), every request is served by the others.
    let ok = |a| http_get(a, "/").is_some_and(|(s, _)| s == 200);
    // Three in a row cover every round-robin slot: the proxy has applied the file.
    let applied = wait_until(Duration::from_secs(15), || (0..3).all(|_| ok(addr)));
    assert!(applied, "{sig}: the gateway serves from the others");
    for i in 0..20 {
        assert!(
            ok(addr),
            "{sig}: request {i} after {victim} left proxy.conf failed"
        );
    }
    let back = wait_until(Duration::from_secs(20), || {
        c.run_id(victim).is_some_and(|r| r != (pid, start))
            && c.ready(victim)
            && ready_count(c) == 3
    });
    assert!(
        back,
        "{sig}: {victim} is restarted and the group is back to 3 ready:\n{}",
        c.dump()
    );
    c.observe();
    (not_ready, out, t0.elapsed())
}

#[test]
fn killed_and_hung_apps_are_taken_out_and_restarted() {
    let c = Cluster::alone("akill");
    // A 2 s backoff keeps a killed instance out of proxy.conf long enough to be seen
    // there on a loaded machine (its port is kept across the restart).
    let app = http_app_under_faults("web", "")
        .replace("initial: 100ms", "initial: 2s")
        .replace("max: 400ms", "max: 2s");
    let addr = c.write_group_of(&app, 3);
    c.up();
    let serving = wait_until(Duration::from_secs(15), || {
        ready_count(&c) == 3 && http_get(addr, "/").is_some_and(|(s, _)| s == 200)
    });
    let proxy_log = std::fs::read_to_string(c.state().join("proxy.log")).unwrap_or_default();
    assert!(
        serving,
        "3 ready behind a serving gateway:\n{}\nproxy.log:\n{proxy_log}",
        c.dump()
    );
    let mut results = Vec::new();
    for (round, sig) in ["KILL", "STOP", "KILL", "STOP"].iter().enumerate() {
        let members = c.members("web");
        let victim = members[round % members.len()].clone();
        let (not_ready, out, back) = inject(&c, addr, &victim, sig);
        eprintln!("faults: SIG{sig} of {victim}: not ready after {not_ready:?}, out of proxy.conf after {out:?}, restarted and ready after {back:?}");
        results.push((sig, not_ready, back));
    }
    // period 200ms x failureThreshold 3 (+ timeout 500ms) bounds detection of a hang.
    eprintln!("faults: app SIGKILL x2, SIGSTOP x2: {results:?}");
    assert!(c.unparsable().is_empty(), "{:?}", c.unparsable());
}
