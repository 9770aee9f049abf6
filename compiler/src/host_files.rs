//! What each Host of a cluster is sent by `lcc sync` (docs/hosts.md): the manifest
//! files it needs to run its part of the cluster and to check that part on its own.
//!
//! A file goes to every host when it holds anything but Instances and InstanceGroups
//! (the Cluster, Hosts, Applications, Gateways, Entrances, Storages), or an Instance or
//! group some Gateway targets (every host serves every gateway, so it must know the
//! target's interfaces). A host also gets the files of what is placed on it (what
//! those depend on runs there too: a dependency across hosts is a validation error).
//! So an edit of an Instance placed on one host, in a file of its own, is sent to that
//! host alone.

use crate::load::{Body, Object, Source};
use crate::plan::Plan;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// For every Host: the manifest files it needs, relative to the cluster directory.
pub(crate) fn host_files(
    plan: &Plan,
    objects: &[Object],
    sources: &[Source],
    cluster_dir: &Path,
) -> BTreeMap<String, BTreeSet<PathBuf>> {
    let cluster_dir =
        std::fs::canonicalize(cluster_dir).unwrap_or_else(|_| cluster_dir.to_path_buf());
    let targeted: BTreeSet<&str> = plan.gateways.iter().map(|g| g.target.as_str()).collect();
    let runner = |o: &Object| matches!(o.body, Some(Body::Instance(_) | Body::Group(_)));
    let everywhere: BTreeSet<usize> = objects
        .iter()
        .filter(|o| !runner(o) || targeted.contains(o.name.as_str()))
        .map(|o| o.file)
        .collect();
    let file_of: BTreeMap<&str, usize> = objects
        .iter()
        .filter(|o| runner(o))
        .map(|o| (o.name.as_str(), o.file))
        .collect();
    let mut out = BTreeMap::new();
    for host in &plan.hosts {
        let mut files = everywhere.clone();
        files.extend(
            plan.placements
                .iter()
                .filter(|p| runs_on(plan, &p.name, p.group, &host.name))
                .filter_map(|p| file_of.get(p.name.as_str()).copied()),
        );
        let paths = files
            .into_iter()
            .map(|i| relative(&sources[i].path, &cluster_dir))
            .collect();
        out.insert(host.name.clone(), paths);
    }
    out
}

/// Whether `host` runs the Instance `name`, or some replica of the group `name`.
fn runs_on(plan: &Plan, name: &str, group: bool, host: &str) -> bool {
    let Some(placed) = plan.placements.iter().find(|p| p.name == name) else {
        return false;
    };
    if !group {
        return placed.replica_host(1) == host;
    }
    let replicas = plan
        .groups
        .iter()
        .find(|g| g.name == name)
        .map_or(0, |g| g.replicas);
    placed.share(Some(host), replicas).count > 0
}

/// `path` relative to the cluster directory (its file name if it lies elsewhere).
fn relative(path: &Path, cluster_dir: &Path) -> PathBuf {
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    match absolute.strip_prefix(cluster_dir) {
        Ok(rel) => rel.to_path_buf(),
        Err(_) => path.file_name().map(PathBuf::from).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    /// Writes the files of a cluster and loads it.
    fn plan(files: &[(&str, &str)]) -> crate::Plan {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        crate::load_cluster(dir.path()).expect("valid")
    }

    fn set(names: &[&str]) -> BTreeSet<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn each_host_gets_the_shared_files_and_its_own() {
        let hosts = "kind: Host\nname: a\naddress: 10.0.0.1\ndir: /srv/c\n---\n\
                     kind: Host\nname: b\naddress: 10.0.0.2\ndir: /srv/c\n---\n\
                     kind: Application\nname: s\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [sleep, '9']\n\
                     interfaces: [{name: http, protocol: http}]\n";
        let on = |name: &str, host: &str| {
            format!("kind: Instance\nname: {name}\napp: s\nplacement: {{hosts: [{host}]}}\n")
        };
        let plan = plan(&[
            ("cluster.yaml", hosts),
            ("x.yaml", &on("x", "a")),
            ("y.yaml", &on("y", "b")),
            // z is b's, but a gateway targets it: every host gets its file
            (
                "z.yaml",
                &format!(
                    "{}---\nkind: Gateway\nname: g\nport: 9000\ntarget: z\ninterface: http\n",
                    on("z", "b")
                ),
            ),
            (
                "w.yaml",
                &format!("{}dependsOn: [{{target: v}}]\n", on("w", "a")),
            ),
            ("v.yaml", &on("v", "a")),
            // a group spread over both
            (
                "g.yaml",
                "kind: InstanceGroup\nname: r\napp: s\nreplicas: 2\n",
            ),
        ]);
        assert_eq!(
            plan.host_files["a"],
            set(&[
                "cluster.yaml",
                "g.yaml",
                "v.yaml",
                "w.yaml",
                "x.yaml",
                "z.yaml"
            ])
        );
        assert_eq!(
            plan.host_files["b"],
            set(&["cluster.yaml", "g.yaml", "y.yaml", "z.yaml"])
        );
    }
}
