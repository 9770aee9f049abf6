//! The clusters the dashboard shows: the live entries of the user's registry, each under
//! an id that is its name, or `name.DIGEST` (of its directory) when two running clusters
//! share a name, so that every id stays one URL segment and names one cluster.

use lcc_core::registry::Entry;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Every running cluster, as `GET /api/v1/clusters` lists it.
pub(crate) fn list(registry: &Path) -> Vec<Value> {
    let running = crate::control::clusters(registry);
    let entries: Vec<&Entry> = running.iter().map(|r| &r.entry).collect();
    running
        .iter()
        .map(|r| {
            json!({
                "id": id(&r.entry, &entries),
                "name": r.entry.name,
                "dir": r.entry.dir,
                "daemonPid": r.entry.pid,
                "state": "running",
                "ready": r.ready,
                "total": r.total,
            })
        })
        .collect()
}

/// The running cluster whose id is `id`.
pub(crate) fn find(registry: &Path, id: &str) -> Option<Entry> {
    let entries = crate::control::live_entries(registry);
    let all: Vec<&Entry> = entries.iter().collect();
    entries.iter().find(|e| self::id(e, &all) == id).cloned()
}

/// `entry`'s id among `all`.
fn id(entry: &Entry, all: &[&Entry]) -> String {
    if all.iter().filter(|e| e.name == entry.name).count() <= 1 {
        return entry.name.clone();
    }
    let digest = Sha256::digest(entry.dir.as_os_str().as_encoded_bytes());
    format!("{}.{}", entry.name, &hex::encode(digest)[..8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn ids_are_names_unless_two_clusters_share_one() {
        let entry = |name: &str, dir: &str| Entry {
            name: name.into(),
            dir: PathBuf::from(dir),
            socket: PathBuf::from(dir).join(".lcc/api.sock"),
            pid: 1,
            started: 0.0,
        };
        let (a, b, c) = (entry("demo", "/a"), entry("demo", "/b"), entry("web", "/c"));
        let all = [&a, &b, &c];
        assert_eq!(id(&c, &all), "web");
        let (ida, idb) = (id(&a, &all), id(&b, &all));
        assert!(ida.starts_with("demo.") && idb.starts_with("demo.") && ida != idb);
        assert_eq!(ida.len(), "demo.".len() + 8);
        assert_eq!(id(&a, &[&a, &c]), "demo");
    }
}
