//! The cluster commands around a running daemon: ps (table and JSON), stop/start,
//! delete (a group's instance is replaced, an explicit one recreated), storage ls/rm
//! (refused while bound), events (table and JSON lines) and logs.

use crate::support::*;
use std::time::Duration;

#[test]
fn stop_start_delete_ps_logs_events() {
    let c = Cluster::new("cli");
    let talk = shell_app("talk", "echo hello-from-$LCC_INSTANCE; exec sleep 300", 5);
    c.write(
        "app.yaml",
        &format!(
            "{talk}---\n{}---\n{}",
            group("talk", "talk", 2),
            instance("solo", "talk")
        ),
    );
    c.up();

    let ps = c.lcc(&["ps"]);
    let table = text(&ps.stdout);
    assert!(
        table.starts_with("INSTANCE  APP   GROUP  STATE    READY  RESTARTS  PORTS  AGE"),
        "{table}"
    );
    assert!(
        table.contains("talk-1") && table.contains("solo"),
        "{table}"
    );
    assert!(!table.contains('\u{1b}'), "no colour off a terminal");
    let json: serde_json::Value =
        serde_json::from_slice(&c.lcc(&["ps", "-o", "json"]).stdout).unwrap();
    assert_eq!(json["instances"].as_array().unwrap().len(), 3);

    let logs = c.lcc(&["logs", "talk-2"]);
    assert_eq!(text(&logs.stdout).trim(), "hello-from-talk-2");

    assert!(c.lcc(&["stop", "talk"]).status.success());
    assert!(wait_until(Duration::from_secs(20), || c
        .current_members("talk")
        .iter()
        .all(|m| c.status(m).is_some_and(|s| s["phase"] == "Stopped"))));
    assert!(c.lcc(&["start", "talk"]).status.success());
    assert!(wait_until(Duration::from_secs(20), || c
        .current_members("talk")
        .iter()
        .all(|m| c.ready(m))));

    let solo_pid = c.pid("solo").unwrap();
    assert!(c.lcc(&["delete", "solo"]).status.success());
    assert!(
        wait_until(Duration::from_secs(20), || c
            .pid("solo")
            .is_some_and(|p| p != solo_pid)
            && c.ready("solo")),
        "{}",
        c.dump()
    );
    assert!(c.lcc(&["delete", "talk-1"]).status.success());
    assert!(
        wait_until(Duration::from_secs(20), || c.current_members("talk")
            == ["talk-2", "talk-3"]
            && c.ready("talk-3")),
        "{:?}",
        c.current_members("talk")
    );

    let ev = text(&c.lcc(&["events"]).stdout);
    assert!(
        ev.contains("instance/talk-1") && ev.contains("Removed"),
        "{ev}"
    );
    // one JSON object per line, as events.jsonl holds them
    let json = text(&c.lcc(&["events", "-o", "json"]).stdout);
    let parsed: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(parsed.len() >= ev.lines().count(), "{json}");
    assert!(
        parsed.iter().any(|e| e["object"] == "instance/talk-1"
            && e["reason"] == "Removed"
            && e["time"].is_f64()
            && e["message"].is_string()),
        "{json}"
    );
    assert!(!c.lcc(&["stop", "nope"]).status.success());
}

#[test]
fn storage_rm_refused_while_bound() {
    let c = Cluster::new("storage");
    let app = "kind: Application\nname: w\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      shell: \"echo kept > data/file; exec sleep 300\"\nstorage:\n  - {storage: notes, path: data}\nstop: {signal: TERM, timeout: 2s}\n";
    c.write(
        "app.yaml",
        &format!(
            "{app}---\n{}---\nkind: Storage\nname: notes\n",
            instance("w", "w")
        ),
    );
    c.up();
    let file = c.path().join(".lcc/storage/notes/file");
    assert!(wait_until(Duration::from_secs(10), || file.exists()));
    let ls = text(&c.lcc(&["storage", "ls"]).stdout);
    assert!(ls.contains("notes") && ls.contains('w'), "{ls}");
    let rm = c.lcc(&["storage", "rm", "notes"]);
    assert!(!rm.status.success());
    assert!(
        text(&rm.stderr).contains("bound by w"),
        "{}",
        text(&rm.stderr)
    );

    // Removing the instance's manifest removes the pod but keeps the data.
    c.write("app.yaml", "kind: Storage\nname: notes\n");
    assert!(
        wait_until(Duration::from_secs(20), || c.status("w").is_none()),
        "{}",
        c.dump()
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "kept\n");
    let rm = c.lcc(&["storage", "rm", "notes"]);
    assert!(rm.status.success(), "{}", text(&rm.stderr));
    assert!(!file.exists());
}
