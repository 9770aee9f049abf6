//! A sync's files are applied as one set: while `lcc receive` holds the host's lock
//! (moving files in one by one), the daemon leaves the manifests alone, and applies
//! them at its next look once the lock is gone (docs/hosts.md).

use crate::support::*;
use std::time::Duration;

#[test]
fn manifests_are_applied_once_the_receive_is_done() {
    let c = Cluster::new("sync-swap");
    c.write("a.yaml", &sleeper("kind: Instance\nname: a\napp: s\n"));
    c.up();
    let lock = c.state().join("sync/lock");
    std::fs::create_dir_all(c.state().join("sync")).expect("mkdir");
    std::fs::write(&lock, "0 lcc receive pid 1\n").expect("lock");
    c.write("b.yaml", "kind: Instance\nname: b\napp: s\n");
    let applied = || c.events_with("ManifestsApplied").len();
    // the daemon looks again every 2 s: two looks while the lock is there
    assert!(
        !wait_until(Duration::from_millis(4500), || applied() > 0),
        "{}",
        c.dump()
    );
    assert!(c.status("b").is_none());
    std::fs::remove_file(&lock).expect("unlock");
    assert!(
        wait_until(Duration::from_secs(10), || c.ready("b")),
        "{}",
        c.dump()
    );
    assert_eq!(applied(), 1);
}
