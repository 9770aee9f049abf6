//! File-system wake-ups for the reconcile loop: the manifests directory, `.lcc/pods/`
//! and each pod directory (for `pod.state`/`pod.env`), `.lcc/scale/` and `.lcc/status/`. Renames onto
//! a file count as writes; a periodic rescan covers lost events.

use notify::{Config, Event, EventKind, EventKindMask, RecommendedWatcher, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};

/// What changed, coarsely: enough to choose what to re-read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A manifest (`*.yaml`/`*.yml` in the cluster directory).
    Manifests,
    /// A pod directory (added or removed), or a scale override.
    State,
    /// The `pod.state` or `pod.env` of the pod of this name.
    Pod(String),
    /// The status file of the instance of this name (only the daemon writes it).
    Status(String),
    /// Another path outside `.lcc`: a source an Instance or group may watch
    /// (`watch:` under `lcc up --watch`).
    Source(PathBuf),
}

/// Classifies a notify event by its paths; `None` for noise (logs, temp files).
pub fn classify(root: &Path, ev: &Event) -> Option<Change> {
    // An inotify queue overflow: events were lost, so everything is re-read.
    if ev.need_rescan() {
        return Some(Change::Manifests);
    }
    if matches!(ev.kind, EventKind::Access(_)) {
        return None;
    }
    let mut out = None;
    let mut source = None;
    let state = root.join(".lcc");
    for p in &ev.paths {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with(".tmp-") {
            continue;
        }
        if p.parent() == Some(root) {
            if name.ends_with(".yaml") || name.ends_with(".yml") {
                return Some(Change::Manifests);
            }
        } else if name == "pod.state" || name == "pod.env" {
            let pod = p
                .parent()
                .and_then(|d| d.file_name())
                .and_then(|d| d.to_str());
            out = Some(match (out, pod) {
                (None, Some(pod)) => Change::Pod(pod.to_string()),
                (Some(Change::Pod(other)), Some(pod)) if other == pod => Change::Pod(other),
                _ => Change::State,
            });
        } else if p
            .parent()
            .and_then(|d| d.file_name())
            .is_some_and(|d| d == "scale" || d == "pods")
        {
            out = Some(Change::State);
        } else if p
            .parent()
            .and_then(|d| d.file_name())
            .is_some_and(|d| d == "status")
        {
            if let Some(inst) = name.strip_suffix(".json") {
                out = out.or(Some(Change::Status(inst.to_string())));
            }
        } else if !p.starts_with(&state) && source.is_none() {
            source = Some(Change::Source(p.clone()));
        }
    }
    out.or(source)
}

/// The watcher and the directories it covers.
#[derive(Debug)]
pub struct Watch {
    watcher: RecommendedWatcher,
    watched: std::collections::BTreeSet<PathBuf>,
}

impl Watch {
    /// Starts watching; `sink` gets each relevant change.
    pub fn new(root: &Path, sink: impl Fn(Change) + Send + 'static) -> notify::Result<Watch> {
        let root = root.to_path_buf();
        let handler = move |res: notify::Result<Event>| match res {
            Ok(ev) => {
                if let Some(c) = classify(&root, &ev) {
                    sink(c)
                }
            }
            // An overflow or error: ask for a full re-read.
            Err(_) => sink(Change::Manifests),
        };
        // No access events (open, close): an app serving its `run/` directory (as
        // `python3 -m http.server` does) would otherwise wake the watcher on every probe.
        let config = Config::default().with_event_kinds(EventKindMask::CORE);
        let watcher = RecommendedWatcher::new(handler, config)?;
        Ok(Watch {
            watcher,
            watched: Default::default(),
        })
    }

    /// Watches `dir` (not recursively) if not yet watched; missing dirs are skipped.
    pub fn add(&mut self, dir: &Path) {
        if self.watched.contains(dir) {
            return;
        }
        if self.watcher.watch(dir, RecursiveMode::NonRecursive).is_ok() {
            self.watched.insert(dir.to_path_buf());
        }
    }

    /// Watches a file or a directory with everything under it, if not yet watched;
    /// false when it cannot be (missing, or the limit of inotify watches reached).
    pub fn add_recursive(&mut self, path: &Path) -> bool {
        if self.watched.contains(path) {
            return true;
        }
        let added = self.watcher.watch(path, RecursiveMode::Recursive).is_ok();
        if added {
            self.watched.insert(path.to_path_buf());
        }
        added
    }

    /// Stops watching `dir`.
    pub fn remove(&mut self, dir: &Path) {
        if self.watched.remove(dir) {
            let _ = self.watcher.unwatch(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, Flag, ModifyKind};

    fn ev(paths: &[&str]) -> Event {
        paths
            .iter()
            .fold(Event::new(EventKind::Modify(ModifyKind::Any)), |e, p| {
                e.add_path(PathBuf::from(p))
            })
    }

    #[test]
    fn a_pod_file_names_its_pod() {
        let root = Path::new("/c");
        assert_eq!(
            classify(root, &ev(&["/c/.lcc/pods/web-1/pod.state"])),
            Some(Change::Pod("web-1".into()))
        );
        assert_eq!(
            classify(
                root,
                &ev(&["/c/.lcc/pods/web-1/pod.env", "/c/.lcc/pods/web-2/pod.state"])
            ),
            Some(Change::State),
            "two pods at once: a full re-read"
        );
        let created = Event::new(EventKind::Create(CreateKind::Folder))
            .add_path(PathBuf::from("/c/.lcc/pods/web-3"));
        assert_eq!(classify(root, &created), Some(Change::State));
        assert_eq!(
            classify(root, &ev(&["/c/app.yaml"])),
            Some(Change::Manifests)
        );
        assert_eq!(
            classify(root, &ev(&["/c/.lcc/pods/web-1/log/stdout.log"])),
            None
        );
        assert_eq!(
            classify(root, &ev(&["/c/.lcc/status/web-1.json"])),
            Some(Change::Status("web-1".into()))
        );
        assert_eq!(
            classify(root, &ev(&["/c/.lcc/status/.tmp-web-1.json"])),
            None
        );
        assert_eq!(
            classify(root, &ev(&["/c/src/app.py"])),
            Some(Change::Source(PathBuf::from("/c/src/app.py")))
        );
    }

    #[test]
    fn an_overflow_asks_for_a_full_re_read() {
        // What notify's inotify backend sends for IN_Q_OVERFLOW: no path, a flag.
        let overflow = Event::new(EventKind::Other).set_flag(Flag::Rescan);
        assert_eq!(
            classify(Path::new("/c"), &overflow),
            Some(Change::Manifests)
        );
        assert_eq!(
            classify(Path::new("/c"), &Event::new(EventKind::Other)),
            None
        );
    }
}
