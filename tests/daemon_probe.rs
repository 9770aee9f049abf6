//! Probes: an exec probe runs through the pod (`./pod readiness`); Ready follows it, and
//! a live instance that fails `failureThreshold` probes in a row is restarted. Without
//! a probe, Ready comes after 1 s up, and then nothing is due: the daemon sleeps.

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

/// CPU time (utime + stime, in clock ticks) of a process.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("comm")
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn a_ready_instance_without_a_probe_leaves_the_daemon_asleep() {
    let c = Cluster::new("noprobe", 36800);
    c.write("app.yaml", &sleeper(&group("s", "s", 2)));
    c.up();
    let members = c.members("s");
    assert!(
        wait_until(Duration::from_secs(20), || members
            .iter()
            .all(|m| c.ready(m))),
        "{}",
        c.dump()
    );
    // Once Ready nothing is due until an event: a pass that kept finding the instance
    // due spun the loop at a whole core (a bound far above an idle loop's, which no
    // load on the machine can push an idle daemon over).
    let daemon = c.daemon_pid().expect("daemon pid");
    let before = cpu_ticks(daemon);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(daemon) - before;
    assert!(used < 60, "the idle daemon used {used} ticks of CPU in 2 s");
}
