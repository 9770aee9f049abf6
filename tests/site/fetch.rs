//! `lcc fetch` end to end: the real binary against a test HTTP server on 127.0.0.1 (and
//! `openssl s_server` for HTTPS, with a CA made for the test), with the download cache in
//! a temporary XDG_CACHE_HOME; and what `--into` it replaces: only
//! what lcc put there (its `.lcc-site` mark), with `--force` anything but the never-list.

use crate::support::site::{lcc_bin, Reply, TestServer};
use lcc_core::ownership::{SiteMark, SITE_MARK};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

/// A work area: an archive built with the system tar, an old site an earlier fetch put
/// there (it carries lcc's mark), a private cache.
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
        let mark = SiteMark {
            source: "old.tgz".into(),
            sha256: "0".repeat(64),
        };
        fs::write(dir.path().join("site").join(SITE_MARK), mark.text()).expect("mark");
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
        self.fetch_at(url, &self.site(), self.dir.path(), args)
    }

    /// Runs `lcc fetch URL --into INTO [args]` in `cwd` with the private cache.
    fn fetch_at(&self, url: &str, into: &Path, cwd: &Path, args: &[&str]) -> Output {
        self.fetch_command(url, into, cwd, args)
            .output()
            .expect("run lcc fetch")
    }

    fn fetch_command(&self, url: &str, into: &Path, cwd: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(lcc_bin());
        cmd.arg("fetch")
            .arg(url)
            .arg("--into")
            .arg(into)
            .args(args)
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .current_dir(cwd);
        cmd
    }

    /// The archive's absolute path.
    fn archive_path(&self) -> String {
        self.dir.path().join("site.tgz").display().to_string()
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

/// One entry of a tree, never followed: enough to tell any change of content or kind.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    Dir(u32),
    File(u32, Vec<u8>),
    Link(PathBuf),
}

/// Every entry under `top` (and `top` itself), with mode and bytes or link target.
fn snapshot(top: &Path) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    walk(top, top, &mut out);
    out
}

fn walk(top: &Path, path: &Path, out: &mut BTreeMap<PathBuf, Node>) {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::symlink_metadata(path).expect("stat");
    let mode = meta.permissions().mode();
    let node = if meta.file_type().is_symlink() {
        Node::Link(fs::read_link(path).expect("readlink"))
    } else if meta.is_dir() {
        for entry in fs::read_dir(path).expect("ls") {
            walk(top, &entry.expect("entry").path(), out);
        }
        Node::Dir(mode)
    } else {
        Node::File(mode, fs::read(path).expect("read"))
    };
    let rel = path.strip_prefix(top).expect("under top").to_path_buf();
    out.insert(rel, node);
}

/// A refusal: exit 1, one message naming `path` and every one of `words`.
fn assert_refused(out: &Output, path: &str, words: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty(), "nothing installed, nothing printed");
    assert!(err.contains(path), "does not name {path}: {err}");
    for w in words {
        assert!(err.contains(w), "does not say `{w}`: {err}");
    }
}

/// The mark a fetch of `source` with this archive writes.
fn mark_of(work: &Work, source: &str) -> SiteMark {
    SiteMark {
        source: source.to_owned(),
        sha256: work.sha256.clone(),
    }
}

