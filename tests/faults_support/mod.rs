//! Shared helpers of the fault-injection suite (tests/faults_*.rs): running the real
//! binaries with a deadline and a memory cap, raw HTTP over std sockets, and bounded waits.

#![allow(dead_code)]

#[path = "../common/mod.rs"]
mod common;

#[allow(unused_imports)] // each test crate uses its own subset
pub use common::{alive, free_port, lcc_bin, wait_until, KillOnDrop};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `lcc-proxy` binary, built next to `lcc` by `cargo build --workspace`.
pub fn proxy_bin() -> PathBuf {
    lcc_bin().with_file_name("lcc-proxy")
}

/// What a bounded run of a command gave.
#[derive(Debug)]
pub struct Bounded {
    /// Exit code; None when killed by a signal (or by the deadline).
    pub code: Option<i32>,
    /// Whether the deadline killed it.
    pub timed_out: bool,
    /// Captured stdout.
    pub stdout: Vec<u8>,
    /// Captured stderr.
    pub stderr: Vec<u8>,
    /// Wall time taken.
    pub took: Duration,
}

impl Bounded {
    /// Stderr as text.
    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Stdout as text.
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `lcc ARGS` in `cwd` under a virtual-memory cap (`ulimit -v`, KiB) and a wall
/// deadline, so that a runaway input cannot take the machine or the suite with it.
pub fn lcc_bounded(cwd: &Path, args: &[&str], mem_kib: u64, deadline: Duration) -> Bounded {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {mem_kib}; exec \"$0\" \"$@\""))
        .arg(lcc_bin())
        .args(args)
        .current_dir(cwd);
    run_with_deadline(cmd, deadline)
}

/// Spawns `cmd` with piped output and kills it if it outlives `deadline`.
pub fn run_with_deadline(mut cmd: Command, deadline: Duration) -> Bounded {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out_reader = drain(child.stdout.take());
    let err_reader = drain(child.stderr.take());
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if start.elapsed() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Bounded {
        code: status.code(),
        timed_out,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
        took: start.elapsed(),
    }
}

/// Reads a pipe to its end on a thread.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}

/// Runs `lcc ARGS` in `cwd` and waits (for quick commands).
pub fn lcc(cwd: &Path, args: &[&str]) -> Output {
    Command::new(lcc_bin())
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run lcc")
}

/// Every file under `dir`, relative, sorted (to prove that nothing was written).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        out.push(rel);
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir {
            walk(root, &path, out);
        }
    }
}

/// Sends raw `bytes` to `addr` and reads what comes back until EOF, `read_timeout`
/// of silence, or 1 MiB; returns the bytes and whether the peer closed.
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8], read_timeout: Duration) -> (Vec<u8>, bool) {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return (Vec::new(), true);
    };
    let _ = stream.set_read_timeout(Some(read_timeout));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    // A server may cut us off mid-write: that is an allowed answer.
    let _ = stream.write_all(bytes);
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() > (1 << 20) {
                    break false;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (got, closed)
}

/// The status code of the first HTTP response in `bytes`, if any.
pub fn status_of(bytes: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next()?;
    let mut parts = line.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// `GET path` with `Connection: close`: the status and body, or None if no answer.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, Vec<u8>)> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let (bytes, _) = raw_exchange(addr, req.as_bytes(), Duration::from_secs(3));
    let status = status_of(&bytes)?;
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((status, bytes[split + 4..].to_vec()))
}

/// A deterministic xorshift RNG, so that fault moments repeat from run to run.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A number in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// Field `n` (1-based) of `/proc/PID/stat`.
pub fn stat_field(pid: i32, n: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit(')').next()?;
    rest.split_whitespace().nth(n - 3)?.parse().ok()
}

/// A live process seen in /proc.
#[derive(Debug, Clone)]
pub struct Proc {
    /// Its pid.
    pub pid: i32,
    /// Its process group.
    pub pgid: i32,
    /// Its environment.
    pub env: Vec<(String, String)>,
    /// Its working directory.
    pub cwd: PathBuf,
}

impl Proc {
    /// The value of an environment variable.
    pub fn var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every live, non-zombie process we may read.
pub fn procs() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| alive(pid))
        .filter_map(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            let env = raw
                .split(|&b| b == 0)
                .filter_map(|kv| {
                    let kv = String::from_utf8_lossy(kv);
                    let (k, v) = kv.split_once('=')?;
                    Some((k.to_string(), v.to_string()))
                })
                .collect();
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
            let pgid = stat_field(pid, 5)? as i32;
            Some(Proc {
                pid,
                pgid,
                env,
                cwd,
            })
        })
        .collect()
}

