//! `lcc export kubernetes`: the real binary on the demo, the fixtures and small
//! clusters written per test; every export checked by the real `kubernetes-validate
//! --strict` (PyPI, offline schemas; `.ci/run` installs it: a missing validator fails
//! the tests) and the mapping rules asserted field by field.

mod bad_input;
mod golden;
mod mapping;
mod validate;

use crate::support::{lcc_bounded, Bounded};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `lcc export kubernetes ARGS` in `cwd`.
pub fn export(cwd: &Path, args: &[&str]) -> Bounded {
    let mut all = vec!["export", "kubernetes"];
    all.extend_from_slice(args);
    lcc_bounded(cwd, &all, 4 << 20, Duration::from_secs(60))
}

/// Runs the export, asserts it succeeded; the stream and stderr.
pub fn export_ok(cwd: &Path, args: &[&str]) -> (String, String) {
    let out = export(cwd, args);
    assert_eq!(out.code, Some(0), "export failed: {}", out.err());
    (out.out(), out.err())
}

/// The documents of a YAML stream, as JSON values (easier to index).
pub fn docs(stream: &str) -> Vec<Value> {
    // A line `---` at column 0 can only separate documents (block text is indented).
    let mut documents = vec![String::new()];
    for line in stream.lines() {
        if line == "---" {
            documents.push(String::new());
        } else if let Some(last) = documents.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    documents
        .iter()
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_yaml::from_str(d).expect("a YAML document"))
        .collect()
}

/// The object of `kind` and `name`.
pub fn object<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in {docs:#?}"))
}

/// The objects of `kind`, by name.
pub fn names_of(docs: &[Value], kind: &str) -> Vec<String> {
    docs.iter()
        .filter(|d| d["kind"] == kind)
        .map(|d| d["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The one container of a Deployment.
pub fn container<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    &object(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
}

/// The value of an env var of a container (`value`, or the whole entry for `valueFrom`).
pub fn env_of<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"]
        .as_array()
        .and_then(|list| list.iter().find(|e| e["name"] == name))
        .unwrap_or_else(|| panic!("no env {name} in {container:#}"))
}

/// A temporary cluster directory holding `files`.
pub fn cluster(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write manifest");
    }
    dir
}

/// A path as an argument.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A local app `name` with an image and an http interface, plus `extra` lines.
pub fn web_app(name: &str, extra: &str) -> String {
    format!(
        "kind: Application\nname: {name}\ntype: local\nlocal:\n  platforms:\n    - os: linux\n      command: [./serve, \"${{LCC_PORT_HTTP}}\"]\ninterfaces:\n  - {{name: http, protocol: http}}\nkubernetes: {{image: example.com/{name}:1}}\n{extra}"
    )
}
