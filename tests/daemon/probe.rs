//! Probes: an exec probe runs through the pod (`./pod readiness`); Ready follows it, and
//! a live instance that fails `failureThreshold` probes in a row is restarted. Without
//! a probe, Ready comes after 1 s up, and then nothing is due: the daemon sleeps. Steady
//! HTTP probes judge the answer's status and time out on silence.

use crate::support::*;
use std::time::Duration;

#[test]
fn failing_probes_make_unready_then_restart() {
    let c = Cluster::new("probe");
    let app = "kind: Application\nname: p\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      shell: \"touch healthy; exec sleep 300\"\nprobe:\n  exec: [test, -f, healthy]\n  period: 200ms\n  timeout: 2s\n  failureThreshold: 2\nrestart: {policy: always, maxRetries: 5, backoff: {initial: 100ms, max: 400ms}}\nstop: {signal: TERM, timeout: 2s}\n";
    c.write("app.yaml", &format!("{app}---\n{}", instance("p", "p")));
    c.up();
    assert!(c.ready("p"));
    let pid = c.pid("p").unwrap();
    std::fs::remove_file(c.pod("p").join("run/healthy")).unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || !c
            .events_of("instance/p", "Unhealthy")
            .is_empty()),
        "{}",
        c.dump()
    );
    assert!(!c.events_of("instance/p", "NotReady").is_empty());
    // The new run creates the file again and becomes Ready.
    assert!(
        wait_until(Duration::from_secs(20), || c
            .pid("p")
            .is_some_and(|p| p != pid)
            && c.ready("p")),
        "{}",
        c.dump()
    );
    assert!(!alive(pid as i32), "the unhealthy run was stopped");
    assert_eq!(c.status("p").unwrap()["restarts"], 1);
}

/// An HTTP app whose answer the test steers with files in its `run/`: 503 without
/// `healthy`, none at all with `hang`. Each run starts healthy.
const STEERED: &str = r#"
import http.server, os, sys, time
for f in ("hang",):
    if os.path.exists(f):
        os.remove(f)
open("healthy", "w").close()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        while os.path.exists("hang"):
            time.sleep(0.05)
        self.send_response(200 if os.path.exists("healthy") else 503)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;

/// Steady HTTP probes (sent by the daemon's loop and read at a later wake-up): a 503
/// and an app that stops answering (read late, then waited for until the timeout) both
/// count as failures, each named in the event that restarts the instance.
#[test]
fn steady_http_probes_see_bad_answers_and_silence() {
    let c = Cluster::new("steady");
    let script = c.path().join("steered.py");
    std::fs::write(&script, STEERED).unwrap();
    let app = format!(
        "kind: Application\nname: h\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [python3, {script:?}, \"${{LCC_PORT_HTTP}}\"]\ninterfaces:\n  - {{name: http, protocol: http}}\nprobe:\n  http: {{interface: http, path: /}}\n  period: 300ms\n  timeout: 500ms\n  failureThreshold: 2\nrestart: {{policy: always, maxRetries: 5, backoff: {{initial: 100ms, max: 400ms}}}}\nstop: {{signal: TERM, timeout: 2s}}\n",
        script = script.display().to_string()
    );
    c.write("app.yaml", &format!("{app}---\n{}", instance("h", "h")));
    c.up();
    let unhealthy = |needle: &str| {
        c.events_of("instance/h", "Unhealthy")
            .iter()
            .any(|e| e["message"].as_str().unwrap_or("").contains(needle))
    };
    // Ready once: past the startup window, so misses restart.
    let ready_again = |old: i64| {
        wait_until(Duration::from_secs(30), || {
            c.pid("h").is_some_and(|p| p != old) && c.ready("h")
        })
    };
    let pid = c.pid("h").unwrap();
    std::fs::remove_file(c.pod("h").join("run/healthy")).unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || unhealthy("status 503")),
        "{}",
        c.dump()
    );
    assert!(ready_again(pid), "{}", c.dump());
    let pid = c.pid("h").unwrap();
    std::fs::write(c.pod("h").join("run/hang"), "").unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || unhealthy(
            "no answer within 500ms"
        )),
        "{}",
        c.dump()
    );
    assert!(ready_again(pid), "{}", c.dump());
}

/// How many of `looks` at every thread of `pid` found one running or runnable (state
/// `R` in `/proc/PID/task/TID/stat`). An idle daemon's threads sleep (`S`) between its
/// rare wake-ups; a loop that keeps finding work due is `R` at nearly every look, also
/// on a busy machine, where it waits for a core as `R` too. The looks are 10 ms apart,
/// so one wake-up that a loaded machine stretches covers a few of them, not most.
fn running_looks(pid: i32, looks: usize) -> usize {
    let running = || {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks");
        tasks.flatten().any(|task| {
            std::fs::read_to_string(task.path().join("stat"))
                .ok()
                .and_then(|stat| Some(stat.rsplit_once(')')?.1.trim_start().starts_with('R')))
                .unwrap_or(false)
        })
    };
    (0..looks)
        .filter(|_| {
            let seen = running();
            std::thread::sleep(Duration::from_millis(10));
            seen
        })
        .count()
}

#[test]
fn a_ready_instance_without_a_probe_leaves_the_daemon_asleep() {
    let c = Cluster::new("noprobe");
    c.write("app.yaml", &sleeper(&group("s", "s", 2)));
    c.up();
    let members = c.current_members("s");
    assert!(
        wait_until(Duration::from_secs(20), || members
            .iter()
            .all(|m| c.ready(m))),
        "{}",
        c.dump()
    );
    // Once Ready nothing is due until an event: the daemon sleeps. A pass that kept
    // finding the instance due spun the loop at a whole core.
    let daemon = c.daemon_pid().expect("daemon pid");
    let running = running_looks(daemon, 200);
    assert!(
        running < 100,
        "the idle daemon was running at {running} of 200 looks"
    );
}
