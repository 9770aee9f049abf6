//! Fault family 9: 50 concurrent `lcc start/stop/scale` commands (and `ps -o json`
//! readers) against one daemon: every command succeeds, no update is lost, no file is
//! torn, and the cluster ends in the state of the last command for each object.

use crate::support::{wait_until, Cluster, Rng};
use std::time::{Duration, Instant};

/// A cheap long-running app (no probe: ready once running) and its Instance.
fn sleeper(name: &str) -> String {
    format!(
        "kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [sleep, \"1000\"]\nrestart: {{policy: always, backoff: {{initial: 100ms, max: 400ms}}}}\nstop: {{signal: TERM, timeout: 1s}}\n"
    )
}

/// Runs every command at once, one thread each; returns (args, exit code, stdout, stderr).
fn all_at_once(
    c: &Cluster,
    cmds: Vec<Vec<String>>,
) -> Vec<(Vec<String>, Option<i32>, String, String)> {
    std::thread::scope(|s| {
        let handles: Vec<_> = cmds
            .into_iter()
            .map(|args| {
                s.spawn(move || {
                    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                    let out = c.lcc(&refs);
                    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                    (args, out.code, stdout, out.err())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("command thread"))
            .collect()
    })
}

/// Whether instance `name` is stopped (desired and actual) or running and ready.
fn settled(c: &Cluster, name: &str, running: bool) -> bool {
    let Some(s) = c.status(name) else {
        return false;
    };
    if running {
        s["desired"] == "running" && s["ready"] == true
    } else {
        s["desired"] == "stopped" && s["phase"] == "Stopped" && c.procs_of(name).is_empty()
    }
}

/// Whether group g has exactly `n` members, all running and ready.
fn group_at(c: &Cluster, n: usize) -> bool {
    let m = c.members("g");
    m.len() == n && m.iter().all(|i| settled(c, i, true))
}

/// Every `pod.state` that is not one whole word of the pod API.
fn torn_pod_states(c: &Cluster) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(c.state().join("pods")) else {
        return vec!["no pods directory".into()];
    };
    rd.flatten()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("pod.state")).ok()?;
            let ok = ["running", "stopped", "removed"].contains(&text.trim());
            (!ok).then(|| format!("{}: pod.state holds {text:?}", e.path().display()))
        })
        .collect()
}

#[test]
fn fifty_concurrent_commands_lose_no_update() {
    let c = Cluster::new("concurrent");
    let mut docs = vec![
        sleeper("s"),
        "kind: InstanceGroup\nname: g\napp: s\nreplicas: 1\n".to_string(),
    ];
    let instances: Vec<String> = (1..=8).map(|i| format!("s{i}")).collect();
    for i in &instances {
        docs.push(format!("kind: Instance\nname: {i}\napp: s\n"));
    }
    c.write("app.yaml", &docs.join("---\n"));
    c.up();

    // Round 1: stop each instance once, 20 scales of g, 22 readers, all at once.
    let mut rng = Rng(0x0c0f_fee0_0000_0009);
    let scales: Vec<u64> = (0..20).map(|_| rng.range(0, 5)).collect();
    let mut cmds: Vec<Vec<String>> = instances
        .iter()
        .map(|i| vec!["stop".into(), i.clone()])
        .collect();
    cmds.extend(
        scales
            .iter()
            .map(|n| vec!["scale".into(), "g".into(), n.to_string()]),
    );
    cmds.extend((0..22).map(|_| vec!["ps".into(), "-o".into(), "json".into()]));
    let t0 = Instant::now();
    let results = all_at_once(&c, cmds);
    let mut problems = Vec::new();
    for (args, code, stdout, err) in &results {
        if *code != Some(0) || err.contains("panicked") {
            problems.push(format!("lcc {}: exit {code:?}: {err}", args.join(" ")));
        }
        if args[0] == "ps" && serde_json::from_str::<serde_json::Value>(stdout).is_err() {
            problems.push(format!(
                "lcc ps -o json printed unparsable output: {stdout:?}"
            ));
        }
    }
    // The override holds one of the values asked for, whole.
    let scale_file = std::fs::read_to_string(c.state().join("scale/g")).unwrap_or_default();
    let chosen: Option<u64> = scale_file
        .trim()
        .parse()
        .ok()
        .filter(|v| scales.contains(v));
    if chosen.is_none() {
        problems.push(format!(
            "scale/g holds {scale_file:?}, not one of {scales:?}"
        ));
    }
    let n = chosen.unwrap_or(0) as usize;
    let converged = wait_until(Duration::from_secs(30), || {
        instances.iter().all(|i| settled(&c, i, false)) && group_at(&c, n)
    });
    let took = t0.elapsed();
    if !converged {
        let stopped: Vec<&String> = instances.iter().filter(|i| settled(&c, i, false)).collect();
        problems.push(format!(
            "round 1: no convergence: stopped {stopped:?}, g members {:?} (want {n})\n{}",
            c.members("g"),
            c.dump()
        ));
    }
    problems.extend(c.unparsable());
    problems.extend(torn_pod_states(&c));
    eprintln!("faults: 50 concurrent commands (8 stop, 20 scale, 22 ps): converged: {converged} after {took:?} (g at {n})");

    // Round 2: the last word for each object, again all at once: start all, scale to 2.
    let mut cmds: Vec<Vec<String>> = instances
        .iter()
        .map(|i| vec!["start".into(), i.clone()])
        .collect();
    cmds.push(vec!["scale".into(), "g".into(), "2".into()]);
    let t1 = Instant::now();
    for (args, code, _, err) in all_at_once(&c, cmds) {
        if code != Some(0) {
            problems.push(format!("lcc {}: exit {code:?}: {err}", args.join(" ")));
        }
    }
    let converged = wait_until(Duration::from_secs(30), || {
        instances.iter().all(|i| settled(&c, i, true)) && group_at(&c, 2)
    });
    eprintln!(
        "faults: 9 concurrent commands (8 start, scale 2): converged: {converged} after {:?}",
        t1.elapsed()
    );
    if !converged {
        problems.push(format!(
            "round 2: no convergence: g members {:?}\n{}",
            c.members("g"),
            c.dump()
        ));
    }
    problems.extend(c.unparsable());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
