//! Where a cluster's run-time state lives under `DIR/.lcc/` (docs/daemon.md), and the
//! rules that keep it lcc's alone: private modes, no `.lcc` symlink leaving the cluster.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why the state directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateDirError {
    /// `.lcc` is a symlink whose target is not inside the cluster directory.
    #[error(
        "{link} is a symlink to {target}, which is not inside the cluster directory {root}: lcc keeps its \
         state (pods, their secrets, files it deletes) only inside the cluster and will not \
         follow it; remove the link (`rm {link}`), or point it at a directory inside {root}"
    )]
    LeadsOutside {
        /// The `.lcc` entry.
        link: PathBuf,
        /// Where it leads, resolved.
        target: PathBuf,
        /// The cluster directory, resolved.
        root: PathBuf,
    },
    /// `.lcc` is a symlink to nothing: creating the state would create its target.
    #[error(
        "{link} is a symlink to {target}, which does not exist: lcc will not create its \
         state at the end of a link; remove the link (`rm {link}`) and run again"
    )]
    Dangling {
        /// The `.lcc` entry.
        link: PathBuf,
        /// The link's text.
        target: PathBuf,
    },
    /// `.lcc` exists and is not a directory.
    #[error("{path} is not a directory: lcc keeps its state there; move it away and run again")]
    NotADirectory {
        /// The `.lcc` entry.
        path: PathBuf,
    },
    /// `.lcc` could not be examined.
    #[error("{path}: {source}")]
    Io {
        /// The `.lcc` entry.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Seconds after which a sync's lock that was not refreshed is stale: its sync was
/// killed (`lcc receive --lock-stale-s`'s default).
pub const SYNC_LOCK_STALE_S: u64 = 120;

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
    /// Refuses a state directory lcc must not use: `.lcc` as a symlink leading outside the
    /// cluster directory (or to nothing), or as something other than a directory. A
    /// missing `.lcc` is fine: it is created private.
    pub fn check_state_dir(&self) -> Result<(), StateDirError> {
        let link = self.state.clone();
        let meta = match std::fs::symlink_metadata(&link) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(StateDirError::Io { path: link, source }),
        };
        if !meta.file_type().is_symlink() {
            if meta.is_dir() {
                return Ok(());
            }
            return Err(StateDirError::NotADirectory { path: link });
        }
        let Ok(target) = std::fs::canonicalize(&link) else {
            let target = std::fs::read_link(&link).unwrap_or_default();
            return Err(StateDirError::Dangling { link, target });
        };
        let root = std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone());
        if target != root && target.starts_with(&root) {
            if target.is_dir() {
                return Ok(());
            }
            return Err(StateDirError::NotADirectory { path: link });
        }
        Err(StateDirError::LeadsOutside { link, target, root })
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
    /// `orphans/`: pods the daemon could not recognise, moved aside rather than deleted.
    pub fn orphans_dir(&self) -> PathBuf {
        self.state.join("orphans")
    }
    /// `sync/`: what `lcc sync` keeps on a host (docs/hosts.md).
    pub fn sync_dir(&self) -> PathBuf {
        self.state.join("sync")
    }
    /// The name of the Host this cluster directory is, written by `lcc receive --host`.
    pub fn sync_host(&self) -> PathBuf {
        self.sync_dir().join("host")
    }
    /// The cluster's peer token (0600): how the hosts' daemons authenticate one another.
    pub fn sync_token(&self) -> PathBuf {
        self.sync_dir().join("token")
    }
    /// The commit this host was last synced to.
    pub fn sync_commit(&self) -> PathBuf {
        self.sync_dir().join("commit")
    }
    /// The lock a sync holds on this host while it receives (stale after
    /// [`SYNC_LOCK_STALE_S`] without a refresh).
    pub fn sync_lock(&self) -> PathBuf {
        self.sync_dir().join("lock")
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
    /// `.lcc/proxy.listeners`: the listen addresses the proxy serves and those it
    /// cannot bind ([`crate::proxy_listeners`]).
    pub fn proxy_listeners(&self) -> PathBuf {
        self.state.join("proxy.listeners")
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
    /// `api.sock`: the daemon's HTTP API, owner only.
    pub fn api_socket(&self) -> PathBuf {
        self.state.join("api.sock")
    }
    /// `api.token`: the bearer token of the API over TCP (0600).
    pub fn api_token(&self) -> PathBuf {
        self.state.join("api.token")
    }
    /// `certs/`: ACME accounts and certificates (0600 in 0700).
    pub fn certs_dir(&self) -> PathBuf {
        self.state.join("certs")
    }
    /// `certs/challenges/`: the answers to pending ACME HTTP-01 challenges, by token.
    pub fn acme_challenges(&self) -> PathBuf {
        self.state.join("certs/challenges")
    }
    /// `daemon.log`: stdout/stderr of a detached daemon.
    pub fn daemon_log(&self) -> PathBuf {
        self.state.join("daemon.log")
    }
}

/// Mode of `.lcc`, of each directory lcc makes in it and of each pod directory: pod
/// scripts and recorded specs hold the manifests' `env` values (secrets).
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// Creates `dir` and any missing parent with [`PRIVATE_DIR_MODE`], and narrows `dir` if
/// it already existed with a wider mode.
pub fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR_MODE)
        .create(dir)?;
    make_private(dir)
}

