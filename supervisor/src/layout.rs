//! Where a cluster's run-time state lives under `DIR/.lcc/` (docs/daemon.md).

use std::path::{Path, PathBuf};

/// Paths of one cluster's state directory.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The cluster directory (manifests).
    pub root: PathBuf,
    /// `DIR/.lcc`.
    pub state: PathBuf,
}

impl Layout {
    /// The layout of the cluster in `root`, made absolute so spawned pods see full paths.
    pub fn new(root: &Path) -> Layout {
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        let state = root.join(".lcc");
        Layout { root, state }
    }
    /// `pods/`: one pod directory per instance.
    pub fn pods(&self) -> PathBuf {
        self.state.join("pods")
    }
    /// The pod directory of `instance`.
    pub fn pod(&self, instance: &str) -> PathBuf {
        self.pods().join(instance)
    }
    /// `status/`: one JSON file per instance, read by `lcc ps`.
    pub fn status_dir(&self) -> PathBuf {
        self.state.join("status")
    }
    /// The status file of `instance`.
    pub fn status(&self, instance: &str) -> PathBuf {
        self.status_dir().join(format!("{instance}.json"))
    }
    /// `specs/`: the spec each pod was rendered from, for adoption after a restart.
    pub fn specs_dir(&self) -> PathBuf {
        self.state.join("specs")
    }
    /// The recorded spec of `instance`.
    pub fn spec(&self, instance: &str) -> PathBuf {
        self.specs_dir().join(format!("{instance}.json"))
    }
    /// `scale/`: replica overrides written by `lcc scale`.
    pub fn scale_dir(&self) -> PathBuf {
        self.state.join("scale")
    }
    /// The replica override of `group`.
    pub fn scale(&self, group: &str) -> PathBuf {
        self.scale_dir().join(group)
    }
    /// `storage/`: default home of storages.
    pub fn storage_dir(&self) -> PathBuf {
        self.state.join("storage")
    }
    /// `events.jsonl`.
    pub fn events(&self) -> PathBuf {
        self.state.join("events.jsonl")
    }
    /// `proxy.conf`.
    pub fn proxy_conf(&self) -> PathBuf {
        self.state.join("proxy.conf")
    }
    /// `proxy.log`: the output of lcc-proxy.
    pub fn proxy_log(&self) -> PathBuf {
        self.state.join("proxy.log")
    }
    /// `proxy.applied`: the SHA-256 of the last `proxy.conf` the running proxy applied.
    pub fn proxy_applied(&self) -> PathBuf {
        self.state.join("proxy.applied")
    }
    /// `proxy.pid`: `PID STARTTIME` of the running lcc-proxy.
    pub fn proxy_pid(&self) -> PathBuf {
        self.state.join("proxy.pid")
    }
    /// `daemon.lock`: flock held by the running daemon.
    pub fn lock(&self) -> PathBuf {
        self.state.join("daemon.lock")
    }
    /// `daemon.pid`: the running daemon's pid.
    pub fn daemon_pid(&self) -> PathBuf {
        self.state.join("daemon.pid")
    }
    /// `daemon.up`: written with the daemon's pid once its first pass is done.
    pub fn daemon_up(&self) -> PathBuf {
        self.state.join("daemon.up")
    }
    /// `daemon.log`: stdout/stderr of a detached daemon.
    pub fn daemon_log(&self) -> PathBuf {
        self.state.join("daemon.log")
    }
}
