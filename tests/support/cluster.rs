//! The one cluster builder: a cluster directory in a temp dir on its own block of ports,
//! driven by the real `lcc`, read through its state files, and cleaned up on drop even
//! when the test fails.

use super::manifest::{gateway, group, http_app_under_faults};
use super::ports::{self, PortBlock};
use super::process::{kill9, kill_group, procs, run_with_deadline, start_time, Bounded, Proc};
use super::sharing::Turn;
use super::{json_files, lcc_bin};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// Ports of a cluster's block: `hostPorts` (interfaces allocated at run time).
const HOST_PORTS: u16 = 40;
/// Ports of a cluster's block: gateways, after the host ports.
const GATEWAYS: u16 = 9;

/// A cluster in a tempdir driven by the real `lcc`, on a block of ports of its own
/// ([`ports::block`]): `hostPorts` are its first 40, then 9 for gateways, then the
/// entrance listener. It remembers every process it sees (daemon, proxy, pods); on drop
/// it runs `lcc down`, then SIGKILLs every one of them still running, their process
/// groups, and any process still working inside the cluster directory.
#[derive(Debug)]
pub struct Cluster {
    /// The cluster directory.
    pub dir: tempfile::TempDir,
    ports: PortBlock,
    /// pid -> its start time when seen (None: already gone then).
    seen: Mutex<BTreeMap<i32, Option<u64>>>,
    /// Its `XDG_RUNTIME_DIR`: the registry of running clusters its daemon joins (`lcc
    /// ls`), apart from the user's.
    runtime: PathBuf,
    _runtime_dir: tempfile::TempDir,
    /// Its test's turn on the machine, held until the cleanup is done.
    _turn: Turn,
}

impl Cluster {
    /// A cluster named `name` whose `cluster.yaml` sets its listener and host ports; it
    /// runs alongside the clusters of other tests.
    pub fn new(name: &str) -> Cluster {
        Cluster::with_turn(name, Turn::shared())
    }

    /// Like [`Cluster::new`], for a test that needs the machine to itself: waits until
    /// no other test's cluster or pod runs, and keeps new ones waiting until dropped.
    pub fn alone(name: &str) -> Cluster {
        Cluster::with_turn(name, Turn::alone())
    }

