//! Storages as `lcc storage` sees them: which exist, where, who binds them, and deleting
//! one's data, the only destructive thing the CLI does. A deletion is judged first
//! ([`prepare_rm`]: exists, not bound, not on the never-list, carries this storage's
//! ownership mark unless forced) and done after ([`Doomed::delete`]), so the caller can
//! show what will go and ask.

use lcc_compiler::{Plan, PodSpec};
use lcc_core::layout::Layout;
use lcc_core::ownership::{StorageMark, STORAGE_MARK};
use lcc_core::protected::{resolve, Protected, Refusal};
use lcc_core::status;
use std::fmt;
use std::path::{Path, PathBuf};

/// Errors of the storage commands.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No storage of that name.
    #[error("no storage named {name} in {dir}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The cluster directory.
        dir: String,
    },
    /// An instance binds the storage's folder (or one nested with it).
    #[error("storage {name} ({dir}) is bound by {instances}; stop and remove them first")]
    Bound {
        /// Storage name.
        name: String,
        /// Its folder.
        dir: String,
        /// The binding instances, comma separated.
        instances: String,
    },
    /// The folder is on the never-list.
    #[error(
        "storage {name}: refusing to delete {dir}: {refusal} (never deleted, even with --force)"
    )]
    Protected {
        /// Storage name.
        name: String,
        /// Its folder, resolved.
        dir: String,
        /// Why.
        refusal: Refusal,
    },
    /// The folder lacks this storage's ownership mark.
    #[error("storage {name}: refusing to delete {dir}: lcc did not make it ({found}); lcc deletes only folders carrying its {STORAGE_MARK} mark for this cluster and storage. Delete it yourself, or pass --force if everything in it may be deleted")]
    NotOurs {
        /// Storage name.
        name: String,
        /// Its folder, resolved.
        dir: String,
        /// What was found instead of the mark.
        found: String,
    },
    /// A file could not be read or removed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// A storage and who binds it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StorageInfo {
    /// Storage name.
    pub name: String,
    /// Its folder, resolved.
    pub dir: PathBuf,
    /// Whether a manifest declares it (else a leftover folder in `.lcc/storage/`).
    pub declared: bool,
    /// Whether its folder lies outside the cluster directory.
    pub outside: bool,
    /// Instances (with a pod) whose bindings reach its folder.
    pub bound_by: Vec<String>,
}

