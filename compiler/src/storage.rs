//! Storages on disk: where a Storage's folder is, and the checks that need the file
//! system (the cluster directory, symlinks, mount points): a folder on lcc's never-list,
//! inside the cluster's `.lcc/` other than its default place, or equal to or nested with
//! another Storage's folder is a manifest error, because `lcc storage rm` deletes it.

use crate::load::{Body, Object};
use crate::report::Reporter;
use crate::rules;
use lcc_core::protected::{resolve, Protected};
use std::path::{Path, PathBuf};

/// A Storage's folder when `path` is left out, relative to the cluster directory.
pub fn default_dir(cluster_dir: &Path, name: &str) -> PathBuf {
    cluster_dir.join(".lcc").join("storage").join(name)
}

/// The folder a Storage names, resolved (symlinks and `..` followed): `path` relative to
/// the cluster directory, `~` and `~/...` in the user's home; the default place without it.
pub fn dir_of(cluster_dir: &Path, name: &str, path: Option<&str>) -> Result<PathBuf, String> {
    let Some(path) = path else {
        return Ok(resolve(&default_dir(cluster_dir, name)));
    };
    let written = match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            let home = dirs::home_dir()
                .ok_or_else(|| format!("storage path `{path}`: the home directory is unknown"))?;
            home.join(rest.trim_start_matches('/'))
        }
        Some(_) => {
            return Err(format!(
                "storage path `{path}`: only `~` and `~/...` are expanded; write the full path"
            ))
        }
        None => cluster_dir.join(path),
    };
    Ok(resolve(&written))
}

/// A checked Storage: its object, its folder and the field that placed it there.
struct Placed<'o> {
    obj: &'o Object,
    dir: PathBuf,
    field: &'static str,
}

/// Checks every Storage's folder against the never-list, `.lcc/` and the others.
pub fn check(
    rep: &mut Reporter<'_>,
    objects: &[Object],
    cluster_dir: &Path,
    manifests: &[PathBuf],
) {
    let protected = Protected::system().with_cluster(cluster_dir, manifests);
    let state = resolve(&cluster_dir.join(".lcc"));
    let mut placed: Vec<Placed<'_>> = Vec::new();
    for obj in objects {
        let Some(Body::Storage(s)) = &obj.body else {
            continue;
        };
        let duplicate = placed.iter().any(|p| p.obj.name == obj.name);
        if rules::name(&obj.name).is_err() || duplicate || s.path.as_deref() == Some("") {
            continue;
        }
        let field = if s.path.is_some() { "path" } else { "name" };
        let dir = match dir_of(cluster_dir, &obj.name, s.path.as_deref()) {
            Ok(dir) => dir,
            Err(message) => {
                rep.field(obj, field, message);
                continue;
            }
        };
        let shown = s.path.as_deref().unwrap_or("(default)");
        if let Err(refusal) = protected.check(&dir) {
            let message = format!(
                "storage path `{shown}` is {}, which lcc never uses as a storage: {refusal}",
                dir.display()
            );
            rep.field(obj, field, message);
            continue;
        }
        let own_default = resolve(&default_dir(cluster_dir, &obj.name));
        if dir.starts_with(&state) && dir != own_default {
            let message = format!(
                "storage path `{shown}` is {}, inside the cluster's state directory .lcc/; only a storage's own default place (.lcc/storage/{}) is allowed there: leave `path` out",
                dir.display(),
                obj.name
            );
            rep.field(obj, field, message);
            continue;
        }
        if let Some(other) = placed
            .iter()
            .find(|p| p.dir.starts_with(&dir) || dir.starts_with(&p.dir))
        {
            let how = if other.dir == dir {
                "is the same folder as"
            } else if dir.starts_with(&other.dir) {
                "is inside the folder of"
            } else {
                "holds the folder of"
            };
            let message = format!(
                "storage `{}` ({}) {how} storage `{}` at {}: two storages must not share or nest folders",
                obj.name,
                dir.display(),
                other.obj.name,
                rep.place(other.obj, other.field)
            );
            rep.field(obj, field, message);
            continue;
        }
        placed.push(Placed { obj, dir, field });
    }
}
