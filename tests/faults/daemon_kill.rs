//! Fault family 1: SIGKILL of the daemon 20 times at seeded random moments while a
//! group scales and a rolling update runs. After each `lcc up -d`: the cluster converges
//! to the manifests (and nothing runs for an instance no longer wanted), no instance
//! runs twice, no healthy pod was restarted, and events.jsonl and every status file
//! parse.

use crate::support::{gone, group, http_app_under_faults, kill9, wait_until, Cluster, Rng};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The group's members and `solo` when the cluster shows `replicas` members of group
/// web, all ready on a spec that is new (`fresh`) or the old one, and `solo` ready on a
/// spec of the same freshness. Rolling updates and replacements take new ordinals, so
/// names are not compared.
fn converged(
    c: &Cluster,
    replicas: u32,
    old: &(String, String),
    fresh: bool,
) -> Option<Vec<String>> {
    let members = c.members("web");
    let solo = c.status("solo")?;
    let sts: Vec<_> = members.iter().filter_map(|i| c.status(i)).collect();
    let ok = members.len() == replicas as usize
        && sts.len() == members.len()
        && solo["ready"] == true
        && (solo["fingerprint"] != old.1.as_str()) == fresh
        && sts.iter().all(|s| {
            s["ready"] == true
                && s["desired"] == "running"
                && (s["fingerprint"] != old.0.as_str()) == fresh
        });
    let want: Vec<String> = members.into_iter().chain(["solo".to_string()]).collect();
    // Nothing runs for an instance that is not wanted (scaled down, rolled away).
    let strays = c.procs_inside().iter().any(|p| {
        p.var("LCC_INSTANCE")
            .is_some_and(|i| !want.iter().any(|w| w == i))
    });
    (ok && !strays).then_some(want)
}

/// The fingerprints (group web, solo) now.
fn fingerprints(c: &Cluster) -> (String, String) {
    let web = c
        .members("web")
        .first()
        .and_then(|m| c.status(m))
        .map(|s| s["fingerprint"].as_str().unwrap_or_default().to_string());
    let solo = c
        .status("solo")
        .map(|s| s["fingerprint"].as_str().unwrap_or_default().to_string());
    (web.unwrap_or_default(), solo.unwrap_or_default())
}

/// Snapshot of ready instances: name -> (pid, start time, fingerprint).
fn healthy(c: &Cluster) -> BTreeMap<String, (i64, u64, String)> {
    c.statuses()
        .into_iter()
        .filter(|s| s["ready"] == true)
        .filter_map(|s| {
            let name = s["instance"].as_str()?.to_string();
            let run = (
                s["pid"].as_i64()?,
                s["pid_start"].as_u64()?,
                s["fingerprint"].to_string(),
            );
            Some((name, run))
        })
        .collect()
}

