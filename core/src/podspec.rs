//! The compiled form of one instance: everything the pod template needs, flattened
//! from the manifests, with all overrides applied and all paths made absolute.
//!
//! This type is the contract between the planner (which builds it), the renderer
//! (which turns it into a `pod` script) and the daemon (which compares fingerprints
//! to decide whether an instance must be replaced).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One pod to compile: the instance and everything about how to run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodSpec {
    /// Name of the instance (`hello-debug`, `hello-2`), or of the group/app template.
    pub instance: String,
    /// The application it runs.
    pub app: String,
    /// The group that owns it, if any.
    pub group: Option<String>,
    /// How the application runs.
    pub kind: AppKind,
    /// Local apps: candidate platforms, first match on `uname -s`/`uname -m` wins.
    pub platforms: Vec<Platform>,
    /// Environment: the app's, then the instance's overrides, in order, keys unique.
    pub env: Vec<EnvVar>,
    /// Named ports; a fixed port is `Some`, else allocated at run time.
    pub interfaces: Vec<Interface>,
    /// Readiness/liveness probe, if any.
    pub probe: Option<Probe>,
    /// Restart policy, applied by the daemon (the pod itself never restarts).
    pub restart: Restart,
    /// How to stop the process group.
    pub stop: Stop,
    /// Symlinks from `run/<path>` to a storage directory.
    pub storage: Vec<StorageBinding>,
    /// Static apps: the archive to fetch and serve.
    pub site: Option<Site>,
    /// Remote apps: where the service runs.
    pub remote: Option<Remote>,
}

/// The three application types (docs/manifests.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppKind {
    /// A native command run on this machine.
    Local,
    /// An archive of files served over HTTP by `lcc serve-static`.
    Static,
    /// A service that runs elsewhere; no process.
    Remote,
}

/// A platform a local app can run on, and how to start it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// `uname -s` lowercased: `linux`, `darwin`, `freebsd`, ...
    pub os: String,
    /// Accepted `uname -m` values; empty means any.
    pub arch: Vec<String>,
    /// What to run there.
    pub run: Command,
}

/// A local app's command: an argv (only `${VAR}` expands) or a string for `sh -c`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Command {
    /// argv items, passed byte for byte except `${VAR}` references.
    Argv(Vec<String>),
    /// A script run by `sh -c`.
    Shell(String),
}

/// One environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    /// Variable name, `[A-Za-z_][A-Za-z0-9_]*`.
    pub name: String,
    /// Value, any bytes of UTF-8 (no NUL).
    pub value: String,
}

/// A named port of the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    /// Interface name; its port is in `LCC_PORT_<NAME>` (uppercased, `-` -> `_`).
    pub name: String,
    /// `http` or `tcp`.
    pub protocol: Protocol,
    /// Fixed port, or `None` to allocate one at run time.
    pub port: Option<u16>,
}

impl Interface {
    /// The environment variable that carries this interface's port.
    pub fn env_name(&self) -> String {
        port_env_name(&self.name)
    }
}

/// `LCC_PORT_<NAME>` for an interface name.
pub fn port_env_name(interface: &str) -> String {
    format!(
        "LCC_PORT_{}",
        interface.to_ascii_uppercase().replace('-', "_")
    )
}

/// Protocol of an interface or gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1.1: round robin per request at gateways.
    Http,
    /// Raw TCP: round robin per connection.
    Tcp,
}

/// A probe: what to check and how often. Durations are milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// The check itself.
    pub action: ProbeAction,
    /// Wait before the first probe.
    pub initial_delay_ms: u64,
    /// Time between probes.
    pub period_ms: u64,
    /// Time one probe may take.
    pub timeout_ms: u64,
    /// Misses in a row before a live instance is restarted.
    pub failure_threshold: u32,
}

/// What a probe checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeAction {
    /// GET `path` on the interface's port; 200-399 passes.
    Http {
        /// Interface name.
        interface: String,
        /// Request path, starting with `/`.
        path: String,
    },
    /// A TCP connect to the interface's port.
    Tcp {
        /// Interface name.
        interface: String,
    },
    /// A command run in the pod's `run/` directory; exit 0 passes.
    Exec {
        /// argv.
        command: Vec<String>,
    },
}

/// Restart policy, as in Kubernetes/Compose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restart {
    /// When to restart.
    pub policy: RestartPolicy,
    /// Failures in a row before the instance is Failed.
    pub max_retries: u32,
    /// First backoff delay.
    pub backoff_initial_ms: u64,
    /// Backoff cap.
    pub backoff_max_ms: u64,
}

/// When the daemon restarts an instance whose process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// After any exit.
    Always,
    /// After a non-zero exit or a failing probe.
    OnFailure,
    /// Never.
    Never,
}

/// How `pod stop` ends the process group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stop {
    /// Signal name without `SIG`: `TERM`, `INT`, `QUIT`, `HUP`, `KILL`, `USR1`, `USR2`.
    pub signal: String,
    /// Grace period before SIGKILL.
    pub timeout_ms: u64,
}

/// A storage binding: `run/<path>` -> `<dir>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageBinding {
    /// The Storage's name.
    pub storage: String,
    /// Relative path under `run/`.
    pub path: String,
    /// Absolute directory of the storage.
    pub dir: String,
    /// The cluster's name, for the ownership mark of a directory the pod creates.
    #[serde(default)]
    pub cluster: String,
}

/// A static site: the archive and what part of it to serve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// `http(s)://`, `file://` URL or an absolute path.
    pub archive: String,
    /// Expected sha256 of the archive, lowercase hex, if given.
    pub sha256: Option<String>,
    /// Subdirectory of the archive to serve, if any.
    pub root: Option<String>,
    /// Serve index.html for unknown paths.
    pub spa: bool,
}

/// A remote service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remote {
    /// Host name or IP address.
    pub host: String,
}

impl PodSpec {
    /// The same spec for another instance name (a group's replica).
    pub fn for_instance(&self, name: &str) -> PodSpec {
        PodSpec {
            instance: name.to_string(),
            ..self.clone()
        }
    }

    /// A stable hash of everything but the instance name: equal fingerprints mean
    /// the running instance is up to date; a change means it must be replaced.
    pub fn fingerprint(&self) -> String {
        let anonymous = self.for_instance("");
        let json = serde_json::to_vec(&anonymous).expect("PodSpec serializes");
        hex::encode(Sha256::digest(json))
    }
}
