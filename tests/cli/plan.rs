//! `lcc plan`: which host runs each instance, word for word, for the multi-host example
//! and for a single-machine cluster.

use std::process::Command;

/// Runs `lcc plan DIR` from the repository root; stdout, stderr and the exit code.
fn plan(dir: &str) -> (String, String, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_lcc"))
        .args(["plan", dir])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run lcc plan");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

#[test]
fn the_hosts_example_is_placed_by_region_and_labels() {
    let (stdout, stderr, code) = plan("examples/hosts");
    assert_eq!(stderr, "");
    assert_eq!(
        stdout,
        "INSTANCE  HOST  REGION  ADDRESS
web-1     eu-2  eu      10.0.0.12
web-2     eu-1  eu      10.0.0.11
web-3     eu-2  eu      10.0.0.12
db        eu-1  eu      10.0.0.11
reports   us-1  us      10.1.0.11
"
    );
    assert_eq!(code, Some(0));
}

#[test]
fn without_hosts_everything_runs_here() {
    let (stdout, _, code) = plan("examples/demo");
    assert_eq!(
        stdout,
        "no Host documents: every instance runs on this machine\n"
    );
    assert_eq!(code, Some(0));
}

#[test]
fn an_invalid_cluster_is_reported_like_validate() {
    let (stdout, stderr, code) = plan("tests/fixtures/invalid/many");
    assert_eq!(stdout, "");
    assert!(stderr.ends_with("found 4 errors\n"), "{stderr}");
    assert_eq!(code, Some(1));
}
