//! Shared helpers of the daemon end-to-end tests: a cluster in a temp dir driven by the
//! real `lcc` binary, polling with deadlines, and a guard that leaves no process behind.

#![allow(dead_code)]

#[path = "../common/mod.rs"]
mod common;

#[allow(unused_imports)] // each test crate uses its own subset
pub use common::{alive, free_port, lcc_bin, text, wait_until};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A cluster directory with its own daemon; `lcc down` and a kill sweep on drop.
pub struct Cluster {
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// A new cluster whose `cluster.yaml` uses the ports `lo..=lo+99`.
    pub fn new(name: &str, lo: u16) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Cluster { dir };
        c.write(
            "cluster.yaml",
            &format!("kind: Cluster\nname: {name}\nhostPorts: {lo}-{}\n", lo + 99),
        );
        c
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a manifest file atomically (rename), as editors and tools do.
    pub fn write(&self, file: &str, yaml: &str) {
        let tmp = self.path().join(format!(".{file}.tmp"));
        std::fs::write(&tmp, yaml).expect("write manifest");
        std::fs::rename(&tmp, self.path().join(file)).expect("rename manifest");
    }

    /// Runs `lcc -C DIR ARGS` to completion.
    pub fn lcc(&self, args: &[&str]) -> Output {
        Command::new(lcc_bin())
            .arg("-C")
            .arg(self.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env("LCC_WAIT_TIMEOUT", "60")
            .env("LCC_DOWN_TIMEOUT", "30")
            .output()
            .expect("run lcc")
    }

    /// `lcc up -d --wait`, asserting success.
    pub fn up(&self) {
        let out = self.lcc(&["up", "-d", "--wait"]);
        assert!(
            out.status.success(),
            "lcc up failed: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }

    pub fn pod(&self, instance: &str) -> PathBuf {
        self.path().join(".lcc/pods").join(instance)
    }

    /// The status file of an instance, if readable.
    pub fn status(&self, instance: &str) -> Option<Value> {
        let bytes = std::fs::read(self.path().join(format!(".lcc/status/{instance}.json"))).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Every status file.
    pub fn statuses(&self) -> Vec<Value> {
        common::json_files(&self.path().join(".lcc/status"))
    }

    /// Names of the instances of `group` whose pod still exists, sorted.
    pub fn members(&self, group: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .statuses()
            .into_iter()
            .filter(|s| s["group"].as_str() == Some(group) && s["desired"] != "removed")
            .filter_map(|s| s["instance"].as_str().map(String::from))
            .collect();
        v.sort();
        v
    }

    pub fn ready(&self, instance: &str) -> bool {
        self.status(instance).is_some_and(|s| s["ready"] == true)
    }

    pub fn pid(&self, instance: &str) -> Option<i64> {
        self.status(instance)?["pid"].as_i64()
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Value> {
        let text =
            std::fs::read_to_string(self.path().join(".lcc/events.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Events of `object` with `reason`.
    pub fn events_of(&self, object: &str, reason: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["object"] == object && e["reason"] == reason)
            .collect()
    }

    /// Whether some event has `reason` and a message containing `needle`.
    pub fn has_event(&self, reason: &str, needle: &str) -> bool {
        self.events().iter().any(|e| {
            e["reason"] == reason && e["message"].as_str().is_some_and(|m| m.contains(needle))
        })
    }

    /// The daemon's pid, from `daemon.pid`.
    pub fn daemon_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.path().join(".lcc/daemon.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Every pid the cluster ever recorded: pods' runs, the daemon, the proxy.
    pub fn all_pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .statuses()
            .iter()
            .flat_map(|s| s["pids"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| p.as_i64().map(|p| p as i32))
            .collect();
        pids.extend(self.daemon_pid());
        pids
    }

    /// Dumps the event log (for assertion messages).
    pub fn dump(&self) -> String {
        std::fs::read_to_string(self.path().join(".lcc/events.jsonl")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let pids = self.all_pids();
        let _ = self.lcc(&["down"]);
        for pid in pids.into_iter().filter(|p| alive(*p)) {
            let _ = Command::new("kill")
                .args(["-9", "--", &format!("-{pid}")])
                .output();
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).output();
        }
    }
}

/// A local app that listens with python's http.server, probed over HTTP.
pub fn http_app(name: &str, extra: &str) -> String {
    format!(
        "kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [python3, -m, http.server, \"${{LCC_PORT_HTTP}}\", --bind, 127.0.0.1]\n{extra}interfaces:\n  - {{name: http, protocol: http}}\nprobe:\n  http: {{interface: http, path: /}}\n  period: 200ms\n  timeout: 1s\n  failureThreshold: 3\nrestart: {{policy: always, maxRetries: 5, backoff: {{initial: 100ms, max: 400ms}}}}\nstop: {{signal: TERM, timeout: 2s}}\n"
    )
}

/// A local app running a shell script, with fast restarts and no probe.
pub fn shell_app(name: &str, script: &str, max_retries: u32) -> String {
    format!(
        "kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      shell: {script:?}\nrestart: {{policy: always, maxRetries: {max_retries}, backoff: {{initial: 100ms, max: 400ms}}}}\nstop: {{signal: TERM, timeout: 2s}}\n"
    )
}

/// App `s` sleeping 300 s, plus `owner` (an Instance or InstanceGroup of it).
pub fn sleeper(owner: &str) -> String {
    format!("{}---\n{owner}", shell_app("s", "exec sleep 300", 5))
}

/// An InstanceGroup.
pub fn group(name: &str, app: &str, replicas: u32) -> String {
    format!("kind: InstanceGroup\nname: {name}\napp: {app}\nreplicas: {replicas}\n")
}

/// An Instance.
pub fn instance(name: &str, app: &str) -> String {
    format!("kind: Instance\nname: {name}\napp: {app}\n")
}
