//! `lcc fetch` end to end: the real binary against a test HTTP server on 127.0.0.1, with
//! the download cache in a temporary XDG_CACHE_HOME.

mod site_support;

use site_support::{lcc_bin, Reply, TestServer};
use std::collections::HashMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

/// A work area: an archive built with the system tar, an old site, a private cache.
struct Work {
    dir: TempDir,
    archive: Vec<u8>,
    sha256: String,
}

impl Work {
    fn new() -> Work {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("src/public");
        fs::create_dir_all(src.join("css")).expect("mkdir");
        fs::write(src.join("index.html"), "<h1>new site</h1>").expect("write");
        fs::write(src.join("css/site.css"), "h1 {}").expect("write");
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 253) as u8).collect();
        fs::write(src.join("blob.bin"), big).expect("write");
        let out = Command::new("tar")
            .arg("czf")
            .arg(dir.path().join("site.tgz"))
            .arg("-C")
            .arg(dir.path().join("src"))
            .arg(".")
            .output()
            .expect("tar");
        assert!(out.status.success(), "tar failed");
        let archive = fs::read(dir.path().join("site.tgz")).expect("read");
        let sha256 = sha256_of(&dir.path().join("site.tgz"));
        fs::create_dir_all(dir.path().join("site")).expect("mkdir");
        fs::write(dir.path().join("site/old.txt"), "old site").expect("write");
        Work {
            dir,
            archive,
            sha256,
        }
    }

    fn site(&self) -> PathBuf {
        self.dir.path().join("site")
    }

    /// Runs `lcc fetch URL --into site [args]` with the private cache.
    fn fetch(&self, url: &str, args: &[&str]) -> Output {
        Command::new(lcc_bin())
            .arg("fetch")
            .arg(url)
            .arg("--into")
            .arg(self.site())
            .args(args)
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .current_dir(self.dir.path())
            .output()
            .expect("run lcc fetch")
    }

    fn assert_old_site(&self) {
        let old = fs::read_to_string(self.site().join("old.txt")).expect("old site kept");
        assert_eq!(old, "old site");
        assert!(!self.site().join("index.html").exists());
        self.assert_no_leftovers();
    }

    fn assert_no_leftovers(&self) {
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n != "cache")
            .collect();
        names.sort();
        assert_eq!(names, ["site", "site.tgz", "src"], "no staging left behind");
    }
}

/// sha256 with the system tool, to check ours against an independent one.
fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("hash")
        .to_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn serve(routes: &[(&str, Reply)]) -> TestServer {
    let map: HashMap<String, Reply> = routes
        .iter()
        .map(|(p, r)| ((*p).to_owned(), r.clone()))
        .collect();
    TestServer::start(map)
}

#[test]
fn fetch_over_http_installs_the_root_and_caches_by_sha256() {
    let work = Work::new();
    let server = serve(&[("/site.tgz", Reply::Bytes(work.archive.clone()))]);
    let url = server.url("/site.tgz");
    let out = work.fetch(&url, &["--sha256", &work.sha256, "--root", "public"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), work.sha256);
    let page = fs::read_to_string(work.site().join("index.html")).expect("index");
    assert_eq!(page, "<h1>new site</h1>");
    assert!(work.site().join("css/site.css").is_file());
    assert!(!work.site().join("old.txt").exists());
    let cached = work
        .dir
        .path()
        .join("cache/lcc/archives")
        .join(&work.sha256);
    assert_eq!(fs::read(cached).expect("cached archive"), work.archive);
    work.assert_no_leftovers();

    // A cache hit needs no server at all.
    let seen = server.requests.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(seen, 1);
    drop(server);
    fs::remove_dir_all(work.site()).expect("rm site");
    let out = work.fetch(&url, &["--sha256", &work.sha256, "--root", "public"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(work.site().join("index.html").is_file());
}

#[test]
fn wrong_sha256_is_refused_naming_url_and_both_hashes() {
    let work = Work::new();
    let server = serve(&[("/site.tgz", Reply::Bytes(work.archive.clone()))]);
    let url = server.url("/site.tgz");
    let wrong = "0".repeat(64);
    let out = work.fetch(&url, &["--sha256", &wrong]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&url), "{err}");
    assert!(err.contains(&wrong) && err.contains(&work.sha256), "{err}");
    work.assert_old_site();
    let cache = work.dir.path().join("cache/lcc/archives");
    let cached = fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
    assert_eq!(cached, 0, "a refused download is not cached");
}

#[test]
fn not_found_and_connection_refused_name_the_url() {
    let work = Work::new();
    let server = serve(&[]);
    let url = server.url("/missing.tgz");
    let out = work.fetch(&url, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&url) && err.contains("404"), "{err}");
    work.assert_old_site();

    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{port}/site.tgz");
    let out = work.fetch(&url, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&url) && err.to_lowercase().contains("refused"),
        "{err}"
    );
    work.assert_old_site();
}

#[test]
fn truncated_archives_are_refused() {
    let work = Work::new();
    let half = work.archive[..work.archive.len() / 2].to_vec();
    let server = serve(&[
        ("/half.tgz", Reply::Bytes(half.clone())),
        (
            "/cut.tgz",
            Reply::Cut {
                body: half,
                announced: work.archive.len(),
            },
        ),
    ]);
    for path in ["/half.tgz", "/cut.tgz"] {
        let url = server.url(path);
        let out = work.fetch(&url, &[]);
        assert_eq!(out.status.code(), Some(1), "{path}");
        let err = stderr(&out);
        assert!(err.contains(&url), "{err}");
        assert!(err.contains("truncated") || err.contains("cut"), "{err}");
        work.assert_old_site();
    }
}

#[test]
fn file_urls_and_relative_paths_are_read_in_place() {
    let work = Work::new();
    let file_url = format!("file://{}", work.dir.path().join("site.tgz").display());
    let out = work.fetch(&file_url, &["--root", "public"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(work.site().join("index.html").is_file());
    // Relative to the current directory (the work dir here); a bad root keeps the site.
    let out = work.fetch("site.tgz", &["--root", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
    assert!(work.site().join("index.html").is_file());
    let out = work.fetch("site.tgz", &["--root", "./public/css"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(work.site().join("site.css").is_file());
    work.assert_no_leftovers();
}
