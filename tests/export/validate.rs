//! Every export of the examples and of the test fixtures passes `kubernetes-validate
//! --strict` for the newest Kubernetes minor of its offline schemas and the one before;
//! the Gateway API objects, for which it has no schema, are checked here by structure.

use super::{arg, docs, export_ok, repo};
use crate::support::tools::{kubernetes_validate, KUBERNETES_VALIDATE};
use serde_json::Value;
use std::path::Path;

/// The Kubernetes versions checked: the newest schemas of kubernetes-validate 1.37.0
/// (see `support::tools`) and the minor before.
pub const VERSIONS: &[&str] = &["1.37.0", "1.36.0"];

/// Kinds the validator has no schema for, checked by [`gateway_api`].
const GATEWAY_API: &[&str] = &["HTTPRoute", "Gateway"];

/// Runs `kubernetes-validate --strict` on a stream for every version in [`VERSIONS`];
/// panics with its report unless every object passed.
pub fn validate(stream: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("export.yaml");
    std::fs::write(&file, stream).expect("write export");
    let objects = docs(stream);
    let checked = objects
        .iter()
        .filter(|d| !GATEWAY_API.contains(&d["kind"].as_str().unwrap_or("")))
        .count();
    for version in VERSIONS {
        let out = kubernetes_validate()
            .args(["--strict", "-k", version, arg(&file)])
            .output()
            .unwrap_or_else(|e| panic!("cannot run kubernetes-validate: {e}"));
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{version}: {report}");
        let passed = report
            .lines()
            .filter(|l| l.contains(" passed for resource "))
            .count();
        assert_eq!(
            passed, checked,
            "{version}: not every object passed:\n{report}"
        );
        for line in report
            .lines()
            .filter(|l| !l.contains(" passed for resource "))
        {
            let schemaless = GATEWAY_API
                .iter()
                .any(|k| line.contains(&format!("Couldn't find schema for kind {k} ")));
            assert!(schemaless, "{version}: unexpected line: {line}");
        }
    }
    for object in &objects {
        gateway_api(object);
    }
}

/// The structure of an HTTPRoute or Gateway, as gateway.networking.k8s.io/v1 defines it.
fn gateway_api(object: &Value) {
    let kind = object["kind"].as_str().unwrap_or("");
    if !GATEWAY_API.contains(&kind) {
        return;
    }
    assert_eq!(object["apiVersion"], "gateway.networking.k8s.io/v1");
    let top: Vec<&String> = object.as_object().expect("object").keys().collect();
    assert_eq!(top, ["apiVersion", "kind", "metadata", "spec"]);
    let spec = &object["spec"];
    if kind == "Gateway" {
        assert!(spec["gatewayClassName"].is_string());
        for l in spec["listeners"].as_array().expect("listeners") {
            assert!(l["name"].is_string() && l["port"].is_u64());
            assert!(["HTTP", "HTTPS", "TCP", "TLS", "UDP"]
                .contains(&l["protocol"].as_str().unwrap_or("")));
        }
        return;
    }
    let keys: Vec<&String> = spec.as_object().expect("spec").keys().collect();
    assert_eq!(keys, ["parentRefs", "rules"]);
    for parent in spec["parentRefs"].as_array().expect("parentRefs") {
        assert!(parent["name"].is_string(), "{parent}");
    }
    for rule in spec["rules"].as_array().expect("rules") {
        for m in rule["matches"].as_array().expect("matches") {
            let path = &m["path"];
            assert!(["Exact", "PathPrefix", "RegularExpression"]
                .contains(&path["type"].as_str().unwrap_or("")));
            assert!(path["value"].as_str().is_some_and(|v| v.starts_with('/')));
        }
        for f in rule["filters"].as_array().expect("filters") {
            assert_eq!(f["type"], "URLRewrite");
            let p = &f["urlRewrite"]["path"];
            assert_eq!(p["type"], "ReplacePrefixMatch");
            assert!(p["replacePrefixMatch"].is_string());
        }
        for b in rule["backendRefs"].as_array().expect("backendRefs") {
            assert!(b["name"].is_string() && b["port"].is_u64(), "{b}");
        }
    }
}

#[test]
fn the_demo_export_is_valid_kubernetes() {
    let (stream, _) = export_ok(&repo(), &["examples/demo"]);
    validate(&stream);
}

#[test]
fn the_demo_export_with_every_option_is_valid_kubernetes() {
    let (stream, _) = export_ok(
        &repo(),
        &[
            "examples/demo",
            "--namespace",
            "shop",
            "--gateway",
            "edge",
            "--gateway-class",
            "example-class",
            "--storage-class",
            "fast",
        ],
    );
    validate(&stream);
    let (stream, _) = export_ok(
        &repo(),
        &[
            "examples/demo",
            "--ingress",
            "ingress",
            "--ingress-class",
            "nginx",
        ],
    );
    validate(&stream);
}

#[test]
fn the_fixture_exports_are_valid_kubernetes() {
    let (stream, _) = export_ok(
        &repo(),
        &[
            "tests/fixtures/valid/local",
            "--image",
            "web=example.com/web:1",
            "--image",
            "worker=example.com/worker:1",
        ],
    );
    validate(&stream);
    let (stream, _) = export_ok(&repo(), &["tests/fixtures/valid/remote"]);
    validate(&stream);
    // The static fixture's archive is the demo's (same sha256), copied beside it.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("static");
    std::fs::create_dir(&dir).expect("mkdir");
    let fixture = repo().join("tests/fixtures/valid/static");
    std::fs::copy(fixture.join("site.yaml"), dir.join("site.yaml")).expect("copy");
    let archive = repo().join("examples/demo/docs-site.tar.gz");
    std::fs::copy(archive, dir.join("site.tar.gz")).expect("copy archive");
    let (stream, _) = export_ok(Path::new("/"), &[arg(&dir)]);
    validate(&stream);
}

#[test]
fn a_missing_validator_is_a_failure_not_a_skip() {
    // The validator must be there: this test is what fails first on a machine
    // without it (`.ci/run` installs it).
    let out = kubernetes_validate()
        .arg("--version")
        .output()
        .expect("kubernetes-validate runs");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        KUBERNETES_VALIDATE
    );
}
