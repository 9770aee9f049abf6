//! How `lcc` resolves paths: `-C DIR` works like `git -C`, and a subcommand's own DIR
//! argument is never mistaken for `-C` (they once shared clap's id).

use crate::support::{lcc_bin, text, KillOnDrop};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

fn lcc() -> Command {
    Command::new(lcc_bin())
}

fn demo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo")
}

#[test]
fn validate_takes_paths_relative_to_dash_c() {
    let out = lcc()
        .arg("-C")
        .arg(demo().parent().unwrap())
        .args(["validate", "demo"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok: 19 objects in 5 files\n"
    );
}

#[test]
fn validate_without_paths_checks_the_dash_c_cluster() {
    let out = lcc()
        .arg("-C")
        .arg(demo())
        .arg("validate")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn dash_c_into_a_missing_directory_is_a_clear_error() {
    let out = lcc()
        .args(["-C", "/nonexistent/lcc-test", "ps"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("lcc: cannot enter /nonexistent/lcc-test: "),
        "{err}"
    );
}

#[test]
fn serve_static_serves_a_relative_directory() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("site")).unwrap();
    std::fs::write(tmp.path().join("site/index.html"), "relative ok\n").unwrap();
    let mut child = KillOnDrop(
        lcc()
            .args(["serve-static", "site", "--listen", "127.0.0.1:0"])
            .current_dir(tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("relative ok\n"), "{answer}");
}
