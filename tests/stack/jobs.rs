//! Jobs: a `restart: {policy: never}` instance that exits 0 is Completed (what
//! `condition: completed` waits for), kept across a daemon restart; one that fails is
//! Exited and `lcc up --wait` says so; a `schedule:` runs an instance at each of its
//! times, never twice at once, each run's end in the events.

use crate::support::{kill9, wait_until, Cluster};
use std::time::Duration;

/// A one-shot job running `script`, with `extra` lines (its Instance's fields).
fn job(name: &str, script: &str, extra: &str) -> String {
    format!("kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      shell: {script:?}\nrestart: {{policy: never}}\nstop: {{signal: KILL, timeout: 1s}}\n---\nkind: Instance\nname: {name}\napp: {name}\n{extra}")
}

/// A sleeper that depends on `on` completing.
fn after(name: &str, on: &str) -> String {
    format!("kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [sleep, \"300\"]\nstop: {{signal: KILL, timeout: 1s}}\n---\nkind: Instance\nname: {name}\napp: {name}\ndependsOn: [{{target: {on}, condition: completed}}]\n")
}

fn phase(c: &Cluster, instance: &str) -> String {
    c.status(instance)
        .and_then(|s| s["phase"].as_str().map(str::to_string))
        .unwrap_or_default()
}

#[test]
fn a_completed_job_lets_its_dependant_start_and_stays_completed() {
    let c = Cluster::new("jobs");
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            job("prepare", "sleep 0.3; echo prepared > done.txt", ""),
            after("notes", "prepare")
        ),
    );
    let out = c.lcc(&["up", "-d", "--wait"]);
    assert_eq!(out.code, Some(0), "{}{}", out.out(), out.err());
    assert_eq!(phase(&c, "prepare"), "Completed");
    assert!(c.ready("notes"), "{}", c.dump());
    let completed = c.events_of("instance/prepare", "Completed");
    let started = c.events_of("instance/notes", "Started");
    assert_eq!(completed[0]["message"], "exited with code 0: completed");
    assert!(started[0]["time"].as_f64() >= completed[0]["time"].as_f64());
    // A new daemon keeps it Completed: no second run.
    kill9(c.daemon_pid().expect("daemon pid"));
    let out = c.lcc(&["up", "-d", "--wait"]);
    assert_eq!(out.code, Some(0), "{}{}", out.out(), out.err());
    assert_eq!(phase(&c, "prepare"), "Completed");
    assert_eq!(c.events_of("instance/prepare", "Started").len(), 1);
}

#[test]
fn a_failed_job_is_exited_and_its_dependant_keeps_waiting() {
    let c = Cluster::new("jobs-fail");
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            job("migrate", "exit 3", ""),
            after("web", "migrate")
        ),
    );
    let out = c.lcc(&["up", "-d", "--wait"]);
    assert_eq!(out.code, Some(1), "{}{}", out.out(), out.err());
    assert!(
        out.err().contains("  migrate Exited (last exit code 3)\n"),
        "{}",
        out.err()
    );
    assert_eq!(phase(&c, "migrate"), "Exited");
    assert_eq!(c.status("migrate").expect("status")["exit_code"], 3);
    assert_eq!(phase(&c, "web"), "Waiting");
    assert_eq!(
        c.status("web").expect("status")["waiting_on"][0],
        "migrate: completed"
    );
}

#[test]
fn a_schedule_runs_the_job_at_each_time_never_twice_at_once() {
    let c = Cluster::new("jobs-schedule");
    c.write(
        "app.yaml",
        &format!(
            "{}---\n{}",
            job(
                "tick",
                "echo ran >> runs.txt",
                "schedule: \"* * * * * *\"\n"
            ),
            job("slow", "sleep 2.5", "schedule: \"* * * * * *\"\n"),
        ),
    );
    let out = c.lcc(&["up", "-d", "--wait"]);
    assert_eq!(out.code, Some(0), "{}{}", out.out(), out.err());
    // Every second a run; each ends Completed, in the events.
    let twice = wait_until(Duration::from_secs(20), || {
        c.events_of("instance/tick", "Completed").len() >= 2
    });
    assert!(twice, "{}", c.dump());
    let runs = std::fs::read_to_string(c.pod("tick").join("run/runs.txt")).unwrap_or_default();
    assert!(runs.lines().count() >= 2, "{runs:?}");
    assert!(c.has_event("Scheduled", "run due (* * * * * *)"));
    // The slow one is still running at its next times: those are skipped.
    let skipped = wait_until(Duration::from_secs(20), || {
        c.events_of("instance/slow", "Scheduled").iter().any(|e| {
            e["message"] == "run skipped (* * * * * *): the previous run is still under way"
        })
    });
    assert!(skipped, "{}", c.dump());
    let starts = c.events_of("instance/slow", "Started");
    let ends = c.events_of("instance/slow", "Exited");
    // Never two at once: each start comes after the end of the run before it.
    for (i, start) in starts.iter().enumerate().skip(1) {
        let end = ends.get(i - 1).expect("the previous run ended");
        assert!(
            start["time"].as_f64() >= end["time"].as_f64(),
            "{}",
            c.dump()
        );
    }
}