#[test]
fn a_directory_lcc_did_not_fill_is_refused_untouched_and_replaced_with_force() {
    let work = Work::new();
    let mine = work.dir.path().join("mine");
    fs::create_dir_all(mine.join("drafts")).expect("mkdir");
    fs::write(mine.join("notes.txt"), "my notes").expect("write");
    fs::write(mine.join("drafts/b.bin"), [0u8, 255, 7]).expect("write");
    let server = serve(&[("/site.tgz", Reply::Bytes(work.archive.clone()))]);
    let url = server.url("/site.tgz");
    let before = snapshot(work.dir.path());
    let out = work.fetch_at(&url, &mine, work.dir.path(), &["--root", "public"]);
    let words = [
        "holds 2 entries lcc did not put there",
        "no .lcc-site mark",
        "such as drafts",
        "another --into",
        "--force",
    ];
    assert_refused(&out, &mine.display().to_string(), &words);
    assert_eq!(snapshot(work.dir.path()), before, "every file in place");
    let seen = server.requests.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(seen, 0, "refused before any download");

    let out = work.fetch_at(
        &url,
        &mine,
        work.dir.path(),
        &["--root", "public", "--force"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(mine.join("index.html").is_file());
    assert!(!mine.join("notes.txt").exists() && !mine.join("drafts").exists());
    let mark = SiteMark::read(&mine).expect("read mark");
    assert_eq!(mark, Some(mark_of(&work, &url)));
    let staged = fs::read_dir(work.dir.path()).expect("ls").any(|e| {
        e.expect("entry")
            .file_name()
            .to_string_lossy()
            .contains("lcc-fetch")
    });
    assert!(!staged, "no staging left behind");
}

#[test]
fn a_file_at_into_is_refused_untouched_and_replaced_with_force() {
    let work = Work::new();
    let file = work.dir.path().join("report.pdf");
    fs::write(&file, b"%PDF-1.7 mine\x00\xff").expect("write");
    let before = snapshot(work.dir.path());
    let out = work.fetch_at("site.tgz", &file, work.dir.path(), &[]);
    let words = ["it is a file", "another --into", "--force"];
    assert_refused(&out, &file.display().to_string(), &words);
    assert_eq!(snapshot(work.dir.path()), before, "every file in place");

    let out = work.fetch_at("site.tgz", &file, work.dir.path(), &["--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(file.join("public/index.html").is_file());
}

#[test]
fn a_symlink_is_never_followed_and_with_force_replaced_as_a_link() {
    let work = Work::new();
    // Even a target that carries lcc's mark: the link itself is what --into names.
    let target = work.dir.path().join("precious");
    fs::create_dir(&target).expect("mkdir");
    fs::write(target.join("keep.txt"), "keep me").expect("write");
    fs::write(target.join(SITE_MARK), mark_of(&work, "x").text()).expect("mark");
    let link = work.dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let before = snapshot(work.dir.path());
    let out = work.fetch_at("site.tgz", &link, work.dir.path(), &[]);
    let words = [
        &format!("it is a symlink to {}", target.display())[..],
        "another --into",
        "--force to replace the link",
    ];
    assert_refused(&out, &link.display().to_string(), &words);
    assert_eq!(
        snapshot(work.dir.path()),
        before,
        "link and target in place"
    );

    let target_before = snapshot(&target);
    let out = work.fetch_at("site.tgz", &link, work.dir.path(), &["--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let meta = fs::symlink_metadata(&link).expect("stat");
    assert!(meta.is_dir(), "the link became the site");
    assert!(link.join("public/index.html").is_file());
    assert_eq!(snapshot(&target), target_before, "the target is untouched");
}

#[test]
fn the_current_directory_is_refused_even_with_force() {
    let work = Work::new();
    let cwd = work.dir.path().join("project");
    fs::create_dir(&cwd).expect("mkdir");
    fs::write(cwd.join("main.rs"), "fn main() {}").expect("write");
    let before = snapshot(work.dir.path());
    for args in [&[][..], &["--force"][..]] {
        let out = work.fetch_at(&work.archive_path(), Path::new("."), &cwd, args);
        let words = ["it is the current directory", "never replaces", "--force"];
        assert_refused(&out, "refusing to replace .", &words);
        assert_eq!(
            snapshot(work.dir.path()),
            before,
            "{args:?}: every file in place"
        );
    }
}

#[test]
fn a_directory_holding_the_current_directory_is_refused_even_with_force() {
    let work = Work::new();
    let outer = work.dir.path().join("outer");
    let cwd = outer.join("inner");
    fs::create_dir_all(&cwd).expect("mkdir");
    fs::write(outer.join("a.txt"), "a").expect("write");
    fs::write(outer.join(SITE_MARK), mark_of(&work, "x").text()).expect("mark");
    let before = snapshot(work.dir.path());
    let holds = format!("it holds the current directory {}", cwd.display());
    let words = [&holds[..], "never replaces", "even with --force"];
    let out = work.fetch_at(&work.archive_path(), &outer, &cwd, &["--force"]);
    assert_refused(&out, &outer.display().to_string(), &words);
    let out = work.fetch_at(&work.archive_path(), Path::new(".."), &cwd, &["--force"]);
    assert_refused(&out, "refusing to replace ..", &words);
    assert_eq!(snapshot(work.dir.path()), before, "every file in place");
}

#[test]
fn missing_empty_and_marked_directories_are_replaced_and_marked() {
    let work = Work::new();
    let archive = work.archive_path();
    let fresh = work.dir.path().join("new/deeper/site");
    let out = work.fetch_at(&archive, &fresh, work.dir.path(), &["--root", "public"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(fresh.join("index.html").is_file());
    let mark = SiteMark::read(&fresh).expect("read mark");
    assert_eq!(mark, Some(mark_of(&work, &archive)), "source as given");

    let empty = work.dir.path().join("empty");
    fs::create_dir(&empty).expect("mkdir");
    let out = work.fetch_at(&archive, &empty, work.dir.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(empty.join("public/css/site.css").is_file());

    // Its own directory again, with a file added since: replaced whole, mark renewed.
    fs::write(fresh.join("added.txt"), "added").expect("write");
    let url = format!("file://{archive}");
    let out = work.fetch_at(&url, &fresh, work.dir.path(), &["--root", "public/css"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(fresh.join("site.css").is_file());
    assert!(!fresh.join("added.txt").exists() && !fresh.join("index.html").exists());
    let mark = SiteMark::read(&fresh).expect("read mark");
    assert_eq!(mark, Some(mark_of(&work, &url)));
}

#[test]
fn a_mark_the_archive_carries_is_replaced_by_lcc_s_own() {
    let work = Work::new();
    let src = work.dir.path().join("src2");
    fs::create_dir(&src).expect("mkdir");
    fs::write(src.join("index.html"), "<h1>hi</h1>").expect("write");
    std::os::unix::fs::symlink("index.html", src.join(SITE_MARK)).expect("symlink");
    let tgz = work.dir.path().join("marked.tgz");
    let out = Command::new("tar")
        .arg("czf")
        .arg(&tgz)
        .arg("-C")
        .arg(&src)
        .arg(".")
        .output()
        .expect("tar");
    assert!(out.status.success(), "tar failed");
    let source = tgz.display().to_string();
    let out = work.fetch(&source, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mark = SiteMark::read(&work.site()).expect("read mark");
    let want = SiteMark {
        source,
        sha256: sha256_of(&tgz),
    };
    assert_eq!(mark, Some(want), "a regular file with lcc's text");
    let page = fs::read_to_string(work.site().join("index.html")).expect("index");
    assert_eq!(page, "<h1>hi</h1>");
}

/// Runs `openssl ARGS` in `dir`, failing the test if it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
}

/// `openssl s_server -WWW` serving the files of `root` on a port of its choosing, with a
/// certificate for 127.0.0.1 from a CA made here; the CA's PEM file and the server.
fn https_server(root: &Path, keys: &Path) -> (PathBuf, u16, crate::support::KillOnDrop) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let ca = [
        &["req", "-x509"][..],
        &ec,
        &[
            "-subj",
            "/CN=lcc test CA",
            "-days",
            "1",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        &["-addext", "basicConstraints=critical,CA:TRUE"],
        &["-addext", "keyUsage=critical,keyCertSign"],
    ]
    .concat();
    openssl(keys, &ca);
    let csr = [
        &["req"][..],
        &ec,
        &[
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
        ],
    ]
    .concat();
    openssl(keys, &csr);
    fs::write(
        keys.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    openssl(
        keys,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ],
    );
    let mut child = Command::new("openssl")
        .args(["s_server", "-accept", "127.0.0.1:0", "-WWW", "-cert"])
        .arg(keys.join("leaf.pem"))
        .arg("-key")
        .arg(keys.join("leaf.key"))
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let stdout = child.stdout.take().expect("stdout");
    let server = crate::support::KillOnDrop(child);
    // its first lines name the address it took: `ACCEPT 127.0.0.1:PORT`; the rest is
    // read to its end, so that the server never writes into a closed pipe
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(port) = line.strip_prefix("ACCEPT 127.0.0.1:") {
                let _ = tx.send(port.trim().parse::<u16>().ok());
            }
        }
    });
    let port = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .ok()
        .flatten()
        .expect("s_server's port");
    (keys.join("ca.pem"), port, server)
}

#[test]
fn fetch_over_https_trusts_the_system_store_and_ssl_cert_file() {
    let work = Work::new();
    let keys = tempfile::tempdir().expect("tempdir");
    let (ca, port, _server) = https_server(work.dir.path(), keys.path());
    let url = format!("https://127.0.0.1:{port}/site.tgz");
    let site = work.site();
    // a CA the machine does not trust: refused, naming the URL; the old site stays
    let out = work
        .fetch_command(&url, &site, work.dir.path(), &["--sha256", &work.sha256])
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .output()
        .expect("run lcc fetch");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(
        err.trim(),
        format!("lcc: fetching {url}: invalid peer certificate: UnknownIssuer")
    );
    work.assert_old_site();
    // trusted through SSL_CERT_FILE, as the system store would: installed
    let out = work
        .fetch_command(
            &url,
            &site,
            work.dir.path(),
            &["--sha256", &work.sha256, "--root", "public"],
        )
        .env("SSL_CERT_FILE", &ca)
        .output()
        .expect("run lcc fetch");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), work.sha256);
    let page = fs::read_to_string(site.join("index.html")).expect("index");
    assert_eq!(page, "<h1>new site</h1>");
}
