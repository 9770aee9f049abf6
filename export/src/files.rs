//! `kubernetes.files` -> one ConfigMap per workload, mounted where `LCC_MANIFEST_DIR`
//! points (`/lcc/manifest`), each file at its path relative to the manifest. UTF-8
//! files go to `data`, others to `binaryData`; all of them must fit the 1 MiB a
//! ConfigMap holds.

use crate::error::Error;
use crate::meta::Ctx;
use crate::vars::MANIFEST_MOUNT;
use crate::workload::Workload;
use crate::{Builder, Phase};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// What a ConfigMap may hold (its data and binaryData together).
pub const CONFIG_MAP_MAX: u64 = 1 << 20;

/// Adds the ConfigMap of a workload's files; returns its volume and mount.
pub fn add(
    ctx: &Ctx<'_>,
    w: &Workload<'_>,
    out: &mut Builder,
) -> Result<Option<(Value, Value)>, Error> {
    if w.kube.files.is_empty() {
        return Ok(None);
    }
    let mut data = Map::new();
    let mut binary = Map::new();
    let mut items = Vec::new();
    let mut total = 0u64;
    for (i, file) in w.kube.files.iter().enumerate() {
        // Keys may not hold `/`: the key is the file's index, the path its place.
        let key = format!("file-{i}");
        let bytes = std::fs::read(&file.source).map_err(|source| Error::File {
            owner: w.owner(),
            path: PathBuf::from(&file.source),
            source,
        })?;
        total += bytes.len() as u64;
        match String::from_utf8(bytes) {
            Ok(text) => data.insert(key.clone(), json!(text)),
            Err(e) => binary.insert(
                key.clone(),
                json!(base64::engine::general_purpose::STANDARD.encode(e.as_bytes())),
            ),
        };
        items.push(json!({"key": key, "path": file.path}));
    }
    if total > CONFIG_MAP_MAX {
        return Err(Error::TooLarge {
            what: "kubernetes.files".to_string(),
            owner: w.owner(),
            size: total,
            hint: "build the files into the image instead",
        });
    }
    let name = format!("{}-files", w.name);
    let mut map = Map::new();
    map.insert("apiVersion".into(), json!("v1"));
    map.insert("kind".into(), json!("ConfigMap"));
    map.insert("metadata".into(), ctx.metadata(&name, &w.spec.app, w.name));
    if !data.is_empty() {
        map.insert("data".into(), Value::Object(data));
    }
    if !binary.is_empty() {
        map.insert("binaryData".into(), Value::Object(binary));
    }
    out.push(Phase::Config, "ConfigMap", &name, Value::Object(map));
    let volume = json!({"name": "files", "configMap": {"name": name, "items": items}});
    let mount = json!({"name": "files", "mountPath": MANIFEST_MOUNT, "readOnly": true});
    Ok(Some((volume, mount)))
}
