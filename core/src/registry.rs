//! The per-user registry of running clusters: each daemon writes one entry (name,
//! directory, API socket, pid) when it starts and removes it when it stops, so that `lcc
//! ls` (and the dashboard) find every cluster on the machine. It lives in
//! `$XDG_RUNTIME_DIR/lcc/clusters/` (gone at logout, as the daemons are), else in
//! `~/.local/state/lcc/clusters/`; owner-only. An entry whose daemon is gone (killed) is
//! skipped by readers and removed by the next `lcc ls` or daemon start.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io;
use std::path::{Path, PathBuf};

/// One running cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Cluster name.
    pub name: String,
    /// Cluster directory (absolute).
    pub dir: PathBuf,
    /// The API's Unix socket.
    pub socket: PathBuf,
    /// The daemon's pid.
    pub pid: i32,
    /// Unix seconds when the daemon started.
    pub started: f64,
}

/// The registry directory: `$XDG_RUNTIME_DIR/lcc/clusters` when that is an absolute
/// path, else `~/.local/state/lcc/clusters`.
pub fn dir() -> Option<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    match runtime {
        Some(r) => Some(r.join("lcc/clusters")),
        None => dirs::home_dir().map(|h| h.join(".local/state/lcc/clusters")),
    }
}

/// The entry file of the cluster in `cluster_dir`, in `registry`.
fn file(registry: &Path, cluster_dir: &Path) -> PathBuf {
    let digest = Sha256::digest(cluster_dir.as_os_str().as_encoded_bytes());
    registry.join(format!("{}.json", &hex::encode(digest)[..16]))
}

/// Writes `entry` (0600, in a 0700 directory).
pub fn register(registry: &Path, entry: &Entry) -> io::Result<()> {
    std::fs::create_dir_all(registry)?;
    crate::layout::make_private_dir(registry)?;
    let json = serde_json::to_vec_pretty(entry).map_err(io::Error::other)?;
    crate::atomic::write_atomic_mode(&file(registry, &entry.dir), &json, 0o600)
}

/// Removes the entry of `cluster_dir` if it is daemon `pid`'s (a newer daemon's stays).
pub fn unregister(registry: &Path, cluster_dir: &Path, pid: i32) {
    let path = file(registry, cluster_dir);
    if read(&path).is_some_and(|e| e.pid == pid) {
        let _ = std::fs::remove_file(path);
    }
}

/// Removes the entry file of `entry` (its daemon is gone).
pub fn forget(registry: &Path, entry: &Entry) {
    let path = file(registry, &entry.dir);
    if read(&path).is_some_and(|e| e == *entry) {
        let _ = std::fs::remove_file(path);
    }
}

fn read(path: &Path) -> Option<Entry> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Every entry that parses, by name then directory.
pub fn entries(registry: &Path) -> Vec<Entry> {
    let Ok(rd) = std::fs::read_dir(registry) else {
        return Vec::new();
    };
    let mut out: Vec<Entry> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| read(&p))
        .collect();
    out.sort_by(|a, b| (&a.name, &a.dir).cmp(&(&b.name, &b.dir)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn entries_are_written_private_listed_and_removed_by_their_daemon_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let reg = tmp.path().join("lcc/clusters");
        let entry = |name: &str, dir: &str, pid| Entry {
            name: name.into(),
            dir: PathBuf::from(dir),
            socket: PathBuf::from(format!("{dir}/.lcc/api.sock")),
            pid,
            started: 1.0,
        };
        register(&reg, &entry("b", "/srv/b", 10)).expect("register");
        register(&reg, &entry("a", "/srv/a", 11)).expect("register");
        assert_eq!(
            entries(&reg),
            vec![entry("a", "/srv/a", 11), entry("b", "/srv/b", 10)]
        );
        let mode = std::fs::metadata(&reg).expect("dir").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // A newer daemon of the same directory replaced the entry: the old one's exit
        // leaves it.
        register(&reg, &entry("a", "/srv/a", 12)).expect("register");
        unregister(&reg, Path::new("/srv/a"), 11);
        assert_eq!(entries(&reg).len(), 2);
        unregister(&reg, Path::new("/srv/a"), 12);
        forget(&reg, &entry("b", "/srv/b", 10));
        assert!(entries(&reg).is_empty());
    }
}