#[test]
fn sigkill_of_the_daemon_twenty_times_while_scaling_and_rolling() {
    let c = Cluster::new("dkill");
    let manifests = |version: u32, replicas: u32| {
        format!(
            "{}---\n{}---\n{}---\nkind: Instance\nname: solo\napp: web\n",
            http_app_under_faults("web", &format!("VERSION: \"{version}\"")),
            group("web", "web", replicas),
            ""
        )
    };
    c.write("app.yaml", &manifests(0, 2));
    c.up();
    assert!(
        wait_until(Duration::from_secs(20), || converged(
            &c,
            2,
            &(String::new(), String::new()),
            true
        )
        .is_some()),
        "first convergence:\n{}",
        c.dump()
    );

    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut version, mut replicas) = (0, 2);
    let mut recoveries = Vec::new();
    let mut problems = Vec::new();
    let suite_start = Instant::now();
    for round in 1..=20 {
        // The change that will be in flight when the daemon dies.
        let old = fingerprints(&c);
        let fresh = rng.next() % 3 == 0;
        if fresh {
            version += 1;
        } else {
            replicas = rng.range(1, 4) as u32;
        }
        let before = healthy(&c);
        c.write("app.yaml", &manifests(version, replicas));
        let delay = Duration::from_millis(rng.range(0, 600));
        std::thread::sleep(delay); // the seeded injection moment
        let daemon = c.daemon_pid().expect("daemon pid");
        c.observe();
        kill9(daemon);
        assert!(
            wait_until(Duration::from_secs(5), || gone(daemon)),
            "the daemon dies"
        );

        let start = Instant::now();
        let up = c.lcc(&["up", "-d"]);
        if up.code != Some(0) {
            problems.push(format!("round {round}: lcc up: {}", up.err()));
            continue;
        }
        let mut want = Vec::new();
        if !wait_until(Duration::from_secs(20), || {
            want = converged(&c, replicas, &old, fresh).unwrap_or_default();
            !want.is_empty()
        }) {
            eprintln!(
                "round {round}: statuses {:?}",
                c.statuses()
                    .iter()
                    .map(|s| (
                        s["instance"].to_string(),
                        s["phase"].to_string(),
                        s["ready"].to_string(),
                        s["fingerprint"].to_string()
                    ))
                    .collect::<Vec<_>>()
            );
            problems.push(format!(
                "round {round}: no convergence to {want:?} v{version}: members {:?}\n{}",
                c.members("web"),
                c.dump()
            ));
            continue;
        }
        let took = start.elapsed();
        recoveries.push(took);
        for inst in want.iter().map(String::as_str) {
            let groups: std::collections::BTreeSet<i32> =
                c.procs_of(inst).iter().map(|p| p.pgid).collect();
            if groups.len() != 1 {
                problems.push(format!(
                    "round {round}: {inst} runs in {} process groups: {groups:?}",
                    groups.len()
                ));
            }
        }
        let after = healthy(&c);
        for (inst, run) in &before {
            if let Some(now) = after.get(inst) {
                if now.2 == run.2 && (now.0, now.1) != (run.0, run.1) {
                    problems.push(format!(
                        "round {round}: healthy {inst} was restarted: {run:?} -> {now:?}"
                    ));
                }
            }
        }
        problems.extend(
            c.unparsable()
                .into_iter()
                .map(|b| format!("round {round}: unparsable {b}")),
        );
        eprintln!("faults: daemon SIGKILL round {round}: killed {delay:?} after the edit (v{version}, {replicas} replicas); converged in {took:?}");
        assert!(
            suite_start.elapsed() < Duration::from_secs(300),
            "the 20 rounds stay within 300 s"
        );
    }
    recoveries.sort();
    eprintln!(
        "faults: daemon SIGKILL x20: {} converged; recovery median {:?}, max {:?}; {} problems; total {:?}",
        recoveries.len(),
        recoveries.get(recoveries.len() / 2),
        recoveries.last(),
        problems.len(),
        suite_start.elapsed()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `lcc up` right after `kill -9` of the daemon must not take the dying daemon (still R
/// or D for a moment, with its lock) for a running one: 20 times out of 20.
#[test]
fn up_right_after_kill9_of_the_daemon_works_every_time() {
    let c = Cluster::new("reup");
    c.write(
        "app.yaml",
        "kind: Application\nname: s\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [sleep, \"300\"]\nstop: {signal: KILL, timeout: 1s}\n---\nkind: Instance\nname: s\napp: s\n",
    );
    c.up();
    for round in 0..20 {
        let pid = c.daemon_pid().expect("a daemon");
        kill9(pid);
        let up = c.lcc(&["up", "-d"]);
        assert_eq!(
            up.code,
            Some(0),
            "round {round}: lcc up right after kill -9 of pid {pid}: {}",
            up.err()
        );
        assert!(
            wait_until(Duration::from_secs(5), || gone(pid)),
            "round {round}: the killed daemon is gone"
        );
        assert_ne!(c.daemon_pid(), Some(pid), "round {round}: a new daemon");
    }
}
