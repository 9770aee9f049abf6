//! The status files as the API reads them: each file parsed and rendered once per change
//! (a status file is replaced whole, so its inode, mtime and size say when), so that
//! listing 200 instances costs a directory read and 200 stats, not 200 parses (the
//! figure is in bench/RESULTS.md, bench/api.sh).

use crate::podfs::{file_key, FileKey};
use lcc_core::layout::Layout;
use lcc_core::status::{natural_key, InstanceStatus};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One status file as last read: its identity, the status and its JSON view.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    key: FileKey,
    pub(crate) status: Arc<InstanceStatus>,
    pub(crate) json: Arc<str>,
}

/// The parsed status files, by instance.
#[derive(Debug, Default)]
pub(crate) struct Statuses {
    seen: Mutex<HashMap<String, Seen>>,
}

impl Statuses {
    /// Every parsable status file now, sorted by instance name (as `status::read_all`).
    pub(crate) fn all(&self, layout: &Layout) -> Vec<Seen> {
        let Ok(dir) = std::fs::read_dir(layout.status_dir()) else {
            return Vec::new();
        };
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        let mut present = std::collections::HashSet::new();
        for entry in dir.flatten() {
            let Ok(file) = entry.file_name().into_string() else {
                continue;
            };
            let Some(name) = file.strip_suffix(".json") else {
                continue;
            };
            let path = entry.path();
            let Some(key) = file_key(&path) else {
                continue;
            };
            present.insert(name.to_string());
            if let Some(s) = seen.get(name).filter(|s| s.key == key) {
                out.push(s.clone());
                continue;
            }
            let Some(status) = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<InstanceStatus>(&b).ok())
            else {
                seen.remove(name);
                continue;
            };
            let json: Arc<str> = super::views::instance(&status).to_string().into();
            let s = Seen {
                key,
                status: Arc::new(status),
                json,
            };
            seen.insert(name.to_string(), s.clone());
            out.push(s);
        }
        seen.retain(|name, _| present.contains(name));
        out.sort_by_key(|s| natural_key(&s.status.instance));
        out
    }

    /// Just the statuses.
    pub(crate) fn read_all(&self, layout: &Layout) -> Vec<Arc<InstanceStatus>> {
        self.all(layout).into_iter().map(|s| s.status).collect()
    }
}
