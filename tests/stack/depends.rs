//! `dependsOn` with the real daemon: a dependant waits (shown by `ps` and in events)
//! while its dependency fails its probe and starts soon after it passes; `lcc down`
//! stops in reverse order; `restart: true` restarts the dependant after its dependency;
//! `lcc up DIR NAME` brings the dependencies along.

use crate::support::{wait_until, Cluster};
use serde_json::Value;
use std::time::Duration;

/// A sleeper whose exec probe passes once `run/go` exists (period 200 ms).
fn gated(name: &str) -> String {
    format!("kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [sleep, \"300\"]\nprobe:\n  exec: [test, -f, go]\n  period: 200ms\n  failureThreshold: 1\nrestart: {{policy: always, maxRetries: 100, backoff: {{initial: 300ms, max: 300ms}}}}\nstop: {{signal: KILL, timeout: 1s}}\n---\nkind: Instance\nname: {name}\napp: {name}\n")
}

/// A sleeper Instance with `extra` lines (its `dependsOn`).
fn sleeper(name: &str, extra: &str) -> String {
    format!("kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [sleep, \"300\"]\nstop: {{signal: KILL, timeout: 1s}}\n---\nkind: Instance\nname: {name}\napp: {name}\n{extra}")
}

/// The time of the first event of `object` with `reason`, once there is one.
fn first(c: &Cluster, object: &str, reason: &str) -> f64 {
    let mut at = None;
    let seen = wait_until(Duration::from_secs(20), || {
        at = c
            .events_of(object, reason)
            .first()
            .and_then(|e| e["time"].as_f64());
        at.is_some()
    });
    assert!(seen, "no {reason} of {object}\n{}", c.dump());
    at.unwrap_or_default()
}

