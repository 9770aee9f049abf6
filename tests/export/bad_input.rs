//! Bad input: each a clear error on stderr, exit 1, nothing on stdout and nothing
//! written to the output directory; `kubernetes:` and `size` mistakes are manifest
//! errors with file:line:col like every other field.

use super::{arg, cluster, export, web_app};
use crate::support::snapshot;
use std::path::Path;

/// Exports `dir` with `args` into a fresh output directory; asserts exit 1, nothing
/// written; returns stderr.
fn refused(dir: &Path, args: &[&str]) -> String {
    let out_parent = tempfile::tempdir().expect("tempdir");
    let out_dir = out_parent.path().join("k8s");
    let before = snapshot(dir);
    let mut all = vec![arg(dir), "-o", arg(&out_dir)];
    all.extend_from_slice(args);
    let out = export(Path::new("/"), &all);
    assert_eq!(
        out.code,
        Some(1),
        "stdout: {}\nstderr: {}",
        out.out(),
        out.err()
    );
    assert_eq!(out.out(), "");
    assert!(!out_dir.exists(), "the output directory was created");
    assert!(snapshot(dir) == before, "the cluster directory changed");
    // Nor on stdout: the same export without `-o`.
    let mut all = vec![arg(dir)];
    all.extend_from_slice(args);
    let out = export(Path::new("/"), &all);
    assert_eq!(out.code, Some(1));
    assert_eq!(out.out(), "");
    out.err()
}

const CLUSTER: (&str, &str) = ("cluster.yaml", "kind: Cluster\nname: c\n");

#[test]
fn an_app_without_an_image_names_the_app_and_both_ways_to_give_one() {
    let app = "kind: Application\nname: web\ntype: local\nlocal:\n  platforms: [{os: linux, command: [x]}]\n---\nkind: Instance\nname: web\napp: web\n";
    let dir = cluster(&[CLUSTER, ("web.yaml", app)]);
    assert_eq!(
        refused(dir.path(), &[]),
        "lcc: application `web` has no container image: add `kubernetes: {image: IMAGE}` to Application/web, or pass `--image web=IMAGE`; nothing written\n"
    );
}

#[test]
fn an_app_without_a_linux_command_names_both_fixes() {
    let app = "kind: Application\nname: mac\ntype: local\nlocal:\n  platforms: [{os: darwin, command: [x]}]\nkubernetes: {image: x:1}\n---\nkind: Instance\nname: mac\napp: mac\n";
    let dir = cluster(&[CLUSTER, ("mac.yaml", app)]);
    assert_eq!(
        refused(dir.path(), &[]),
        "lcc: application `mac` has no linux platform to take the container's command from: add a platform with `os: linux`, or `kubernetes: {command: [...]}` to Application/mac; nothing written\n"
    );
}

#[test]
fn a_local_archive_over_one_mib_must_be_published_at_a_url() {
    let app = "kind: Application\nname: site\ntype: static\nstatic: {archive: ./big.tar.gz}\ninterfaces: [{name: http, protocol: http}]\n---\nkind: Instance\nname: site\napp: site\n";
    let dir = cluster(&[CLUSTER, ("site.yaml", app)]);
    std::fs::write(dir.path().join("big.tar.gz"), vec![0u8; (1 << 20) + 1]).expect("archive");
    let err = refused(dir.path(), &[]);
    let archive = std::fs::canonicalize(dir.path())
        .expect("dir")
        .join("big.tar.gz");
    assert_eq!(
        err,
        format!("lcc: the local archive `{}` of Application/site is 1048577 bytes, over the 1 MiB a ConfigMap holds: publish it at an http(s) URL and set `static.archive` (and `sha256`) to it; nothing written\n", archive.display())
    );
}

