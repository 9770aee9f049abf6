//! `lcc down` stops every pod (children included), the proxy and the daemon: no process
//! the cluster ever started is left; a second `lcc up` is refused while one runs.

use crate::support::*;
use std::time::Duration;

#[test]
fn down_leaves_no_process() {
    let c = Cluster::new("down");
    let forks = shell_app("forks", "sleep 300 & sleep 301 & exec sleep 302", 5);
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}---\n{forks}---\n{}",
            http_app("web", ""),
            group("web", "web", 2),
            instance("forks", "forks")
        ),
    );
    c.up();
    let again = c.lcc(&["up", "-d"]);
    assert!(!again.status.success());
    let daemon = c.daemon_pid().unwrap();
    assert!(
        text(&again.stderr).contains(&format!("is already up: daemon pid {daemon}")),
        "{}",
        text(&again.stderr)
    );

    // Restart one instance so the cluster has more than one run on record.
    let first = c.pid("web-1").unwrap();
    assert!(c.lcc(&["restart", "web-1"]).status.success());
    assert!(
        wait_until(Duration::from_secs(20), || c
            .pid("web-1")
            .is_some_and(|p| p != first)
            && c.ready("web-1")),
        "{}",
        c.dump()
    );

    let mut pids = c.all_pids();
    // Children of the pods: every process whose session is a pod's.
    let sessions: Vec<i32> = pids.clone();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let f: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if f.get(3)
            .and_then(|s| s.parse::<i32>().ok())
            .is_some_and(|sid| sessions.contains(&sid))
        {
            pids.push(pid);
        }
    }
    assert!(
        pids.len() >= 8,
        "daemon, 3 pods, 3 sleeps, 2 pythons: {pids:?}"
    );
    let out = c.lcc(&["down"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let left: Vec<i32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(c.lcc(&["ps"]).status.success());
    let st = c.status("web-2").unwrap();
    assert_eq!(st["phase"], "Stopped");
}

#[test]
fn down_without_daemon_stops_pods() {
    let c = Cluster::new("downnod");
    c.write("app.yaml", &sleeper(&instance("s", "s")));
    c.up();
    let pid = c.pid("s").unwrap() as i32;
    let daemon = c.daemon_pid().unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-9", &daemon.to_string()])
        .output();
    assert!(wait_until(Duration::from_secs(10), || !alive(daemon)));
    assert!(alive(pid));
    let out = c.lcc(&["down"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("no daemon"),
        "{}",
        text(&out.stdout)
    );
    assert!(!alive(pid), "pod left running");
}

/// The signals `/proc/PID/status` says `pid` ignores (`SigIgn`, bit N-1 for signal N).
fn ignored_signals(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .expect("SigIgn")
}

#[test]
fn an_up_run_with_int_and_quit_ignored_gives_its_apps_the_defaults_and_stops_on_quit() {
    let c = Cluster::new("sigign");
    c.write("app.yaml", &sleeper(&instance("s", "s")));
    // as `lcc up -d &` from a script: a background job of a non-interactive shell
    let up = c.command(&["up", "-d", "--wait"]);
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "trap '' INT QUIT; exec \"$@\"", "sh"])
        .arg(up.get_program())
        .args(up.get_args());
    for (k, v) in up.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = run_with_deadline(cmd, Duration::from_secs(90));
    assert_eq!(out.code, Some(0), "{}", out.err());
    let daemon = c.daemon_pid().expect("daemon");
    let app = c.pid("s").expect("app pid") as i32;
    // bits for SIGINT (2) and SIGQUIT (3)
    assert_eq!(ignored_signals(app) & 0b110, 0, "the app's SigIgn");
    // and QUIT, which it handles now, stops the daemon and its pods as TERM does
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGQUIT,
    )
    .expect("kill -QUIT");
    assert!(
        wait_until(Duration::from_secs(30), || !alive(daemon) && !alive(app)),
        "{}",
        c.dump()
    );
}