/// The storages of the plan plus leftover folders in `.lcc/storage/`.
pub fn list(layout: &Layout, plan: Option<&Plan>) -> Vec<StorageInfo> {
    let root = resolve(&layout.root);
    let bindings = bindings(layout, plan);
    let info = |name: String, dir: PathBuf, declared: bool| StorageInfo {
        outside: !dir.starts_with(&root),
        bound_by: bound_by(&bindings, &dir),
        name,
        dir,
        declared,
    };
    let mut out: Vec<StorageInfo> = plan
        .map(|p| {
            p.storages
                .iter()
                .map(|s| info(s.name.clone(), resolve(Path::new(&s.dir)), true))
                .collect()
        })
        .unwrap_or_default();
    if let Ok(rd) = std::fs::read_dir(layout.storage_dir()) {
        for e in rd.flatten() {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            if lcc_compiler::rules::name(&name).is_ok() && !out.iter().any(|s| s.name == name) {
                out.push(info(name, resolve(&e.path()), false));
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Every pod's bound folders: `(instance, folder)`, from the spec each pod was rendered
/// from (the plan's folders for the storage names in a status without a spec).
fn bindings(layout: &Layout, plan: Option<&Plan>) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for st in status::read_all(layout) {
        let spec: Option<PodSpec> = std::fs::read(layout.spec(&st.instance))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let dirs: Vec<PathBuf> = match spec {
            Some(spec) => spec.storage.iter().map(|b| PathBuf::from(&b.dir)).collect(),
            None => st
                .storages
                .iter()
                .filter_map(|n| plan?.storages.iter().find(|s| &s.name == n))
                .map(|s| PathBuf::from(&s.dir))
                .collect(),
        };
        out.extend(dirs.into_iter().map(|d| (st.instance.clone(), resolve(&d))));
    }
    out
}

/// The instances whose bound folders are `dir`, inside it, or hold it.
fn bound_by(bindings: &[(String, PathBuf)], dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = bindings
        .iter()
        .filter(|(_, d)| d.starts_with(dir) || dir.starts_with(d))
        .map(|(i, _)| i.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What a folder holds, counted without following symlinks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Files, symlinks and other non-directories.
    pub files: u64,
    /// Directories below the top one.
    pub dirs: u64,
    /// Bytes in the files.
    pub bytes: u64,
}

impl Usage {
    /// Counts what is under `dir`.
    pub fn of(dir: &Path) -> std::io::Result<Usage> {
        let mut usage = Usage::default();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d)? {
                let e = e?;
                let meta = std::fs::symlink_metadata(e.path())?;
                if meta.is_dir() {
                    usage.dirs += 1;
                    todo.push(e.path());
                } else {
                    usage.files += 1;
                    usage.bytes += meta.len();
                }
            }
        }
        Ok(usage)
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let size = match self.bytes {
            b if b < 1024 => format!("{b} B"),
            b if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
            b if b < 1024 * 1024 * 1024 => format!("{:.1} MiB", b as f64 / 1048576.0),
            b => format!("{:.1} GiB", b as f64 / 1073741824.0),
        };
        write!(
            f,
            "{}, {}, {size}",
            plural(self.files, "file", "files"),
            plural(self.dirs, "directory", "directories")
        )
    }
}

/// A storage folder judged deletable.
#[derive(Debug, Clone)]
pub struct Doomed {
    /// Storage name.
    pub name: String,
    /// The folder, resolved.
    pub dir: PathBuf,
    /// The path the storage names, when it is a symlink to `dir` (removed too).
    pub link: Option<PathBuf>,
    /// What it holds; `None` when there is no folder (nothing to delete).
    pub usage: Option<Usage>,
}

/// Judges deleting storage `name`'s data: it must exist in the cluster, be bound by no
/// instance (compared by folder), not be on the never-list (never, even forced), and
/// carry this storage's ownership mark unless `force`.
pub fn prepare_rm(
    layout: &Layout,
    plan: Option<&Plan>,
    protected: &Protected,
    name: &str,
    force: bool,
) -> Result<Doomed, StorageError> {
    let all = list(layout, plan);
    let Some(s) = all.iter().find(|s| s.name == name) else {
        return Err(StorageError::Unknown {
            name: name.to_string(),
            dir: layout.root.display().to_string(),
        });
    };
    let shown = s.dir.display().to_string();
    if !s.bound_by.is_empty() {
        return Err(StorageError::Bound {
            name: name.to_string(),
            dir: shown,
            instances: s.bound_by.join(", "),
        });
    }
    if let Err(refusal) = protected.check(&s.dir) {
        return Err(StorageError::Protected {
            name: name.to_string(),
            dir: shown,
            refusal,
        });
    }
    let named = plan
        .and_then(|p| p.storages.iter().find(|x| x.name == name))
        .map_or_else(
            || layout.storage_dir().join(name),
            |x| PathBuf::from(&x.dir),
        );
    let link = std::fs::symlink_metadata(&named)
        .is_ok_and(|m| m.is_symlink())
        .then_some(named);
    let meta = match std::fs::symlink_metadata(&s.dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Doomed {
                name: name.to_string(),
                dir: s.dir.clone(),
                link,
                usage: None,
            })
        }
        Err(source) => {
            return Err(StorageError::Io {
                path: shown,
                source,
            })
        }
    };
    if !force {
        let cluster = plan.map_or_else(String::new, |p| p.name.clone());
        let found = if !meta.is_dir() {
            "it is not a directory".to_string()
        } else {
            match StorageMark::read(&s.dir) {
                Ok(Some(m)) if m.storage == name && (m.cluster == cluster || plan.is_none()) => {
                    String::new()
                }
                Ok(Some(m)) => format!(
                    "its {STORAGE_MARK} names storage {} of cluster {}",
                    m.storage, m.cluster
                ),
                Ok(None) => format!("it has no {STORAGE_MARK} mark"),
                Err(e) => format!("its {STORAGE_MARK} cannot be read: {e}"),
            }
        };
        if !found.is_empty() {
            return Err(StorageError::NotOurs {
                name: name.to_string(),
                dir: shown,
                found,
            });
        }
    }
    let usage = if meta.is_dir() {
        Usage::of(&s.dir).map_err(|source| StorageError::Io {
            path: shown.clone(),
            source,
        })?
    } else {
        Usage {
            files: 1,
            dirs: 0,
            bytes: meta.len(),
        }
    };
    Ok(Doomed {
        name: name.to_string(),
        dir: s.dir.clone(),
        link,
        usage: Some(usage),
    })
}

impl Doomed {
    /// Deletes the folder (symlinks inside it are removed, never followed) and the link
    /// that named it, if any.
    pub fn delete(&self) -> Result<(), StorageError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| StorageError::Io { path, source }
        };
        if self.usage.is_some() {
            match std::fs::symlink_metadata(&self.dir) {
                Ok(m) if m.is_dir() => std::fs::remove_dir_all(&self.dir).map_err(io(&self.dir))?,
                Ok(_) => std::fs::remove_file(&self.dir).map_err(io(&self.dir))?,
                Err(_) => {}
            }
        }
        if let Some(link) = &self.link {
            std::fs::remove_file(link).map_err(io(link))?;
        }
        Ok(())
    }
}
