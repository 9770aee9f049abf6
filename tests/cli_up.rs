//! `lcc up` in the foreground: shows the cluster coming up and its URLs, and stops
//! everything on Ctrl-C like `docker compose up`; an invalid cluster is refused.

mod daemon_support;
use daemon_support::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn foreground_up_then_ctrl_c_stops_everything() {
    let c = Cluster::new("fg", 36400);
    c.write("app.yaml", &sleeper(&group("s", "s", 2)));
    let mut child = Command::new(lcc_bin())
        .arg("up")
        .arg(c.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref().take(200) {
        let line = line.unwrap();
        let done = line.contains("all instances ready");
        seen.push(line);
        if done {
            break;
        }
    }
    assert!(
        seen.iter()
            .any(|l| l.contains("instance/s-1") && l.contains("Started")),
        "{seen:#?}"
    );
    assert!(
        seen.last()
            .is_some_and(|l| l.contains("all instances ready")),
        "{seen:#?}"
    );
    assert_eq!(
        c.daemon_pid(),
        Some(child.id() as i32),
        "the daemon runs in-process"
    );
    let pids: Vec<i32> = c
        .all_pids()
        .into_iter()
        .filter(|p| *p != child.id() as i32)
        .collect();
    assert_eq!(pids.len(), 2, "two pods recorded: {pids:?}");
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .output();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    for p in pids {
        assert!(!alive(p), "pod {p} left running");
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("DaemonStopped")),
        "{rest:#?}"
    );
}

#[test]
fn invalid_cluster_is_refused() {
    let c = Cluster::new("bad", 36500);
    c.write("app.yaml", "kind: Application\nname: Bad_Name\n");
    let out = c.lcc(&["up", "-d"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("app.yaml:"),
        "{}",
        text(&out.stderr)
    );
    assert!(c.daemon_pid().is_none());
}

#[test]
fn up_without_a_manifest_starts_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("notes.txt"), "not a manifest\n").expect("write");
    for args in [vec!["up", "-d"], vec!["up"]] {
        let out = Command::new(lcc_bin())
            .arg("-C")
            .arg(dir.path())
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run lcc");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(
            text(&out.stderr),
            format!("lcc: no manifest (*.yaml) in {}\n", dir.path().display())
        );
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["notes.txt"], "no .lcc/, no daemon");
}