#[test]
fn names_kubernetes_refuses_are_errors_not_passed_through() {
    let app = web_app("web", "---\nkind: Instance\nname: web\napp: web\n");
    let dir = cluster(&[CLUSTER, ("web.yaml", &app)]);
    let err = refused(dir.path(), &["--namespace", "Shop_1"]);
    assert!(
        err.starts_with(
            "lcc: namespace `Shop_1` cannot be used in Kubernetes: use 1-63 lowercase letters"
        ),
        "{err}"
    );
    let err = refused(dir.path(), &["--gateway=-edge"]);
    assert!(
        err.starts_with("lcc: gateway name `-edge` cannot be used in Kubernetes"),
        "{err}"
    );
    let err = refused(dir.path(), &["--storage-class", "Fast"]);
    assert!(
        err.starts_with("lcc: storage class `Fast` cannot be used in Kubernetes"),
        "{err}"
    );
    let err = refused(dir.path(), &["--image", "nope=x:1"]);
    assert_eq!(err, "lcc: --image nope=x:1: no Instance or InstanceGroup runs an application `nope`; nothing written\n");

    // An interface name is a port name: at most 15 characters, no `--`.
    let long = "kind: Application\nname: web\ntype: local\nlocal:\n  platforms: [{os: linux, command: [x]}]\ninterfaces: [{name: administration-api, protocol: http}]\nkubernetes: {image: x:1}\n---\nkind: Instance\nname: web\napp: web\n";
    let dir = cluster(&[CLUSTER, ("web.yaml", long)]);
    let err = refused(dir.path(), &[]);
    assert!(
        err.starts_with("lcc: interface name of Instance/web `administration-api` cannot be used in Kubernetes: a port name has 1-15"),
        "{err}"
    );

    // A remote host name becomes an ExternalName: it must be a DNS name.
    let remote = "kind: Application\nname: db\ntype: remote\nremote: {host: my_db.local}\ninterfaces: [{name: sql, protocol: tcp, port: 5432}]\n---\nkind: Instance\nname: db\napp: db\n---\nkind: Gateway\nname: db\nport: 15432\ntarget: db\ninterface: sql\n";
    let dir = cluster(&[CLUSTER, ("db.yaml", remote)]);
    let err = refused(dir.path(), &[]);
    assert!(
        err.starts_with(
            "lcc: remote host of Application/db `my_db.local` cannot be used in Kubernetes"
        ),
        "{err}"
    );

    // A cluster named after its directory: the name must be a label value.
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("my cluster");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(
        dir.join("web.yaml"),
        web_app("web", "---\nkind: Instance\nname: web\napp: web\n"),
    )
    .expect("write");
    let err = refused(&dir, &[]);
    assert!(
        err.starts_with("lcc: cluster name `my cluster` cannot be used in Kubernetes"),
        "{err}"
    );
    assert!(err.contains("(set `name` in kind: Cluster)"), "{err}");
}

#[test]
fn a_file_to_carry_that_is_missing_is_an_error() {
    let app = web_app(
        "web",
        "---\nkind: Instance\nname: web\napp: web\nkubernetes: {files: [conf/app.ini]}\n",
    );
    let dir = cluster(&[CLUSTER, ("web.yaml", &app)]);
    let err = refused(dir.path(), &[]);
    assert!(err.starts_with("lcc: cannot read `"), "{err}");
    assert!(
        err.contains("conf/app.ini` (kubernetes.files of Instance/web): "),
        "{err}"
    );
}

#[test]
fn kubernetes_fields_are_checked_with_file_line_and_column() {
    let app = "kind: Application\nname: web\ntype: local\nlocal:\n  platforms: [{os: linux, command: [x]}]\nkubernetes:\n  image: \"a b\"\n  command: []\n  files: [../secret]\n  resources: {requests: {cpu: lots}, limits: {gpu: 1}}\n  serviceType: External\n  colour: red\n---\nkind: InstanceGroup\nname: web\napp: web\nkubernetes: {image: \"\"}\n---\nkind: Storage\nname: data\nsize: 0Gi\n---\nkind: Storage\nname: more\nsize: 1TB\n";
    let dir = cluster(&[("web.yaml", app)]);
    let out = crate::support::lcc_bounded(
        dir.path(),
        &["validate"],
        4 << 20,
        std::time::Duration::from_secs(60),
    );
    assert_eq!(out.code, Some(1));
    let err = out.err();
    let firsts: Vec<String> = err
        .split("\n\n")
        .filter(|block| block.starts_with("error: "))
        .map(|block| block.lines().take(2).collect::<Vec<_>>().join(" | "))
        .collect();
    let expected = [
        "error: invalid image `a b`: write a container image reference, e.g. python:3.12-slim or registry.example.com/team/app:1.0 |  --> ./web.yaml:7:10",
        "error: command must not be empty |  --> ./web.yaml:8:12",
        "error: invalid path `../secret`: it must be relative and must not contain `..` |  --> ./web.yaml:9:11",
        "error: invalid quantity `lots`: write a number and an optional unit, e.g. 250m, 0.5, 128Mi, 1Gi |   --> ./web.yaml:10:31",
        "error: unknown field `gpu`; did you mean `cpu`? |   --> ./web.yaml:10:47",
        "error: unknown service type `External`, expected one of: ClusterIP, NodePort, LoadBalancer |   --> ./web.yaml:11:16",
        "error: unknown field `colour`, expected one of: image, command, args, files, resources, serviceType |   --> ./web.yaml:12:3",
        "error: invalid image ``: write a container image reference, e.g. python:3.12-slim or registry.example.com/team/app:1.0 |   --> ./web.yaml:17:21",
        "error: size must be larger than 0 |   --> ./web.yaml:21:7",
        "error: invalid quantity `1TB`: write a number and an optional unit, e.g. 250m, 0.5, 128Mi, 1Gi |   --> ./web.yaml:25:7",
    ];
    assert_eq!(firsts, expected, "{err}");
}

#[test]
fn a_schedule_with_seconds_is_refused_naming_the_five_fields() {
    let app = web_app(
        "web",
        "---\nkind: Instance\nname: tick\napp: web\nschedule: \"*/10 * * * * *\"\n",
    );
    let dir = cluster(&[CLUSTER, ("web.yaml", &app)]);
    assert_eq!(
        refused(dir.path(), &[]),
        "lcc: schedule `*/10 * * * * *` of Instance/tick cannot be a CronJob's: Kubernetes takes five cron fields (minute hour day month weekday), not seconds; nothing written\n"
    );
}