/// A cluster in a tempdir driven by the real `lcc`. It remembers every pid it sees
/// (daemon, proxy, pods); on drop it runs `lcc down`, then SIGKILLs every one of them,
/// their groups, and any process still working inside the cluster directory.
#[derive(Debug)]
pub struct Cluster {
    /// The cluster directory.
    pub dir: tempfile::TempDir,
    /// First port of this cluster's block of 100: hostPorts lo..lo+79,
    /// gateways lo+80..lo+98, the http listener lo+99.
    pub lo: u16,
    seen: std::sync::Mutex<std::collections::BTreeSet<i32>>,
}

impl Cluster {
    /// A cluster named `name` on the port block starting at `lo`.
    pub fn new(name: &str, lo: u16) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Cluster {
            dir,
            lo,
            seen: Default::default(),
        };
        c.write(
            "cluster.yaml",
            &format!(
                "kind: Cluster\nname: {name}\nhttp: 127.0.0.1:{}\nhostPorts: {lo}-{}\n",
                lo + 99,
                lo + 79
            ),
        );
        c
    }

    /// The cluster directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The entrance listener.
    pub fn http(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.lo + 99))
    }

    /// The `i`-th gateway port (0-based).
    pub fn gateway_port(&self, i: u16) -> u16 {
        self.lo + 80 + i
    }

    /// Writes a manifest atomically (temp file + rename).
    pub fn write(&self, file: &str, yaml: &str) {
        let tmp = self.path().join(format!(".{file}.tmp"));
        std::fs::write(&tmp, yaml).expect("write manifest");
        std::fs::rename(&tmp, self.path().join(file)).expect("rename manifest");
    }

    /// Writes `app.yaml`: group `web` of `replicas` http apps behind gateway 0; returns
    /// the gateway's address.
    pub fn write_web_group(&self, replicas: u32) -> SocketAddr {
        let port = self.gateway_port(0);
        self.write(
            "app.yaml",
            &format!(
                "{}---\n{}---\n{}",
                http_app("web", ""),
                group("web", "web", replicas),
                gateway("web", "web", port)
            ),
        );
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Runs `lcc -C DIR ARGS` with a deadline.
    pub fn lcc(&self, args: &[&str]) -> Bounded {
        let mut cmd = Command::new(lcc_bin());
        cmd.arg("-C")
            .arg(self.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env("LCC_UP_TIMEOUT", "30")
            .env("LCC_WAIT_TIMEOUT", "30")
            .env("LCC_DOWN_TIMEOUT", "20");
        let out = run_with_deadline(cmd, Duration::from_secs(60));
        self.observe();
        out
    }

    /// `lcc up -d --wait`, asserting success.
    pub fn up(&self) -> Duration {
        let out = self.lcc(&["up", "-d", "--wait"]);
        assert_eq!(out.code, Some(0), "lcc up: {}\n{}", out.err(), self.dump());
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
    pub fn status(&self, instance: &str) -> Option<serde_json::Value> {
        let bytes = std::fs::read(self.state().join(format!("status/{instance}.json"))).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Every status file that parses.
    pub fn statuses(&self) -> Vec<serde_json::Value> {
        common::json_files(&self.state().join("status"))
    }

    /// Names of the instances of `group` (status files present), sorted.
    pub fn members(&self, group: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .statuses()
            .into_iter()
            .filter(|s| s["group"].as_str() == Some(group))
            .filter_map(|s| s["instance"].as_str().map(String::from))
            .collect();
        v.sort();
        v
    }

    /// Whether an instance is Ready.
    pub fn ready(&self, instance: &str) -> bool {
        self.status(instance).is_some_and(|s| s["ready"] == true)
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
    pub fn events(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.state().join("events.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Events with this reason (any object).
    pub fn events_with(&self, reason: &str) -> Vec<serde_json::Value> {
        self.events()
            .into_iter()
            .filter(|e| e["reason"] == reason)
            .collect()
    }

    /// Every way `events.jsonl` and the status files fail to parse (empty: all parse).
    pub fn unparsable(&self) -> Vec<String> {
        let mut bad = Vec::new();
        let text = std::fs::read_to_string(self.state().join("events.jsonl")).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            if serde_json::from_str::<serde_json::Value>(line).is_err() {
                bad.push(format!("events.jsonl line {}: {line:?}", i + 1));
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.state().join("status")) {
            for e in rd
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            {
                let bytes = std::fs::read(e.path()).unwrap_or_default();
                if serde_json::from_slice::<serde_json::Value>(&bytes).is_err() {
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

    /// The daemon's pid.
    pub fn daemon_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.state().join("daemon.pid")).ok()?;
        text.split_whitespace().next()?.parse().ok()
    }

    /// The proxy's pid.
    pub fn proxy_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.state().join("proxy.pid")).ok()?;
        text.split_whitespace().next()?.parse().ok()
    }

    /// Live processes working inside this cluster with `LCC_INSTANCE=instance`.
    pub fn procs_of(&self, instance: &str) -> Vec<Proc> {
        let root = std::fs::canonicalize(self.path()).unwrap_or_else(|_| self.path().to_path_buf());
        procs()
            .into_iter()
            .filter(|p| p.var("LCC_INSTANCE") == Some(instance) && p.cwd.starts_with(&root))
            .collect()
    }

    /// Live processes whose working directory is inside the cluster directory.
    pub fn procs_inside(&self) -> Vec<Proc> {
        let root = std::fs::canonicalize(self.path()).unwrap_or_else(|_| self.path().to_path_buf());
        procs()
            .into_iter()
            .filter(|p| p.cwd.starts_with(&root))
            .collect()
    }

    /// Records every pid the cluster shows now: daemon, proxy, pods, status history.
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
            seen.extend(pids.into_iter().filter(|&p| p > 1));
        }
    }

    /// The event log, for assertion messages.
    pub fn dump(&self) -> String {
        let text = std::fs::read_to_string(self.state().join("events.jsonl")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

/// SIGKILL to a pid.
pub fn kill9(pid: i32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .output();
}

/// Sends `sig` (e.g. "STOP") to a process group.
pub fn kill_group(sig: &str, pgid: i32) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), "--", &format!("-{pgid}")])
        .output();
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.observe();
        let _ = self.lcc(&["down"]);
        let seen: Vec<i32> = self
            .seen
            .lock()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        let root = std::fs::canonicalize(self.path()).unwrap_or_else(|_| self.path().to_path_buf());
        for p in procs() {
            let ours = p.cwd.starts_with(&root) || seen.contains(&p.pid) || seen.contains(&p.pgid);
            if ours && p.pid != std::process::id() as i32 {
                kill_group("CONT", p.pgid);
                kill9(p.pid);
            }
        }
    }
}

/// The body of an HTTP app (python3 http.server) with a fast probe and fast restarts.
pub fn http_app(name: &str, env: &str) -> String {
    format!(
        "kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [python3, -m, http.server, \"${{LCC_PORT_HTTP}}\", --bind, 127.0.0.1]\n  env: {{{env}}}\ninterfaces:\n  - {{name: http, protocol: http}}\nprobe:\n  http: {{interface: http, path: /}}\n  period: 200ms\n  timeout: 500ms\n  failureThreshold: 3\nrestart: {{policy: always, maxRetries: 1000, backoff: {{initial: 100ms, max: 400ms}}}}\nstop: {{signal: TERM, timeout: 1s}}\n"
    )
}

/// An InstanceGroup.
pub fn group(name: &str, app: &str, replicas: u32) -> String {
    format!("kind: InstanceGroup\nname: {name}\napp: {app}\nreplicas: {replicas}\n")
}

/// A Gateway on `port` to `target`'s `http` interface, with an Entrance of the same name.
pub fn gateway(name: &str, target: &str, port: u16) -> String {
    format!("kind: Gateway\nname: {name}\nport: {port}\ntarget: {target}\ninterface: http\n---\nkind: Entrance\nname: {name}\ngateway: {name}\n")
}

/// Whether `pid` has exited completely: reaped, or a zombie whose other threads are
/// gone too (only then are its file descriptors, and so its flock, released).
pub fn gone(pid: i32) -> bool {
    if alive(pid) {
        return false;
    }
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(true, |d| d.count() <= 1)
}

/// Every backend listed in `.lcc/proxy.conf` (None if it is missing or does not parse).
pub fn proxy_backends(c: &Cluster) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(c.state().join("proxy.conf")).ok()?;
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
