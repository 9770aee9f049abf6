//! Restarts: exponential backoff that grows and caps (read from the event timestamps),
//! Failed after maxRetries failures in a row, and a group replacing its Failed replica.

use crate::support::*;
use std::time::Duration;

fn delays(c: &Cluster, object: &str) -> Vec<u64> {
    c.events_of(object, "BackOff")
        .iter()
        .filter_map(|e| {
            let m = e["message"].as_str()?;
            m.split("restarting in ")
                .nth(1)?
                .split("ms")
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn backoff_grows_caps_then_failed_and_replaced() {
    let c = Cluster::new("backoff");
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            shell_app("crash", "exit 3", 5),
            group("crash", "crash", 1)
        ),
    );
    let out = c.lcc(&["up", "-d"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        wait_until(Duration::from_secs(30), || !c
            .events_of("instance/crash-1", "Failed")
            .is_empty()),
        "never Failed:\n{}",
        c.dump()
    );
    assert_eq!(
        delays(&c, "instance/crash-1"),
        vec![100, 200, 400, 400],
        "{}",
        c.dump()
    );

    // Each restart waited at least its delay: from the BackOff event to the next Started.
    let evs: Vec<_> = c
        .events()
        .into_iter()
        .filter(|e| e["object"] == "instance/crash-1")
        .collect();
    let mut gaps = Vec::new();
    for (i, e) in evs.iter().enumerate() {
        if e["reason"] != "BackOff" {
            continue;
        }
        let next = evs[i..]
            .iter()
            .find(|n| n["reason"] == "Started")
            .expect("a restart follows each BackOff");
        gaps.push(next["time"].as_f64().unwrap() - e["time"].as_f64().unwrap());
    }
    for (gap, want) in gaps.iter().zip([0.1, 0.2, 0.4, 0.4]) {
        assert!(
            *gap >= want - 0.005,
            "restart after {gap}s, backoff was {want}s:\n{}",
            c.dump()
        );
    }
    let failed = c.events_of("instance/crash-1", "Failed");
    assert!(
        failed[0]["message"]
            .as_str()
            .unwrap()
            .contains("5 failures in a row"),
        "{failed:?}"
    );

    // The group replaces the Failed replica with a new one.
    assert!(
        wait_until(Duration::from_secs(20), || c
            .has_event("Scheduled", "creating crash-2")
            && !c.events_of("instance/crash-2", "Started").is_empty()),
        "no replacement:\n{}",
        c.dump()
    );
    assert!(
        wait_until(Duration::from_secs(10), || c.status("crash-1").is_none()),
        "the Failed replica is removed"
    );
}

#[test]
fn explicit_instance_stays_failed_with_exit_code() {
    let c = Cluster::new("failed");
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            shell_app("oops", "exit 7", 2),
            instance("oops", "oops")
        ),
    );
    let out = c.lcc(&["up", "-d", "--wait"]);
    assert!(
        !out.status.success(),
        "--wait fails when an instance gave up"
    );
    assert!(
        text(&out.stderr).contains("oops Failed"),
        "{}",
        text(&out.stderr)
    );
    let st = c.status("oops").unwrap();
    assert_eq!(st["phase"], "Failed");
    assert_eq!(st["exit_code"], 7);
    let conds = st["conditions"].as_array().unwrap();
    assert!(
        conds
            .iter()
            .any(|k| k["type"] == "Failed" && k["status"] == true),
        "{st}"
    );
    // `lcc restart` gives it a fresh start.
    let before = c.events_of("instance/oops", "Started").len();
    assert!(c.lcc(&["restart", "oops"]).status.success());
    assert!(
        wait_until(Duration::from_secs(20), || c
            .events_of("instance/oops", "Started")
            .len()
            > before),
        "{}",
        c.dump()
    );
}
