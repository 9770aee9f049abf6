//! Groups follow the manifests while running: a changed template rolls one replica at
//! a time (the new one ready before an old one stops), `lcc scale` up and down (highest
//! ordinal first), an invalid edit is refused and the cluster keeps running, a deleted
//! manifest removes its instances.

use crate::support::*;
use serde_json::Value;
use std::time::Duration;

fn time_of(e: &Value) -> f64 {
    e["time"].as_f64().unwrap()
}

#[test]
fn manifest_edit_rolls_group_one_at_a_time() {
    let c = Cluster::new("roll");
    c.write(
        "app.yaml",
        &format!("{}---\n{}", http_app("web", ""), group("web", "web", 2)),
    );
    c.up();
    let old = c.current_members("web");
    assert_eq!(old, vec!["web-1", "web-2"]);
    let old_fp = c.status("web-1").unwrap()["fingerprint"].clone();
    let edit_time = daemon_now(&c);
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            http_app("web", "  env: {VERSION: \"2\"}\n"),
            group("web", "web", 2)
        ),
    );
    let rolled = || {
        let m = c.current_members("web");
        m.len() == 2
            && m.iter().all(|i| {
                c.status(i)
                    .is_some_and(|s| s["fingerprint"] != old_fp && s["ready"] == true)
            })
    };
    assert!(
        wait_until(Duration::from_secs(40), rolled),
        "not rolled:\n{}",
        c.dump()
    );
    assert!(
        c.current_members("web").iter().all(|m| !old.contains(m)),
        "new names: {:?}",
        c.current_members("web")
    );

    // Before each old replica went away, one more new replica was ready than before.
    let evs: Vec<Value> = c
        .events()
        .into_iter()
        .filter(|e| time_of(e) >= edit_time)
        .collect();
    let mut ready_new = 0;
    let mut removed_old = 0;
    for e in &evs {
        let obj = e["object"].as_str().unwrap_or("");
        let inst = obj.strip_prefix("instance/").unwrap_or("");
        if e["reason"] == "Ready" && !old.iter().any(|o| o == inst) {
            ready_new += 1;
        }
        if e["reason"] == "Removing" && e["object"] == "group/web" {
            removed_old += 1;
            assert!(
                ready_new >= removed_old,
                "an old replica stopped before its successor was ready:\n{}",
                c.dump()
            );
        }
    }
    assert_eq!(removed_old, 2, "{}", c.dump());
}

fn daemon_now(c: &Cluster) -> f64 {
    c.events().last().map(time_of).unwrap_or(0.0)
}

#[test]
fn scale_up_and_down_highest_first() {
    let c = Cluster::new("scale");
    c.write("app.yaml", &sleeper(&group("s", "s", 1)));
    c.up();
    assert!(c.lcc(&["scale", "s", "4"]).status.success());
    let running = |n: usize| {
        move |c: &Cluster| {
            let m = c.current_members("s");
            m.len() == n && m.iter().all(|i| c.ready(i))
        }
    };
    assert!(
        wait_until(Duration::from_secs(20), || running(4)(&c)),
        "{:?}\n{}",
        c.current_members("s"),
        c.dump()
    );
    assert_eq!(c.current_members("s"), vec!["s-1", "s-2", "s-3", "s-4"]);
    let ps = c.lcc(&["ps"]);
    assert!(
        text(&ps.stdout).contains("scaled to 4"),
        "{}",
        text(&ps.stdout)
    );
    let pid3 = c.pid("s-3").unwrap() as i32;
    assert!(c.lcc(&["scale", "s", "2"]).status.success());
    assert!(
        wait_until(Duration::from_secs(20), || running(2)(&c)),
        "{:?}",
        c.current_members("s")
    );
    assert_eq!(c.current_members("s"), vec!["s-1", "s-2"]);
    assert!(
        wait_until(Duration::from_secs(10), || !alive(pid3)),
        "s-3 still runs"
    );
    assert!(
        wait_until(Duration::from_secs(10), || !c.pod("s-4").exists()),
        "s-4 removed"
    );
}

/// More members than one pass creates (16): the rest follow in the next passes, while
/// the first ones already start, and none is lost.
#[test]
fn a_large_group_comes_up_whole() {
    let c = Cluster::new("large");
    c.write("app.yaml", &sleeper(&group("s", "s", 40)));
    // `up --wait` returns once every member is ready, not only those of the first pass.
    c.up();
    let members = c.current_members("s");
    assert!(
        members.len() == 40 && members.iter().all(|i| c.ready(i)),
        "{members:?}\n{}",
        c.dump()
    );
    let mut want: Vec<String> = (1..=40).map(|i| format!("s-{i}")).collect();
    want.sort();
    assert_eq!(c.current_members("s"), want);
    assert_eq!(
        c.events_of("group/s", "Scheduled").len(),
        40,
        "{}",
        c.dump()
    );
}

#[test]
fn invalid_edit_is_refused_and_deleted_manifest_removes() {
    let c = Cluster::new("edits");
    let a_yaml = format!(
        "{}---\n{}",
        shell_app("a", "exec sleep 300", 5),
        instance("a", "a")
    );
    c.write("a.yaml", &a_yaml);
    c.write(
        "b.yaml",
        &format!(
            "{}---\n{}",
            shell_app("b", "exec sleep 301", 5),
            instance("b", "b")
        ),
    );
    c.up();
    let pid_a = c.pid("a").unwrap();
    c.write("a.yaml", "kind: Application\nname: a\nbogus: 1\n");
    assert!(
        wait_until(Duration::from_secs(15), || !c
            .events_of("cluster/edits", "InvalidManifests")
            .is_empty()),
        "{}",
        c.dump()
    );
    let ev = &c.events_of("cluster/edits", "InvalidManifests")[0];
    assert!(ev["message"].as_str().unwrap().contains("a.yaml"), "{ev}");
    assert_eq!(
        c.pid("a"),
        Some(pid_a),
        "kept running on the last good manifests"
    );

    let pid_b = c.pid("b").unwrap() as i32;
    c.write("a.yaml", &a_yaml);
    std::fs::remove_file(c.path().join("b.yaml")).unwrap();
    assert!(
        wait_until(Duration::from_secs(15), || c.status("b").is_none()
            && !c.pod("b").exists()),
        "{}",
        c.dump()
    );
    assert!(!alive(pid_b));
    assert_eq!(c.pid("a"), Some(pid_a), "unchanged instance untouched");
}