    fn with_turn(name: &str, turn: Turn) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime_dir = tempfile::tempdir().expect("tempdir");
        let c = Cluster {
            dir,
            ports: ports::block(),
            seen: Default::default(),
            runtime: runtime_dir.path().to_path_buf(),
            _runtime_dir: runtime_dir,
            _turn: turn,
        };
        c.write(
            "cluster.yaml",
            &format!(
                "kind: Cluster\nname: {name}\nhttp: {}\nhostPorts: {}\n",
                c.http(),
                c.host_ports()
            ),
        );
        c
    }

    /// Makes its daemon join `other`'s registry of running clusters (for `lcc ls`).
    pub fn share_registry(&mut self, other: &Cluster) {
        self.runtime = other.runtime.clone();
    }

    /// The cluster directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The entrance listener.
    pub fn http(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.port(HOST_PORTS + GATEWAYS)))
    }

    /// The `i`-th gateway port (0-based, up to 8).
    pub fn gateway_port(&self, i: u16) -> u16 {
        assert!(i < GATEWAYS, "gateway port {i} of {GATEWAYS}");
        self.ports.port(HOST_PORTS + i)
    }

    /// The `hostPorts` range, `LO-HI`.
    pub fn host_ports(&self) -> String {
        format!("{}-{}", self.ports.port(0), self.ports.port(HOST_PORTS - 1))
    }

    /// Writes a manifest atomically (temp file + rename), as editors and tools do.
    pub fn write(&self, file: &str, yaml: &str) {
        let tmp = self.path().join(format!(".{file}.tmp"));
        std::fs::write(&tmp, yaml).expect("write manifest");
        std::fs::rename(&tmp, self.path().join(file)).expect("rename manifest");
    }

    /// Adds `https: {listen: 127.0.0.1:PORT}` to the Cluster document, on the block's
    /// port 1; returns the port.
    pub fn enable_https(&self) -> u16 {
        let https = self.gateway_port(1);
        let cluster = std::fs::read_to_string(self.path().join("cluster.yaml")).expect("read");
        self.write(
            "cluster.yaml",
            &format!("{cluster}https: {{listen: 127.0.0.1:{https}}}\n"),
        );
        https
    }

    /// Writes `app.yaml`: group `web` of `replicas` http apps behind gateway 0; returns
    /// the gateway's address.
    pub fn write_web_group(&self, replicas: u32) -> SocketAddr {
        self.write_group_of(&http_app_under_faults("web", ""), replicas)
    }

    /// Writes `app.yaml`: the Application `app` (named `web`, with an `http` interface),
    /// group `web` of `replicas` of it behind gateway 0; returns the gateway's address.
    pub fn write_group_of(&self, app: &str, replicas: u32) -> SocketAddr {
        let port = self.gateway_port(0);
        self.write(
            "app.yaml",
            &format!(
                "{app}---\n{}---\n{}",
                group("web", "web", replicas),
                gateway("web", "web", port)
            ),
        );
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Runs `lcc -C DIR ARGS` with a deadline, then records the processes it shows.
    pub fn lcc(&self, args: &[&str]) -> Bounded {
        self.lcc_with(args, &[])
    }

    /// Its `XDG_DATA_HOME`, where its daemon makes the local CA for https, apart from
    /// the user's.
    pub fn data_home(&self) -> PathBuf {
        self.runtime.join("data")
    }

    /// The certificate of the local CA its daemon makes for https (`lcc cert ca`).
    pub fn local_ca(&self) -> PathBuf {
        self.data_home().join("lcc/ca/ca.pem")
    }

    /// [`Cluster::lcc`] with more environment variables (a daemon started by it
    /// inherits them, e.g. `LCC_PROXY_BIN`).
    pub fn lcc_with(&self, args: &[&str], env: &[(&str, &str)]) -> Bounded {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        let out = run_with_deadline(cmd, Duration::from_secs(150));
        self.observe();
        out
    }

    /// The command `lcc -C DIR ARGS` in this cluster's environment (its registry), to
    /// run as the test needs (`lcc dashboard` runs until killed).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(lcc_bin());
        cmd.arg("-C")
            .arg(self.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env("XDG_RUNTIME_DIR", &self.runtime)
            // the local CA of a cluster with https, apart from the user's
            .env("XDG_DATA_HOME", self.data_home())
            .env("LCC_UP_TIMEOUT", "60")
            .env("LCC_WAIT_TIMEOUT", "60")
            .env("LCC_DOWN_TIMEOUT", "30");
        cmd
    }

    /// `lcc up -d --wait`, asserting success; returns the time it took.
    pub fn up(&self) -> Duration {
        let out = self.lcc(&["up", "-d", "--wait"]);
        assert_eq!(
            out.code,
            Some(0),
            "lcc up failed: {}{}\n{}",
            out.out(),
            out.err(),
            self.dump()
        );
        out.took
    }

    /// The state dir `.lcc`.
    pub fn state(&self) -> PathBuf {
        self.path().join(".lcc")
    }

    /// The pod directory of an instance.
    pub fn pod(&self, instance: &str) -> PathBuf {
        self.state().join("pods").join(instance)
    }

    /// An instance's status, if its file parses.
    pub fn status(&self, instance: &str) -> Option<Value> {
        let bytes = std::fs::read(self.state().join(format!("status/{instance}.json"))).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Every status file that parses.
    pub fn statuses(&self) -> Vec<Value> {
        json_files(&self.state().join("status"))
    }

    /// Names of the instances of `group` that have a status file (including one being
    /// removed), sorted.
    pub fn members(&self, group: &str) -> Vec<String> {
        self.members_where(group, |_| true)
    }

    /// Names of the instances of `group` that have a status file and are not being
    /// removed (desired state other than `removed`), sorted.
    pub fn current_members(&self, group: &str) -> Vec<String> {
        self.members_where(group, |s| s["desired"] != "removed")
    }

    fn members_where(&self, group: &str, keep: impl Fn(&Value) -> bool) -> Vec<String> {
        let mut v: Vec<String> = self
            .statuses()
            .into_iter()
            .filter(|s| s["group"].as_str() == Some(group) && keep(s))
            .filter_map(|s| s["instance"].as_str().map(String::from))
            .collect();
        v.sort();
        v
    }

    /// Whether an instance is Ready.
    pub fn ready(&self, instance: &str) -> bool {
        self.status(instance).is_some_and(|s| s["ready"] == true)
    }

    /// The pid of an instance's current run.
    pub fn pid(&self, instance: &str) -> Option<i64> {
        self.status(instance)?["pid"].as_i64()
    }

    /// `(pid, start time)` of an instance's current run.
    pub fn run_id(&self, instance: &str) -> Option<(i64, u64)> {
        let s = self.status(instance)?;
        Some((s["pid"].as_i64()?, s["pid_start"].as_u64()?))
    }

    /// An instance's port of `iface`.
    pub fn port(&self, instance: &str, iface: &str) -> Option<u16> {
        self.status(instance)?["ports"][iface]
            .as_u64()
            .map(|p| p as u16)
    }

    /// Every event that parses.
    pub fn events(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.state().join("events.jsonl")).unwrap_or_default();
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

    /// Events with this reason (any object).
    pub fn events_with(&self, reason: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["reason"] == reason)
            .collect()
    }

    /// Whether some event has `reason` and a message containing `needle`.
    pub fn has_event(&self, reason: &str, needle: &str) -> bool {
        self.events().iter().any(|e| {
            e["reason"] == reason && e["message"].as_str().is_some_and(|m| m.contains(needle))
        })
    }

    /// Every way `events.jsonl` and the status files fail to parse (empty: all parse).
    pub fn unparsable(&self) -> Vec<String> {
        let mut bad = Vec::new();
        let text = std::fs::read_to_string(self.state().join("events.jsonl")).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            if serde_json::from_str::<Value>(line).is_err() {
                bad.push(format!("events.jsonl line {}: {line:?}", i + 1));
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.state().join("status")) {
            for e in rd
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            {
                let bytes = std::fs::read(e.path()).unwrap_or_default();
                if serde_json::from_slice::<Value>(&bytes).is_err() {
                    bad.push(format!(
                        "{}: {:?}",
                        e.path().display(),
                        String::from_utf8_lossy(&bytes)
                    ));
                }
            }
        }
        bad
    }

    /// The daemon's pid, from `daemon.pid`.
    pub fn daemon_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.state().join("daemon.pid")).ok()?;
        text.split_whitespace().next()?.parse().ok()
    }

    /// The proxy's pid, from `proxy.pid`.
    pub fn proxy_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.state().join("proxy.pid")).ok()?;
        text.split_whitespace().next()?.parse().ok()
    }

    /// Every backend listed in `.lcc/proxy.conf` (None if it is missing or does not
    /// parse).
    pub fn proxy_backends(&self) -> Option<Vec<String>> {
        let text = std::fs::read_to_string(self.state().join("proxy.conf")).ok()?;
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
        let gateways = doc.get("gateways")?.as_sequence()?;
        Some(
            gateways
                .iter()
                .filter_map(|g| g.get("backends")?.as_sequence().cloned())
                .flatten()
                .filter_map(|b| b.as_str().map(String::from))
                .collect(),
        )
    }

    /// Every pid the cluster ever recorded: pods' runs (their status histories) and the
    /// daemon.
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

    /// Live processes working inside this cluster with `LCC_INSTANCE=instance`.
    pub fn procs_of(&self, instance: &str) -> Vec<Proc> {
        let root = self.root();
        procs()
            .into_iter()
            .filter(|p| p.var("LCC_INSTANCE") == Some(instance) && p.cwd.starts_with(&root))
            .collect()
    }

    /// Live processes whose working directory is inside the cluster directory.
    pub fn procs_inside(&self) -> Vec<Proc> {
        let root = self.root();
        procs()
            .into_iter()
            .filter(|p| p.cwd.starts_with(&root))
            .collect()
    }

    /// The cluster directory, symlinks resolved (as /proc shows working directories).
    fn root(&self) -> PathBuf {
        std::fs::canonicalize(self.path()).unwrap_or_else(|_| self.path().to_path_buf())
    }

    /// Records every process the cluster shows now: daemon, proxy, pods, status
    /// histories; each with its start time, so that a pid the kernel has since given to
    /// another process (pids wrap at `pid_max`) is not taken for ours.
    pub fn observe(&self) {
        let mut pids: Vec<i32> = self
            .daemon_pid()
            .into_iter()
            .chain(self.proxy_pid())
            .collect();
        for s in self.statuses() {
            pids.extend(s["pid"].as_i64().map(|p| p as i32));
            if let Some(all) = s["pids"].as_array() {
                pids.extend(all.iter().filter_map(|p| p.as_i64()).map(|p| p as i32));
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.state().join("pods")) {
            for e in rd.flatten() {
                let text = std::fs::read_to_string(e.path().join(".pod/pid")).unwrap_or_default();
                pids.extend(
                    text.split_whitespace()
                        .next()
                        .and_then(|p| p.parse::<i32>().ok()),
                );
            }
        }
        if let Ok(mut seen) = self.seen.lock() {
            for pid in pids.into_iter().filter(|&p| p > 1) {
                let now = start_time(pid);
                let known = seen.entry(pid).or_insert(now);
                if known.is_none() {
                    *known = now;
                }
            }
        }
    }

    /// The end of the event log, for assertion messages.
    pub fn dump(&self) -> String {
        let text = std::fs::read_to_string(self.state().join("events.jsonl")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(100)..].join("\n")
    }

    /// Whether `p` is one of this cluster's processes: it works inside the cluster
    /// directory, or it is (or is in the process group of) a process seen before.
    fn owns(&self, p: &Proc, seen: &BTreeMap<i32, Option<u64>>, root: &Path) -> bool {
        if p.cwd.starts_with(root) || seen.get(&p.pid) == Some(&Some(p.start)) {
            return true;
        }
        // A pid stays taken while a process group of that number lives: the group of a
        // leader we saw is ours if its leader is that same process, or gone.
        match seen.get(&p.pgid) {
            Some(Some(t)) => start_time(p.pgid).is_none_or(|now| now == *t),
            Some(None) => start_time(p.pgid).is_none(),
            None => false,
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.observe();
        let _ = self.lcc(&["down"]);
        let seen = self
            .seen
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone());
        let root = self.root();
        let me = std::process::id() as i32;
        for p in procs() {
            if p.pid != me && self.owns(&p, &seen, &root) {
                kill_group("CONT", p.pgid);
                kill9(p.pid);
            }
        }
    }
}