/// The ps line of an instance.
fn ps_line(c: &Cluster, instance: &str) -> String {
    let out = c.lcc(&["ps"]);
    out.out()
        .lines()
        .find(|l| l.starts_with(&format!("{instance} ")))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_dependant_waits_for_ready_and_stops_first() {
    let c = Cluster::new("depends");
    let web = sleeper("web", "dependsOn: [{target: db, condition: ready}]\n");
    let lone = sleeper("lone", "");
    c.write("app.yaml", &format!("{}---\n{web}---\n{lone}", gated("db")));
    let dir = c.path().to_str().expect("utf-8").to_string();
    let out = c.lcc(&["up", "-d", &dir, "web"]);
    assert_eq!(out.code, Some(0), "{}{}", out.out(), out.err());
    let waiting = first(&c, "instance/web", "Waiting");
    let message = &c.events_of("instance/web", "Waiting")[0]["message"];
    assert_eq!(message, "on db: ready");
    // db runs but fails its probe: web keeps waiting, and `ps` says on what.
    first(&c, "instance/db", "Started");
    let web_started = || !c.events_of("instance/web", "Started").is_empty();
    assert!(
        !wait_until(Duration::from_millis(600), web_started),
        "{}",
        c.dump()
    );
    let line = ps_line(&c, "web");
    assert!(line.contains("Waiting (on db: ready)"), "{line}");
    assert!(c.status("lone").is_none(), "lone was not named");
    assert!(waiting > 0.0);

    std::fs::write(c.pod("db").join("run/go"), "").expect("flag");
    let ready = first(&c, "instance/db", "Ready");
    let started = first(&c, "instance/web", "Started");
    // within one probe period (200 ms) and a pass, with room for a loaded machine (the
    // Started event comes once `pod run` has returned)
    assert!(
        started >= ready && started - ready < 5.0,
        "ready {ready} started {started}"
    );

    let out = c.lcc(&["down"]);
    assert_eq!(out.code, Some(0), "{}", out.err());
    let web_stopped = first(&c, "instance/web", "Stopped");
    let db_stopped = first(&c, "instance/db", "Stopped");
    assert!(
        web_stopped <= db_stopped,
        "web {web_stopped} db {db_stopped}"
    );
}

#[test]
fn restart_true_restarts_the_dependant_after_its_dependency() {
    let c = Cluster::new("depends-restart");
    let api = sleeper(
        "api",
        "dependsOn: [{target: db, condition: ready, restart: true}]\n",
    );
    let plain = sleeper("plain", "dependsOn: [{target: db, condition: ready}]\n");
    c.write(
        "app.yaml",
        &format!("{}---\n{api}---\n{plain}", gated("db")),
    );
    let out = c.lcc(&["up", "-d"]);
    assert_eq!(out.code, Some(0), "{}{}", out.out(), out.err());
    first(&c, "instance/db", "Started");
    std::fs::write(c.pod("db").join("run/go"), "").expect("flag");
    first(&c, "instance/api", "Started");
    first(&c, "instance/plain", "Started");
    // The Started event comes before the status file that records the pid.
    let have_pids = || ["db", "api", "plain"].iter().all(|i| c.pid(i).is_some());
    assert!(wait_until(Duration::from_secs(5), have_pids));
    let api_pid = c.pid("api");
    let plain_pid = c.pid("plain");
    // db's process dies: it restarts; api stops and starts again after it, plain stays.
    let db_pid = c.pid("db").expect("db pid");
    crate::support::kill9(db_pid as i32);
    let down: Value = {
        let mut found = None;
        let seen = wait_until(Duration::from_secs(20), || {
            found = c
                .events_of("instance/api", "DependencyRestarted")
                .into_iter()
                .next();
            found.is_some()
        });
        assert!(seen, "{}", c.dump());
        found.unwrap_or_default()
    };
    assert_eq!(
        down["message"],
        "db is no longer ready (restart: true): stopping it, to start again after it"
    );
    let again = wait_until(Duration::from_secs(20), || {
        c.events_of("instance/api", "Started").len() == 2
    });
    assert!(again, "{}", c.dump());
    let db_ready_again = c.events_of("instance/db", "Ready")[1]["time"]
        .as_f64()
        .unwrap_or(0.0);
    let api_again = c.events_of("instance/api", "Started")[1]["time"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(
        api_again >= db_ready_again,
        "api started before db was ready again"
    );
    assert!(wait_until(Duration::from_secs(5), || c
        .pid("api")
        .is_some()
        && c.pid("api") != api_pid));
    assert_eq!(
        c.pid("plain"),
        plain_pid,
        "without restart: true it keeps running"
    );
}

/// A shell app that, on TERM, waits `delay` and then appends its name to `order`.
fn noting(name: &str, order: &str, delay: &str, extra: &str) -> String {
    let script =
        format!("trap 'sleep {delay}; echo {name} >> {order}; exit 0' TERM; sleep 300 & wait");
    format!("kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      shell: {script:?}\nstop: {{signal: TERM, timeout: 5s}}\n---\nkind: Instance\nname: {name}\napp: {name}\n{extra}")
}

#[test]
fn down_without_its_daemon_stops_dependants_first() {
    let c = Cluster::new("depends-down");
    let order = c.path().join("order");
    let order = order.to_str().expect("utf-8");
    // web takes longer to stop: stopped together, db would be noted first
    let web = noting("web", order, "0.5", "dependsOn: [{target: db}]\n");
    c.write(
        "app.yaml",
        &format!("{}---\n{web}", noting("db", order, "0", "")),
    );
    c.up();
    let daemon = c.daemon_pid().expect("daemon");
    crate::support::kill9(daemon);
    assert!(wait_until(
        Duration::from_secs(10),
        || crate::support::gone(daemon)
    ));
    let out = c.lcc(&["down"]);
    assert_eq!(out.code, Some(0), "{}", out.err());
    assert!(out.out().contains("no daemon was running"), "{}", out.out());
    assert_eq!(std::fs::read_to_string(order).expect("order"), "web\ndb\n");
}
