//! `lcc ls`: every running cluster of the user's registry, a daemon's entry gone with it.

use crate::support::{kill9, wait_until, Cluster};
use std::time::Duration;

fn listed(c: &Cluster) -> Vec<(String, String, u64, u64)> {
    let out = c.lcc(&["ls", "-o", "json"]);
    assert_eq!(out.code, Some(0), "{}", out.err());
    let doc: serde_json::Value = serde_json::from_str(&out.out()).expect("json");
    doc["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["dir"].as_str().unwrap_or_default().to_string(),
                c["ready"].as_u64().unwrap_or(99),
                c["total"].as_u64().unwrap_or(99),
            )
        })
        .collect()
}

#[test]
fn ls_lists_running_clusters_and_forgets_stopped_and_killed_ones() {
    let a = Cluster::new("lsa");
    let mut b = Cluster::new("lsb");
    b.share_registry(&a);
    a.write_web_group(2);
    b.write_web_group(1);
    assert!(listed(&a).is_empty(), "an empty registry lists nothing");
    a.up();
    b.up();
    let dir = |c: &Cluster| {
        std::fs::canonicalize(c.path())
            .expect("dir")
            .display()
            .to_string()
    };
    assert_eq!(
        listed(&a),
        vec![
            ("lsa".to_string(), dir(&a), 2, 2),
            ("lsb".to_string(), dir(&b), 1, 1),
        ]
    );
    let table = a.lcc(&["ls"]);
    assert!(
        table.out().starts_with("CLUSTER")
            && table.out().contains("lsb")
            && table.out().contains("1/1"),
        "{}",
        table.out()
    );
    // Down: its entry goes.
    assert_eq!(b.lcc(&["down"]).code, Some(0));
    assert_eq!(listed(&a).len(), 1);
    // Killed: its entry is skipped, then removed.
    let daemon = a.daemon_pid().expect("daemon");
    kill9(daemon);
    assert!(wait_until(Duration::from_secs(5), || {
        !crate::support::alive(daemon)
    }));
    assert!(
        listed(&a).is_empty(),
        "a killed daemon's cluster is not listed"
    );
}