/// Drops the group and other permission bits of `path` (a directory of an older lcc,
/// made 0755). A symlink is left as it is and never followed: what it leads to (a
/// `pods/` on another disk) is the user's.
pub fn make_private(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    let mode = meta.permissions().mode() & 0o7777;
    if meta.file_type().is_symlink() || mode & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_symlink_leaving_the_cluster_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let layout = Layout::new(root.path());
        assert!(layout.check_state_dir().is_ok(), "missing .lcc is fine");
        std::os::unix::fs::symlink(other.path(), &layout.state).unwrap();
        let err = layout.check_state_dir().unwrap_err().to_string();
        assert!(err.contains(".lcc is a symlink to"), "{err}");
        assert!(err.contains("not inside the cluster directory"), "{err}");
        std::fs::remove_file(&layout.state).unwrap();
        std::os::unix::fs::symlink(root.path().join("nowhere"), &layout.state).unwrap();
        let err = layout.check_state_dir().unwrap_err().to_string();
        assert!(err.contains("does not exist"), "{err}");
        std::fs::remove_file(&layout.state).unwrap();
        std::os::unix::fs::symlink(".", &layout.state).unwrap();
        assert!(
            layout.check_state_dir().is_err(),
            "the cluster itself is no state dir"
        );
        std::fs::remove_file(&layout.state).unwrap();
        std::fs::create_dir(root.path().join("state")).unwrap();
        std::os::unix::fs::symlink("state", &layout.state).unwrap();
        assert!(
            layout.check_state_dir().is_ok(),
            "a link inside the cluster is fine"
        );
        std::fs::remove_file(&layout.state).unwrap();
        std::fs::write(&layout.state, "x").unwrap();
        assert!(matches!(
            layout.check_state_dir(),
            Err(StateDirError::NotADirectory { .. })
        ));
    }

    #[test]
    fn private_dirs_are_made_and_narrowed_but_links_are_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let deep = root.path().join("a/b");
        make_private_dir(&deep).unwrap();
        assert_eq!(mode(&root.path().join("a")), 0o700);
        assert_eq!(mode(&deep), 0o700);
        std::fs::set_permissions(&deep, std::fs::Permissions::from_mode(0o755)).unwrap();
        make_private_dir(&deep).unwrap();
        assert_eq!(mode(&deep), 0o700);
        let theirs = root.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o755)).unwrap();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&theirs, &link).unwrap();
        make_private(&link).unwrap();
        assert_eq!(mode(&theirs), 0o755);
    }
}
