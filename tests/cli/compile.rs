//! `lcc compile`: invalid manifests write nothing and list every error; valid ones
//! give one pod per Instance, per InstanceGroup and per unreferenced Application.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the real `lcc` from the repository root.
fn lcc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lcc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run lcc")
}

/// A path as a `&str` argument.
fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

#[test]
fn invalid_input_writes_nothing_and_lists_every_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_dir = tmp.path().join("pods");
    let out = lcc(&[
        "compile",
        "tests/fixtures/invalid/many",
        "-o",
        arg(&out_dir),
    ]);
    let expected = r#"error: invalid name `Hello`: use 1-63 lowercase letters, digits and `-`, starting with a letter and not ending with `-`
 --> tests/fixtures/invalid/many/a.yaml:2:7
  |
2 | name: Hello
  |       ^
  = in Application/Hello, field name

error: port 0 is out of range 1-65535
 --> tests/fixtures/invalid/many/a.yaml:6:49
  |
6 | interfaces: [{name: http, protocol: http, port: 0}]
  |                                                 ^
  = in Application/Hello, field interfaces[0].port

error: no InstanceGroup or Instance named `nothing`
 --> tests/fixtures/invalid/many/b.yaml:4:9
  |
4 | target: nothing
  |         ^
  = in Gateway/hello, field target

error: unknown field `colour`, expected one of: kind, name, port, address, target, interface, timeouts, trustedProxies, profiles
 --> tests/fixtures/invalid/many/b.yaml:6:1
  |
6 | colour: blue
  | ^
  = in Gateway/hello, field colour

found 4 errors; nothing written
"#;
    assert_eq!(String::from_utf8_lossy(&out.stderr), expected);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(!out_dir.exists(), "no output directory on invalid input");
}

#[test]
fn one_bad_file_among_good_ones_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_dir = tmp.path().join("pods");
    let out = lcc(&[
        "compile",
        "tests/fixtures/valid/remote/remote.yaml",
        "tests/fixtures/invalid/bad-duration.yaml",
        "-o",
        arg(&out_dir),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: invalid duration `5`"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("\n\nfound 1 error; nothing written\n"),
        "{stderr}"
    );
    assert!(!out_dir.exists());
}

#[test]
fn compile_needs_a_file() {
    let out = lcc(&["compile"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn valid_cluster_gives_one_pod_per_instance_group_and_unreferenced_app() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_dir = tmp.path().join("pods");
    let out = lcc(&["compile", "tests/fixtures/valid/local", "-o", arg(&out_dir)]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
    let mut pods: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("output dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    pods.sort();
    assert_eq!(pods, ["tool", "web", "worker-debug"]);
    let lcc_bin = std::fs::canonicalize(env!("CARGO_BIN_EXE_lcc")).expect("lcc path");
    for pod in &pods {
        let script = std::fs::read_to_string(out_dir.join(pod).join("pod")).expect("pod script");
        assert!(script.starts_with("#!"), "pod {pod} is a script");
        assert!(
            script.contains(lcc_bin.to_str().expect("utf-8")),
            "pod {pod} knows lcc"
        );
    }
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(listed.lines().count(), 3, "{listed}");
}
