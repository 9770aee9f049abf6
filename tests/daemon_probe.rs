//! Probes: an exec probe runs through the pod (`./pod readiness`); Ready follows it, and
//! a live instance that fails `failureThreshold` probes in a row is restarted.

mod daemon_support;
use daemon_support::*;
use std::time::Duration;

#[test]
fn failing_probes_make_unready_then_restart() {
    let c = Cluster::new("probe", 36600);
    let app = "kind: Application\nname: p\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      shell: \"touch healthy; exec sleep 300\"\nprobe:\n  exec: [test, -f, healthy]\n  period: 200ms\n  timeout: 2s\n  failureThreshold: 2\nrestart: {policy: always, maxRetries: 5, backoff: {initial: 100ms, max: 400ms}}\nstop: {signal: TERM, timeout: 2s}\n";
    c.write("app.yaml", &format!("{app}---\n{}", instance("p", "p")));
    c.up();
    assert!(c.ready("p"));
    let pid = c.pid("p").unwrap();
    std::fs::remove_file(c.pod("p").join("run/healthy")).unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || !c
            .events_of("instance/p", "Unhealthy")
            .is_empty()),
        "{}",
        c.dump()
    );
    assert!(!c.events_of("instance/p", "NotReady").is_empty());
    // The new run creates the file again and becomes Ready.
    assert!(
        wait_until(Duration::from_secs(20), || c
            .pid("p")
            .is_some_and(|p| p != pid)
            && c.ready("p")),
        "{}",
        c.dump()
    );
    assert!(!alive(pid as i32), "the unhealthy run was stopped");
    assert_eq!(c.status("p").unwrap()["restarts"], 1);
}
