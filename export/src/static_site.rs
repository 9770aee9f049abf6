//! Static apps -> a Deployment whose init container puts the archive's files into an
//! `emptyDir` and whose container serves them with busybox `httpd`.
//!
//! A URL archive is fetched by the init container and checked against `sha256`; a
//! local archive (a path or `file://`) travels in a ConfigMap's `binaryData`, so it
//! must fit the 1 MiB a ConfigMap holds. The format is told from the first bytes, as
//! `lcc fetch` does. The fetch script is fixed text: the URL and hash reach it only
//! as environment variables, never spliced into the script.

use crate::error::Error;
use crate::files::CONFIG_MAP_MAX;
use crate::meta::Ctx;
use crate::vars::literal;
use crate::workload::{self, PodParts, Workload};
use crate::{Builder, Phase};
use base64::Engine;
use lcc_core::archive_source::Source;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The image that serves the files, unless the app gives one.
pub const SERVER_IMAGE: &str = "busybox:1.37";

/// The image of the init container that fetches and unpacks the archive.
pub const FETCH_IMAGE: &str = "alpine:3.22";

/// Where the files are unpacked.
pub const SITE_DIR: &str = "/lcc/site";

/// Where a local archive is mounted in the init container.
const ARCHIVE_DIR: &str = "/lcc/archive";

/// The init container's script: fetch (or take the mounted archive), check, unpack.
const FETCH_SCRIPT: &str = r#"set -eu
if [ -n "${LCC_ARCHIVE_URL:-}" ]; then
  archive=/tmp/archive
  wget -q -O "$archive" "$LCC_ARCHIVE_URL"
else
  archive=/lcc/archive/archive
fi
if [ -n "${LCC_ARCHIVE_SHA256:-}" ]; then
  echo "$LCC_ARCHIVE_SHA256  $archive" | sha256sum -c -
fi
magic=$(head -c 2 "$archive" | od -An -tx1 | tr -d ' \n')
case "$magic" in
  1f8b) tar -xzf "$archive" -C /lcc/site ;;
  504b) unzip -q "$archive" -d /lcc/site ;;
  *) tar -xf "$archive" -C /lcc/site ;;
esac
"#;

/// Fills the pod of a static app: init container, volumes, the server's image and
/// command.
pub fn add(
    ctx: &Ctx<'_>,
    w: &Workload<'_>,
    ports: &BTreeMap<String, u16>,
    pod: &mut PodParts,
    container: &mut Map<String, Value>,
    out: &mut Builder,
) -> Result<(), Error> {
    let spec = w.spec;
    let Some(site) = &spec.site else {
        return Ok(());
    };
    let app = &spec.app;
    let mut env = Vec::new();
    let source = Source::parse(&site.archive).map_err(|e| Error::Archive {
        app: app.clone(),
        archive: site.archive.clone(),
        reason: e.to_string(),
    })?;
    let mut init_mounts = vec![json!({"name": "site", "mountPath": SITE_DIR})];
    if let Source::Http(url) = &source {
        env.push(json!({"name": "LCC_ARCHIVE_URL", "value": literal(url)}));
    }
    if let Source::File(path) = &source {
        let bytes = std::fs::read(path).map_err(|e| Error::Archive {
            app: app.clone(),
            archive: site.archive.clone(),
            reason: format!("cannot read it: {e}"),
        })?;
        if bytes.len() as u64 > CONFIG_MAP_MAX {
            return Err(Error::TooLarge {
                what: format!("the local archive `{}`", site.archive),
                owner: format!("Application/{app}"),
                size: bytes.len() as u64,
                hint: "publish it at an http(s) URL and set `static.archive` (and `sha256`) to it",
            });
        }
        let name = format!("{}-site", w.name);
        let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let config_map = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": ctx.metadata(&name, app, w.name),
            "binaryData": {"archive": data},
        });
        out.push(Phase::Config, "ConfigMap", &name, config_map);
        pod.volumes
            .push(json!({"name": "archive", "configMap": {"name": name}}));
        init_mounts.push(json!({"name": "archive", "mountPath": ARCHIVE_DIR, "readOnly": true}));
    }
    if let Some(sha) = &site.sha256 {
        env.push(json!({"name": "LCC_ARCHIVE_SHA256", "value": sha}));
    }
    let mut init = Map::new();
    init.insert("name".into(), json!("fetch-site"));
    init.insert("image".into(), json!(FETCH_IMAGE));
    init.insert("command".into(), json!(["sh", "-c", literal(FETCH_SCRIPT)]));
    if !env.is_empty() {
        init.insert("env".into(), Value::Array(env));
    }
    init.insert("volumeMounts".into(), Value::Array(init_mounts));
    pod.init.push(Value::Object(init));
    pod.volumes.push(json!({"name": "site", "emptyDir": {}}));
    pod.mounts
        .push(json!({"name": "site", "mountPath": SITE_DIR, "readOnly": true}));

    let image = workload::image(ctx, w).unwrap_or(SERVER_IMAGE);
    container.insert("image".into(), json!(image));
    if !workload::kube_argv(w, ports, container) {
        let dir = match &site.root {
            Some(root) => format!("{SITE_DIR}/{root}"),
            None => SITE_DIR.to_string(),
        };
        let port = spec
            .interfaces
            .first()
            .map_or(workload::FIRST_PORT, |i| ports[&i.name]);
        container.insert(
            "command".into(),
            json!(["httpd", "-f", "-p", port.to_string(), "-h", literal(&dir)]),
        );
        if site.spa {
            out.warn(format!(
                "{}: `spa: true` cannot carry over to busybox httpd, which has no fallback to index.html for unknown paths; give `kubernetes.image` and `command` of a server that has one",
                w.owner()
            ));
        }
    }
    Ok(())
}
