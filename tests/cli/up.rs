//! `lcc up` in the foreground: shows the cluster coming up and its URLs, and stops
//! everything on Ctrl-C like `docker compose up`; an invalid cluster is refused.

use crate::support::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// The lines of `out`, read on a thread, so that waiting for one has a deadline.
fn lines_of(out: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line before `deadline`; None at its end or the end of the output.
fn line_before(lines: &Receiver<String>, deadline: Instant) -> Option<String> {
    lines
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .ok()
}

#[test]
fn foreground_up_then_ctrl_c_stops_everything() {
    let c = Cluster::new("fg");
    c.write("app.yaml", &sleeper(&group("s", "s", 2)));
    // in the cluster's environment: its own registry, not the user's
    let mut child = c
        .command(&["up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while seen.len() < 200 {
        let Some(line) = line_before(&lines, deadline) else {
            break;
        };
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
    let exited = wait_until(Duration::from_secs(30), || {
        child.try_wait().is_ok_and(|s| s.is_some())
    });
    if !exited {
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    assert!(exited, "lcc up did not stop on SIGINT");
    assert!(status.success(), "{status}");
    for p in pids {
        assert!(!alive(p), "pod {p} left running");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let rest: Vec<String> = std::iter::from_fn(|| line_before(&lines, deadline)).collect();
    assert!(
        rest.iter().any(|l| l.contains("DaemonStopped")),
        "{rest:#?}"
    );
}

#[test]
fn foreground_up_says_all_ready_only_once_a_taken_pod_folder_is_freed() {
    let c = Cluster::new("fgtaken");
    let manifests = format!(
        "{}---\n{}",
        sleeper(&instance("a", "s")),
        instance("b", "s")
    );
    c.write("app.yaml", &manifests);
    // a folder of the user's where instance b's pod would go: b waits for it
    let taken = c.pod("b");
    std::fs::create_dir_all(&taken).unwrap();
    std::fs::write(taken.join("mine.txt"), "not lcc's\n").unwrap();
    let mut child = KillOnDrop(
        c.command(&["up"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let lines = lines_of(child.0.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    // reads lines until what has been read so far satisfies `until`
    let read_until = |seen: &mut Vec<String>, until: &dyn Fn(&[String]) -> bool| {
        while !until(seen) {
            match line_before(&lines, deadline) {
                Some(line) if seen.len() < 400 => seen.push(line),
                _ => panic!("{seen:#?}"),
            }
        }
    };
    let has = |seen: &[String], what: &dyn Fn(&str) -> bool| seen.iter().any(|l| what(l));
    let a_ready = |l: &str| l.contains("instance/a") && l.contains("Ready");
    let occupied = |l: &str| l.contains("instance/b") && l.contains("PodDirOccupied");
    let all_ready = |l: &str| l.contains("all instances ready");
    // a is up and b cannot be made: not "all instances ready" yet
    read_until(&mut seen, &|seen| {
        has(seen, &a_ready) && has(seen, &occupied)
    });
    std::fs::rename(&taken, c.path().join("moved-away")).unwrap();
    c.write("app.yaml", &manifests);
    read_until(&mut seen, &|seen| has(seen, &all_ready));
    let at = |what: &dyn Fn(&str) -> bool| seen.iter().position(|l| what(l));
    let b_created = at(&|l: &str| l.contains("instance/b") && l.contains("Created"));
    let announced = at(&all_ready);
    assert!(
        b_created.is_some() && b_created < announced,
        "announced once b was made: {seen:#?}"
    );
    let _ = Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .output();
    let exited = wait_until(Duration::from_secs(30), || {
        child.0.try_wait().is_ok_and(|s| s.is_some())
    });
    assert!(exited, "lcc up did not stop on SIGINT");
}

#[test]
fn invalid_cluster_is_refused() {
    let c = Cluster::new("bad");
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

#[test]
fn cluster_commands_outside_a_cluster_exit_1_naming_the_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("notes.txt"), "not a manifest\n").expect("write");
    let commands: &[&[&str]] = &[
        &["ps"],
        &["ps", "-o", "json"],
        &["logs", "web"],
        &["events"],
        &["events", "-o", "json"],
        &["start", "web"],
        &["stop", "web"],
        &["restart", "web"],
        &["scale", "web", "2"],
        &["delete", "web"],
        &["storage", "ls"],
        &["api", "token"],
    ];
    for args in commands {
        let out = Command::new(lcc_bin())
            .arg("-C")
            .arg(dir.path())
            .args(*args)
            .stdin(Stdio::null())
            .output()
            .expect("run lcc");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(
            text(&out.stderr),
            format!("lcc: no cluster in {} (no *.yaml)\n", dir.path().display()),
            "{args:?}"
        );
        assert_eq!(text(&out.stdout), "", "{args:?}: no empty table");
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["notes.txt"], "nothing created");
}
