//! Static pods: `run` fetches the archive (only when missing or changed) and serves it
//! with `lcc serve-static` on the interface's port, under dash and bash.

use crate::support::pod::*;
use lcc_compiler::podspec::{AppKind, Site};
use lcc_compiler::render::write_pod;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

/// Packs `files` under `public/` into DIR/site.tar.gz; returns its path and sha256.
fn archive(dir: &Path, files: &[(&str, &str)]) -> (String, String) {
    let src = dir.join("src");
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(src.join("public")).expect("mkdir");
    for (name, body) in files {
        std::fs::write(src.join("public").join(name), body).expect("write");
    }
    let tarball = dir.join("site.tar.gz");
    let status = std::process::Command::new("tar")
        .arg("czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&src)
        .arg("public")
        .status()
        .expect("tar");
    assert!(status.success());
    let out = std::process::Command::new("sha256sum")
        .arg(&tarball)
        .output()
        .expect("sha256sum");
    let sha = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("sha")
        .to_string();
    (tarball.display().to_string(), sha)
}

/// GET `path` from 127.0.0.1:`port`; returns the whole response.
fn get(port: u16, path: &str) -> String {
    let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let _ = conn.write_all(request.as_bytes());
    let mut out = String::new();
    let _ = conn.read_to_string(&mut out);
    out
}

/// The static app serving `archive`.
fn static_spec(archive: &str, sha: &str) -> lcc_compiler::PodSpec {
    let mut spec = local("docs", &["unused"]);
    spec.kind = AppKind::Static;
    spec.platforms = vec![];
    spec.interfaces = vec![iface("http", None)];
    spec.site = Some(Site {
        archive: archive.to_string(),
        sha256: Some(sha.to_string()),
        root: Some("public".into()),
        spa: false,
    });
    spec
}

#[test]
fn a_static_pod_serves_its_archive_and_refetches_only_on_change() {
    for shell in SHELLS {
        let work = tempfile::tempdir().expect("tempdir");
        let (tarball, sha) = archive(work.path(), &[("index.html", "first version")]);
        let pod = Pod::new(&static_spec(&tarball, &sha), shell);
        pod.ok(&["run"]);
        assert_eq!(pod.status(), "running");
        let port: u16 = pod
            .ok(&["ports"])
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .expect("port");
        assert!(
            wait_until(Duration::from_secs(30), || pod
                .cmd(&["readiness"])
                .status
                .success()),
            "{shell}: never ready: {}",
            pod.read("log/stderr.log")
        );
        assert!(get(port, "/").contains("first version"));
        assert_eq!(pod.read(".pod/site.sha256").trim(), sha);

        // Same archive: the site is kept as it is.
        pod.ok(&["stop"]);
        std::fs::write(pod.dir().join("run/site/extra.txt"), "kept").expect("write");
        pod.ok(&["run"]);
        assert!(pod.dir().join("run/site/extra.txt").exists());

        // A new archive (another sha256): fetched again on the next run.
        pod.ok(&["stop"]);
        let (tarball, sha) = archive(work.path(), &[("index.html", "second version")]);
        write_pod(&pod.dir(), &static_spec(&tarball, &sha), &lcc_bin()).expect("rewrite");
        pod.ok(&["run"]);
        assert!(!pod.dir().join("run/site/extra.txt").exists());
        assert!(wait_until(Duration::from_secs(30), || get(port, "/")
            .contains("second version")));
        pod.ok(&["stop"]);
        assert_eq!(get(port, "/"), "");
    }
}

#[test]
fn a_wrong_sha256_fails_the_run_and_starts_nothing() {
    for shell in SHELLS {
        let work = tempfile::tempdir().expect("tempdir");
        let (tarball, _) = archive(work.path(), &[("index.html", "x")]);
        let pod = Pod::new(&static_spec(&tarball, &"0".repeat(64)), shell);
        let out = pod.cmd(&["run"]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("pod docs: fetching the site failed:"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(pod.status(), "not-created");
    }
}
