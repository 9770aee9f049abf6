//! Helpers of the pod tests: PodSpec builders, a pod directory that runs its `pod` under
//! a chosen shell and cleans up after itself, and /proc scans.

pub use super::{lcc_bin, wait_until};
use lcc_compiler::podspec::{
    AppKind, Command, EnvVar, Interface, PodSpec, Probe, ProbeAction, Protocol, Restart,
    RestartPolicy, Stop,
};
use lcc_compiler::render::write_pod;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

/// Every pod test runs under both shells.
pub const SHELLS: [&str; 2] = ["dash", "bash"];

/// The real python3 executable (not a version manager's shim script, which would run
/// extra shells carrying the same argv).
pub fn python() -> String {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let out = std::process::Command::new("python3")
                .args(["-c", "import sys; print(sys.executable)"])
                .output()
                .expect("python3 is needed by the pod tests");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .clone()
}

/// A local app spec running `argv` on any OS and arch.
pub fn local(name: &str, argv: &[&str]) -> PodSpec {
    local_cmd(
        name,
        Command::Argv(argv.iter().map(|s| s.to_string()).collect()),
    )
}

/// A local app spec running `command` on every platform.
pub fn local_cmd(name: &str, command: Command) -> PodSpec {
    PodSpec {
        instance: name.to_string(),
        app: name.to_string(),
        group: None,
        kind: AppKind::Local,
        platforms: vec![lcc_compiler::podspec::Platform {
            os: std::env::consts::OS.to_string(),
            arch: vec![],
            run: command,
        }],
        env: vec![],
        interfaces: vec![],
        probe: None,
        restart: Restart {
            policy: RestartPolicy::Always,
            max_retries: 5,
            backoff_initial_ms: 1000,
            backoff_max_ms: 60_000,
        },
        stop: Stop {
            signal: "TERM".to_string(),
            timeout_ms: 5000,
        },
        storage: vec![],
        site: None,
        remote: None,
    }
}

/// An interface allocated at run time (or fixed).
pub fn iface(name: &str, port: Option<u16>) -> Interface {
    Interface {
        name: name.to_string(),
        protocol: Protocol::Http,
        port,
    }
}

/// One environment variable.
pub fn var(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: value.to_string(),
    }
}

/// A probe with a 2 s timeout.
pub fn probe(action: ProbeAction) -> Probe {
    Probe {
        action,
        initial_delay_ms: 0,
        period_ms: 1000,
        timeout_ms: 2000,
        failure_threshold: 3,
    }
}

/// A pod written into a temporary directory, driven through one shell. Dropping it
/// kills whatever the pod started.
pub struct Pod {
    /// The temporary directory holding `pod`.
    pub tmp: tempfile::TempDir,
    /// `dash` or `bash`.
    pub shell: &'static str,
    /// Its test's turn on the machine.
    _turn: super::sharing::Turn,
}

impl Pod {
    /// Writes `spec`'s pod into a fresh directory.
    pub fn new(spec: &PodSpec, shell: &'static str) -> Pod {
        let turn = super::sharing::Turn::shared();
        let tmp = tempfile::tempdir().expect("tempdir");
        write_pod(&tmp.path().join("pod-dir"), spec, &lcc_bin()).expect("write_pod");
        Pod {
            tmp,
            shell,
            _turn: turn,
        }
    }

    /// The pod's directory.
    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join("pod-dir")
    }

    /// Runs `SHELL ./pod ARGS...` in the pod directory and waits for it, with SIGINT
    /// and SIGQUIT at their defaults, as from a terminal: a `cargo test` started as a
    /// background job (`cmd &`) has them ignored, and a POSIX shell cannot undo an
    /// ignored signal it inherits.
    pub fn cmd(&self, args: &[&str]) -> Output {
        std::process::Command::new("env")
            .args(["--default-signal=INT,QUIT", self.shell, "./pod"])
            .args(args)
            .current_dir(self.dir())
            .stdin(Stdio::null())
            .output()
            .expect("spawn the pod")
    }

    /// Like [`Pod::cmd`], asserting exit 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "{} ./pod {args:?} failed: {:?}\nstdout: {}\nstderr: {}",
            self.shell,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `pod status`, trimmed.
    pub fn status(&self) -> String {
        self.ok(&["status"]).trim().to_string()
    }

    /// `pod info` parsed.
    pub fn info(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["info"])).expect("info is JSON")
    }

    /// Reads a file of the pod directory, empty if missing.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir().join(rel)).unwrap_or_default()
    }

    /// The leader pid recorded in `.pod/pid`.
    pub fn pid(&self) -> Option<u32> {
        self.read(".pod/pid")
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// The pod's LCC_POD_UID.
    pub fn uid(&self) -> String {
        self.read(".pod/uid").trim().to_string()
    }

    /// Polls `status` until it is `want`, for at most 30 s.
    pub fn wait_status(&self, want: &str) {
        let ok = wait_until(Duration::from_secs(30), || self.status() == want);
        assert!(ok, "status stayed {} instead of {want}", self.status());
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let uid = self.uid();
        let _ = self.cmd(&["kill"]);
        if !uid.is_empty() {
            for pid in pids_with_env(&format!("LCC_POD_UID={uid}")) {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

/// Live (not zombie) pids, each with its /proc directory.
fn live_pids() -> Vec<(u32, PathBuf)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let state = stat.rsplit_once(") ")?.1.chars().next()?;
            (state != 'Z').then(|| (pid, e.path()))
        })
        .collect()
}

/// Live processes whose argv contains `needle` as one item.
pub fn pids_with_arg(needle: &str) -> Vec<u32> {
    pids_with_item("cmdline", needle)
}

/// Live processes whose environment contains `entry` (`KEY=VALUE`).
pub fn pids_with_env(entry: &str) -> Vec<u32> {
    pids_with_item("environ", entry)
}

/// Live processes whose NUL-separated /proc file `file` holds `item` as one entry.
fn pids_with_item(file: &str, item: &str) -> Vec<u32> {
    live_pids()
        .into_iter()
        .filter(|(_, dir)| {
            std::fs::read(dir.join(file))
                .map(|c| c.split(|b| *b == 0).any(|a| a == item.as_bytes()))
                .unwrap_or(false)
        })
        .map(|(pid, _)| pid)
        .collect()
}

/// A marker unique to this test run, for argv items that identify our processes.
pub fn marker(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("lcc-test-{tag}-{}-{nanos}", std::process::id())
}

/// True when `path` exists (symlinks not followed).
pub fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

/// A listener on 127.0.0.1 on a port of the tests' own ([`super::ports`]), below the
/// kernel's ephemeral range, so that no socket bound to port 0 (or connecting out)
/// elsewhere takes the port while a test has it closed.
pub fn listen_low() -> std::net::TcpListener {
    for _ in 0..100 {
        if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", super::free_port())) {
            return listener;
        }
    }
    panic!("no free port for a listener");
}
