//! Fault family 4: an app that double-forks a daemon of its own (which also leaves the
//! process group with setsid) and an app that ignores SIGTERM: `lcc down` leaves no
//! process of theirs.

use crate::support;
use crate::support::{alive, wait_until, Cluster};
use std::collections::BTreeSet;
use std::time::Duration;

/// A shell app with no probe.
fn shell_app(name: &str, script: &str) -> String {
    format!(
        "kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      shell: {script:?}\nrestart: {{policy: always, maxRetries: 5, backoff: {{initial: 100ms, max: 400ms}}}}\nstop: {{signal: TERM, timeout: 1s}}\n---\nkind: Instance\nname: {name}\napp: {name}\n"
    )
}

#[test]
fn lcc_down_leaves_no_escaped_or_stubborn_process() {
    let c = Cluster::new("leftover");
    let forker = "(setsid sh -c 'trap \"\" TERM HUP; while :; do sleep 1; done' </dev/null >/dev/null 2>&1 &); (sleep 1000 &); exec sleep 1000";
    let stubborn = "trap '' TERM INT; while :; do sleep 0.2; done";
    c.write(
        "apps.yaml",
        &format!(
            "{}---\n{}",
            shell_app("forker", forker),
            shell_app("stubborn", stubborn)
        ),
    );
    c.up();
    // The escapee is in its own session: a process group other than the pod's.
    let escaped = wait_until(Duration::from_secs(10), || {
        let pod = c.run_id("forker").map(|r| r.0 as i32);
        c.procs_of("forker").iter().any(|p| Some(p.pgid) != pod)
    });
    assert!(
        escaped,
        "the double-forked daemon left the pod's process group"
    );
    assert!(wait_until(Duration::from_secs(10), || !c
        .procs_of("stubborn")
        .is_empty()));
    let pids: BTreeSet<i32> = c
        .procs_of("forker")
        .iter()
        .chain(c.procs_of("stubborn").iter())
        .map(|p| p.pid)
        .collect();
    let uids: BTreeSet<String> = c
        .procs_inside()
        .iter()
        .filter_map(|p| p.var("LCC_POD_UID").map(String::from))
        .collect();
    eprintln!(
        "faults: leftovers: {} processes of forker and stubborn before down ({} pod uids)",
        pids.len(),
        uids.len()
    );

    let down = c.lcc(&["down"]);
    assert_eq!(down.code, Some(0), "lcc down: {}", down.err());
    let left: Vec<i32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    let marked: Vec<i32> = support::procs()
        .into_iter()
        .filter(|p| p.var("LCC_POD_UID").is_some_and(|u| uids.contains(u)))
        .map(|p| p.pid)
        .collect();
    eprintln!(
        "faults: leftovers: lcc down took {:?}; left: {left:?}, still marked: {marked:?}",
        down.took
    );
    let describe = |pids: &[i32]| -> Vec<String> {
        pids.iter()
            .map(|p| {
                let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                format!("{p} [{cmd}] stat: {}", stat.trim())
            })
            .collect()
    };
    assert!(
        left.is_empty() && marked.is_empty(),
        "processes outlived lcc down (exit {:?}, stderr {:?}): {:?} {:?}\n{}",
        down.code,
        down.err(),
        describe(&left),
        describe(&marked),
        c.dump()
    );
    assert!(
        c.procs_inside().is_empty(),
        "no process works inside the cluster any more"
    );
}

#[test]
fn sigkill_of_the_daemon_during_lcc_down_then_down_again_leaves_nothing() {
    let c = Cluster::new("downkill");
    let mut docs = Vec::new();
    for i in 1..=4 {
        docs.push(shell_app(
            &format!("app{i}"),
            "trap '' TERM; exec sleep 1000",
        ));
    }
    c.write("apps.yaml", &docs.join("---\n"));
    c.up();
    assert!(wait_until(Duration::from_secs(10), || (1..=4)
        .all(|i| !c.procs_of(&format!("app{i}")).is_empty())));
    let daemon = c.daemon_pid().expect("daemon");
    let pids: BTreeSet<i32> = c.procs_inside().iter().map(|p| p.pid).collect();
    // The first `lcc down` is under way (pods ignore TERM: 1 s each) when the daemon dies.
    let first = std::thread::scope(|s| {
        let down = s.spawn(|| c.lcc(&["down"]));
        let stopping = wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(c.state().join("events.jsonl"))
                .unwrap_or_default()
                .contains("Stopping")
                || c.statuses().iter().any(|st| st["phase"] == "Stopping")
        });
        support::kill9(daemon);
        (stopping, down.join().expect("down thread"))
    });
    eprintln!("faults: daemon SIGKILL during lcc down (stopping seen: {}): first down exit {:?} after {:?}", first.0, first.1.code, first.1.took);
    let again = c.lcc(&["down"]);
    assert_eq!(again.code, Some(0), "the second lcc down: {}", again.err());
    let left: Vec<i32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    let later = wait_until(Duration::from_secs(5), || pids.iter().all(|&p| !alive(p)));
    eprintln!(
        "faults: second lcc down took {:?}; left right after it: {left:?}; all gone within 5 s after: {later}",
        again.took
    );
    assert!(left.is_empty(), "processes outlived two lcc down: {left:?}");
    assert!(
        c.procs_inside().is_empty(),
        "nothing works inside the cluster any more"
    );
}
