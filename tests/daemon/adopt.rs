//! A daemon killed with SIGKILL leaves its pods running; the next `lcc up` adopts them:
//! same pids, no restart, no second copy.

use crate::support::*;
use std::time::Duration;

#[test]
fn kill_9_then_up_adopts_without_restart() {
    let c = Cluster::new("adopt");
    c.write(
        "app.yaml",
        &format!("{}---\n{}", http_app("web", ""), group("web", "web", 2)),
    );
    c.up();
    let pids: Vec<i64> = ["web-1", "web-2"]
        .iter()
        .map(|i| c.pid(i).expect("pid"))
        .collect();
    let ports: Vec<String> = ["web-1", "web-2"]
        .iter()
        .map(|i| c.status(i).unwrap()["ports"].to_string())
        .collect();
    let daemon = c.daemon_pid().expect("daemon pid");
    let _ = std::process::Command::new("kill")
        .args(["-9", &daemon.to_string()])
        .output();
    assert!(
        wait_until(Duration::from_secs(10), || !alive(daemon)),
        "daemon still alive"
    );
    for p in &pids {
        assert!(alive(*p as i32), "pod {p} died with the daemon");
    }

    c.up();
    assert_ne!(c.daemon_pid(), Some(daemon));
    for (i, name) in ["web-1", "web-2"].iter().enumerate() {
        let st = c.status(name).unwrap();
        assert_eq!(
            st["pid"].as_i64(),
            Some(pids[i]),
            "{name} was restarted:\n{}",
            c.dump()
        );
        assert_eq!(st["restarts"], 0);
        assert_eq!(st["ports"].to_string(), ports[i]);
        assert_eq!(
            c.events_of(&format!("instance/{name}"), "Started").len(),
            1,
            "{}",
            c.dump()
        );
        assert_eq!(c.events_of(&format!("instance/{name}"), "Adopted").len(), 1);
    }
    // No second copy: exactly one process group per pod serves each port.
    let servers = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|cmd| {
            String::from_utf8_lossy(cmd).contains("http.server")
                && ports.iter().any(|p| {
                    let port = p.trim_matches(|ch: char| !ch.is_ascii_digit());
                    String::from_utf8_lossy(cmd).contains(port)
                })
        })
        .count();
    assert_eq!(servers, 2, "one server per instance");
}

/// A Failed instance stays Failed, with its restart count, across `kill -9` of the
/// daemon and the next `lcc up`: no new crash loop. `lcc restart` starts it again.
#[test]
fn failed_stays_failed_across_kill_9_and_up() {
    let c = Cluster::new("failkept");
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            shell_app("crash", "exit 3", 2),
            instance("crash", "crash")
        ),
    );
    let up = c.lcc(&["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    let failed = || c.status("crash").is_some_and(|s| s["phase"] == "Failed");
    assert!(wait_until(Duration::from_secs(20), failed), "{}", c.dump());
    let before = c.status("crash").expect("status");
    let starts = c.events_of("instance/crash", "Started").len();
    let daemon = c.daemon_pid().expect("daemon pid");
    let _ = std::process::Command::new("kill")
        .args(["-9", &daemon.to_string()])
        .output();
    assert!(wait_until(Duration::from_secs(10), || !alive(daemon)));

    let up = c.lcc(&["up", "-d"]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    assert!(
        wait_until(Duration::from_secs(10), || c
            .has_event("Adopted", "kept Failed")),
        "{}",
        c.dump()
    );
    let after = c.status("crash").expect("status");
    assert_eq!(after["phase"], "Failed", "{}", c.dump());
    assert_eq!(after["restarts"], before["restarts"]);
    assert_eq!(after["failures"], before["failures"]);
    assert_eq!(
        c.events_of("instance/crash", "Started").len(),
        starts,
        "no new start:\n{}",
        c.dump()
    );

    let restart = c.lcc(&["restart", "crash"]);
    assert!(restart.status.success(), "{}", text(&restart.stderr));
    assert!(
        wait_until(Duration::from_secs(20), || {
            c.events_of("instance/crash", "Started").len() > starts
        }),
        "lcc restart starts it again:\n{}",
        c.dump()
    );
}
