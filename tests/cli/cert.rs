//! `lcc cert ca`: the local CA made once under the user's data dir, its certificate's
//! path on the first line of stdout, its key 0600.

use crate::support::lcc_bin;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn cert_ca(data: &std::path::Path) -> (String, bool) {
    let out = Command::new(lcc_bin())
        .args(["cert", "ca"])
        .env("XDG_DATA_HOME", data)
        .output()
        .expect("run lcc");
    assert!(out.status.success(), "{out:?}");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.stderr.is_empty(),
    )
}

#[test]
fn cert_ca_makes_the_ca_once_and_prints_its_path_first() {
    let data = tempfile::tempdir().expect("tempdir");
    let (first, quiet) = cert_ca(data.path());
    assert!(quiet);
    let path = data.path().join("lcc/ca/ca.pem");
    let mut lines = first.lines();
    assert_eq!(lines.next(), Some(path.to_str().expect("utf-8")));
    assert_eq!(
        lines.next(),
        Some("created the local CA; the https listener issues certificates from it.")
    );
    assert!(
        first.contains(&format!("curl --cacert {}", path.display())),
        "{first}"
    );
    let pem = std::fs::read_to_string(&path).expect("ca.pem");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let key = data.path().join("lcc/ca/ca.key");
    let mode = std::fs::metadata(&key).expect("key").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let (again, _) = cert_ca(data.path());
    assert_eq!(again.lines().next(), Some(path.to_str().expect("utf-8")));
    assert!(again.contains("using the local CA"), "{again}");
    assert_eq!(
        std::fs::read_to_string(&path).expect("ca.pem"),
        pem,
        "made once"
    );
}
