//! The cluster's fixed listen addresses, each with its place in the manifests: the
//! entrance listener (when there are entrances), every Gateway and the API's TCP
//! listener. `lcc up` checks that each is free before it starts anything and reports a
//! taken one as a [`Diagnostic`] at that place, like a manifest error.

use crate::diag::{Diagnostic, Diagnostics};
use crate::load::{self, Body, LoadOptions};
use crate::ports::DEFAULT_HTTP;
use crate::report::Reporter;
use crate::Plan;
use std::path::Path;

/// A listen address and where the manifests set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// `HOST:PORT`.
    pub listen: String,
    /// Its place (file, line, column, source line, object and field); the message is
    /// empty, for the caller to fill in.
    pub place: Diagnostic,
}

/// Every fixed listen address of the cluster in `dir` that `plan` (loaded from it with
/// `options`) brings up, in manifest order: values interpolated as the load did, and
/// a Gateway of a profile not chosen left out. Meant for manifests that load (a broken
/// document just contributes nothing).
pub fn fixed_listeners(
    dir: &Path,
    options: &LoadOptions,
    plan: &Plan,
) -> Result<Vec<Listener>, Diagnostics> {
    let files = load::manifest_files(dir).map_err(|message| load::io_error(dir, message))?;
    let (sources, _) = load::read_sources(&files);
    let mut rep = Reporter::new(&sources);
    let vars = load::variables(dir, options.env_file.as_deref()).unwrap_or_default();
    let (objects, _) = load::parse_objects(&sources, &vars, &mut rep);
    rep.errors.clear();
    let mut out = Vec::new();
    let mut placed = |rep: &mut Reporter<'_>, obj, field: &str, listen: String| {
        rep.field(obj, field, "");
        if let Some(place) = rep.errors.pop() {
            out.push(Listener { listen, place });
        }
    };
    let entrances = !plan.entrances.is_empty();
    let mut http_set = false;
    for obj in &objects {
        match &obj.body {
            Some(Body::Cluster(c)) => {
                if let Some(http) = c.http.clone().filter(|_| entrances) {
                    http_set = true;
                    placed(&mut rep, obj, "http", http);
                }
                let https = c.https.as_ref().and_then(|h| h.listen.clone());
                if let Some(https) = https.filter(|_| entrances) {
                    placed(&mut rep, obj, "https.listen", https);
                }
                if let Some(api) = c.api.as_ref().and_then(|a| a.listen.clone()) {
                    placed(&mut rep, obj, "api.listen", api);
                }
            }
            Some(Body::Gateway(g)) if plan.gateways.iter().any(|p| p.name == obj.name) => {
                if let Some(port) = g.port {
                    let address = g.address.as_deref().unwrap_or("127.0.0.1");
                    placed(&mut rep, obj, "port", format!("{address}:{port}"));
                }
            }
            _ => {}
        }
    }
    if entrances && !http_set {
        // the default listener is written nowhere: the cluster directory stands for it
        let place = Diagnostic {
            file: dir.to_path_buf(),
            line: None,
            col: None,
            object: Some("Cluster".to_string()),
            field: Some("http (default)".to_string()),
            message: String::new(),
            source_line: None,
        };
        out.insert(
            0,
            Listener {
                listen: DEFAULT_HTTP.to_string(),
                place,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(listen, file:line:col or file, object, field)` of a listener.
    type Found = (String, String, Option<String>, Option<String>);
    /// Manifest files by name, and the listeners expected in them.
    type Case = (Vec<(&'static str, String)>, Vec<Found>);

    /// Each listener found in a cluster of these files.
    fn found(files: &[(&str, &str)]) -> Vec<Found> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let prefix = format!("{}/", dir.path().display());
        let options = LoadOptions::default();
        let plan = crate::load_cluster_with(dir.path(), &options).unwrap();
        fixed_listeners(dir.path(), &options, &plan)
            .unwrap()
            .into_iter()
            .map(|l| {
                let p = l.place;
                let file = p.file.display().to_string();
                let file = file.strip_prefix(&prefix).unwrap_or("DIR").to_string();
                let at = match (p.line, p.col) {
                    (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
                    _ => file,
                };
                (l.listen, at, p.object, p.field)
            })
            .collect()
    }

    #[test]
    fn each_fixed_listener_is_found_at_its_place() {
        let gw = "kind: Gateway\nname: web\nport: 9080\ntarget: web\ninterface: http\n";
        let gw2 =
            "kind: Gateway\nname: db\naddress: 0.0.0.0\nport: 9081\ntarget: db\ninterface: tcp\n";
        let ent = "kind: Entrance\nname: web\ngateway: web\n";
        let cluster =
            "kind: Cluster\nname: c\nhttp: 127.0.0.1:8081\napi: {listen: 127.0.0.1:7000}\n";
        let some = |s: &str| Some(s.to_string());
        let at = |l: &str, p: &str, o, f| (l.to_string(), p.to_string(), o, f);
        let cases: Vec<Case> = vec![
            // gateways only: no entrance listener is opened
            (
                vec![("a.yaml", format!("{gw}---\n{gw2}"))],
                vec![
                    at(
                        "127.0.0.1:9080",
                        "a.yaml:3:7",
                        some("Gateway/web"),
                        some("port"),
                    ),
                    at(
                        "0.0.0.0:9081",
                        "a.yaml:10:7",
                        some("Gateway/db"),
                        some("port"),
                    ),
                ],
            ),
            // an entrance with the default listener: written nowhere
            (
                vec![("a.yaml", format!("{gw}---\n{ent}"))],
                vec![
                    at(
                        "127.0.0.1:8080",
                        "DIR",
                        some("Cluster"),
                        some("http (default)"),
                    ),
                    at(
                        "127.0.0.1:9080",
                        "a.yaml:3:7",
                        some("Gateway/web"),
                        some("port"),
                    ),
                ],
            ),
            // the Cluster's listener and its API
            (
                vec![
                    ("a.yaml", format!("{gw}---\n{ent}")),
                    ("cluster.yaml", cluster.to_string()),
                ],
                vec![
                    at(
                        "127.0.0.1:9080",
                        "a.yaml:3:7",
                        some("Gateway/web"),
                        some("port"),
                    ),
                    at(
                        "127.0.0.1:8081",
                        "cluster.yaml:3:7",
                        some("Cluster/c"),
                        some("http"),
                    ),
                    at(
                        "127.0.0.1:7000",
                        "cluster.yaml:4:15",
                        some("Cluster/c"),
                        some("api.listen"),
                    ),
                ],
            ),
        ];
        // What the gateways reach: no listener of their own.
        let apps = "kind: Application\nname: a\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [a]\ninterfaces:\n  - {name: http, protocol: http}\n  - {name: tcp, protocol: tcp}\n---\nkind: Instance\nname: web\napp: a\n---\nkind: Instance\nname: db\napp: a\n";
        for (files, want) in cases {
            let mut files: Vec<(&str, &str)> =
                files.iter().map(|(n, t)| (*n, t.as_str())).collect();
            files.push(("apps.yaml", apps));
            assert_eq!(found(&files), want, "{files:?}");
        }
    }
}
