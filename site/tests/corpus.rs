//! A corpus of hostile archives (tar, tar.gz and zip) built here, each fetched into a site
//! that already exists: every one must be refused with its entry named, the old site must
//! stay as it was and nothing may appear outside it.

use flate2::{write::GzEncoder, Compression};
use lcc_core::ownership::{SiteMark, SITE_MARK};
use lcc_site::{fetch, FetchError, FetchOptions};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A grandparent dir `g`, the parent `g/p` and an existing site `g/p/site` with old.txt and
/// lcc's mark (a site an earlier fetch installed, so that only the archive decides).
struct Scene {
    grand: TempDir,
    archives: TempDir,
}

impl Scene {
    fn new() -> Scene {
        let grand = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(grand.path().join("p/site")).expect("mkdir");
        fs::write(grand.path().join("p/site/old.txt"), "old site").expect("write");
        fs::write(
            grand.path().join("p/site").join(SITE_MARK),
            old_mark().text(),
        )
        .expect("mark");
        Scene {
            grand,
            archives: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn site(&self) -> PathBuf {
        self.grand.path().join("p/site")
    }

    /// Writes `bytes` as an archive file and fetches it with `max_size`.
    fn fetch(&self, name: &str, bytes: &[u8], max_size: u64) -> Result<(), FetchError> {
        let path = self.archives.path().join(name);
        fs::write(&path, bytes).expect("write archive");
        fetch(&FetchOptions {
            url: path.to_string_lossy().into_owned(),
            into: self.site(),
            sha256: None,
            root: None,
            max_size,
            cache: None,
            force: false,
        })
        .map(|_| ())
    }

    /// The old site is intact and nothing else exists anywhere around it.
    fn assert_untouched(&self) {
        assert_eq!(listing(self.grand.path()), vec!["p"]);
        assert_eq!(listing(&self.grand.path().join("p")), vec!["site"]);
        assert_eq!(listing(&self.site()), vec![SITE_MARK, "old.txt"]);
        let mark = SiteMark::read(&self.site()).expect("read mark");
        assert_eq!(mark, Some(old_mark()));
        let old = fs::read_to_string(self.site().join("old.txt")).expect("read");
        assert_eq!(old, "old site");
    }
}

/// The mark of the old site.
fn old_mark() -> SiteMark {
    SiteMark {
        source: "old.tar".into(),
        sha256: "0".repeat(64),
    }
}

/// Names in a directory, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// One tar entry written with raw name bytes (the tar crate refuses to write `..` itself).
struct RawEntry<'a> {
    name: &'a str,
    kind: tar::EntryType,
    link: &'a str,
    data: &'a [u8],
}

fn entry<'a>(name: &'a str, data: &'a [u8]) -> RawEntry<'a> {
    RawEntry {
        name,
        kind: tar::EntryType::Regular,
        link: "",
        data,
    }
}

fn link<'a>(name: &'a str, kind: tar::EntryType, target: &'a str) -> RawEntry<'a> {
    RawEntry {
        name,
        kind,
        link: target,
        data: b"",
    }
}

/// A tar archive of these entries.
fn tar_of(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries {
        let mut header = tar::Header::new_ustar();
        {
            let raw = header.as_mut_bytes();
            raw[..e.name.len()].copy_from_slice(e.name.as_bytes());
            raw[157..157 + e.link.len()].copy_from_slice(e.link.as_bytes());
        }
        header.set_entry_type(e.kind);
        header.set_size(e.data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        builder.append(&header, e.data).expect("append");
    }
    builder.into_inner().expect("finish tar")
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// Asserts a refusal that names `entry`, with the old site intact.
fn assert_refused(scene: &Scene, result: Result<(), FetchError>, entry: &str, words: &str) {
    let err = result.expect_err("must be refused").to_string();
    assert!(
        err.contains(&format!("{entry:?}")),
        "{err} should name {entry}"
    );
    assert!(err.contains(words), "{err} should say {words}");
    scene.assert_untouched();
}

#[test]
fn a_good_archive_replaces_the_site_whatever_its_name() {
    let scene = Scene::new();
    let tar = tar_of(&[
        entry("public/index.html", b"hello"),
        link("public/alias.html", tar::EntryType::Symlink, "index.html"),
        link(
            "public/hard.html",
            tar::EntryType::Link,
            "public/index.html",
        ),
    ]);
    for (name, bytes) in [("a.bin", gz(&tar)), ("b.dat", tar.clone())] {
        scene.fetch(name, &bytes, 1 << 20).expect("fetch");
        let site = scene.site();
        assert_eq!(
            fs::read_to_string(site.join("public/alias.html"))
                .ok()
                .as_deref(),
            Some("hello")
        );
        assert_eq!(
            fs::read_to_string(site.join("public/hard.html"))
                .ok()
                .as_deref(),
            Some("hello")
        );
        assert!(!site.join("old.txt").exists());
        assert_eq!(listing(&scene.grand.path().join("p")), vec!["site"]);
    }
}

#[test]
fn tar_absolute_path_is_refused() {
    let scene = Scene::new();
    let target = scene.grand.path().join("abs.txt");
    let name = target.to_string_lossy().into_owned();
    let r = scene.fetch("a.tar", &tar_of(&[entry(&name, b"x")]), 1 << 20);
    assert_refused(&scene, r, &name, "absolute");
}

#[test]
fn tar_parent_escape_is_refused() {
    let scene = Scene::new();
    let r = scene.fetch(
        "a.tgz",
        &gz(&tar_of(&[
            entry("ok.txt", b"ok"),
            entry("../../../escape.txt", b"x"),
        ])),
        1 << 20,
    );
    assert_refused(&scene, r, "../../../escape.txt", "`..`");
}

#[test]
fn tar_symlink_escape_then_write_through_it_is_refused() {
    let scene = Scene::new();
    let outside = scene.grand.path().to_string_lossy().into_owned();
    for target in ["../../..", outside.as_str(), "a/../../../.."] {
        let r = scene.fetch(
            "a.tar",
            &tar_of(&[
                link("link", tar::EntryType::Symlink, target),
                entry("link/escape.txt", b"x"),
            ]),
            1 << 20,
        );
        assert_refused(&scene, r, "link", "outside the tree");
    }
}

#[test]
fn tar_write_through_an_inner_symlink_is_refused() {
    let scene = Scene::new();
    let r = scene.fetch(
        "a.tar",
        &tar_of(&[
            entry("sub/a.txt", b"a"),
            link("inner", tar::EntryType::Symlink, "sub"),
            entry("inner/b.txt", b"b"),
        ]),
        1 << 20,
    );
    assert_refused(&scene, r, "inner/b.txt", "through the symlink");
}

#[test]
fn tar_symlink_made_to_escape_by_a_later_link_is_refused() {
    let scene = Scene::new();
    let r = scene.fetch(
        "a.tar",
        &tar_of(&[
            entry("d/keep.txt", b"k"),
            link("e", tar::EntryType::Symlink, "d/up/.."),
            link("d/up", tar::EntryType::Symlink, ".."),
        ]),
        1 << 20,
    );
    assert_refused(&scene, r, "e", "outside the tree");
}

#[test]
fn tar_hard_link_escape_is_refused() {
    let scene = Scene::new();
    fs::write(scene.grand.path().join("p/secret"), "s").expect("write");
    let r = scene.fetch(
        "a.tar",
        &tar_of(&[link("hl", tar::EntryType::Link, "../../secret")]),
        1 << 20,
    );
    fs::remove_file(scene.grand.path().join("p/secret")).expect("rm");
    assert_refused(&scene, r, "hl", "hard link");
    let abs = scene
        .grand
        .path()
        .join("p/site/old.txt")
        .to_string_lossy()
        .into_owned();
    let r = scene.fetch(
        "b.tar",
        &tar_of(&[link("hl", tar::EntryType::Link, &abs)]),
        1 << 20,
    );
    assert_refused(&scene, r, "hl", "hard link");
}

#[test]
fn tar_devices_and_fifos_are_refused() {
    let scene = Scene::new();
    for (kind, words) in [
        (tar::EntryType::Char, "character device"),
        (tar::EntryType::Block, "block device"),
        (tar::EntryType::Fifo, "FIFO"),
    ] {
        let r = scene.fetch("a.tar", &tar_of(&[link("dev/thing", kind, "")]), 1 << 20);
        assert_refused(&scene, r, "dev/thing", words);
    }
}

#[test]
fn tar_bomb_past_the_limit_is_refused() {
    let scene = Scene::new();
    let zeros = vec![0u8; 40 * 1024];
    let tar = tar_of(&[entry("a", &zeros), entry("b", &zeros), entry("c", &zeros)]);
    let packed = gz(&tar);
    assert!(packed.len() < 4096, "a bomb: small packed, big unpacked");
    let r = scene.fetch("bomb.tgz", &packed, 64 * 1024);
    assert_refused(&scene, r, "b", "limit of 65536 bytes");
}

#[test]
fn truncated_archives_are_refused() {
    let scene = Scene::new();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let tar = tar_of(&[entry("a.bin", &big), entry("b.txt", b"b")]);
    let packed = gz(&tar);
    let r = scene.fetch("cut.tgz", &packed[..packed.len() / 2], 1 << 30);
    assert!(r.expect_err("refused").to_string().contains("truncated"));
    scene.assert_untouched();
    // Cut mid-data, and cut exactly between two entries (no end-of-archive block).
    let r = scene.fetch("cut.tar", &tar[..100_000], 1 << 30);
    assert!(r.expect_err("refused").to_string().contains("truncated"));
    let one = tar_of(&[entry("a.bin", &big)]);
    let r = scene.fetch("cut2.tar", &one[..one.len() - 1024], 1 << 30);
    assert!(r.expect_err("refused").to_string().contains("truncated"));
    scene.assert_untouched();
}

mod zips {
    use super::*;
    use std::io::Cursor;
    use zip::write::SimpleFileOptions;

    fn zip_of(build: impl FnOnce(&mut zip::ZipWriter<Cursor<Vec<u8>>>)) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        build(&mut w);
        w.finish().expect("finish zip").into_inner()
    }

    fn opts() -> SimpleFileOptions {
        SimpleFileOptions::default().unix_permissions(0o644)
    }

    fn file(w: &mut zip::ZipWriter<Cursor<Vec<u8>>>, name: &str, data: &[u8]) {
        w.start_file(name, opts()).expect("start");
        w.write_all(data).expect("write");
    }

    /// Rewrites the unix file type of the only central directory record (zip's writer masks
    /// it to permission bits).
    fn set_type(mut bytes: Vec<u8>, mode: u32) -> Vec<u8> {
        let at = bytes
            .windows(4)
            .position(|w| w == b"PK\x01\x02")
            .expect("central directory");
        bytes[at + 5] = 3; // made by: unix
        bytes[at + 38..at + 42].copy_from_slice(&(mode << 16).to_le_bytes());
        bytes
    }

    #[test]
    fn a_good_zip_replaces_the_site() {
        let scene = Scene::new();
        let z = zip_of(|w| {
            w.add_directory("public/", opts()).expect("dir");
            file(w, "public/index.html", b"zip hello");
        });
        scene.fetch("site.data", &z, 1 << 20).expect("fetch");
        let page = fs::read_to_string(scene.site().join("public/index.html")).expect("read");
        assert_eq!(page, "zip hello");
    }

    #[test]
    fn zip_absolute_and_parent_paths_are_refused() {
        let scene = Scene::new();
        let abs = scene
            .grand
            .path()
            .join("abs.txt")
            .to_string_lossy()
            .into_owned();
        let r = scene.fetch("a.zip", &zip_of(|w| file(w, &abs, b"x")), 1 << 20);
        assert_refused(&scene, r, &abs, "absolute");
        let r = scene.fetch(
            "b.zip",
            &zip_of(|w| file(w, "../../../escape.txt", b"x")),
            1 << 20,
        );
        assert_refused(&scene, r, "../../../escape.txt", "`..`");
    }

    #[test]
    fn zip_symlink_escape_then_write_through_it_is_refused() {
        let scene = Scene::new();
        let z = zip_of(|w| {
            w.add_symlink("link", "../../..", opts()).expect("symlink");
            file(w, "link/escape.txt", b"x");
        });
        let r = scene.fetch("a.zip", &z, 1 << 20);
        assert_refused(&scene, r, "link", "outside the tree");
    }

    #[test]
    fn zip_fifo_and_device_are_refused() {
        let scene = Scene::new();
        for (mode, words) in [(0o010644, "FIFO"), (0o020644, "character device")] {
            let z = set_type(zip_of(|w| file(w, "special", b"")), mode);
            let r = scene.fetch("a.zip", &z, 1 << 20);
            assert_refused(&scene, r, "special", words);
        }
    }

    #[test]
    fn zip_bomb_past_the_limit_is_refused() {
        let scene = Scene::new();
        let zeros = vec![0u8; 1 << 20];
        let z = zip_of(|w| {
            let o = opts().compression_method(zip::CompressionMethod::Deflated);
            w.start_file("zeros.bin", o).expect("start");
            w.write_all(&zeros).expect("write");
        });
        assert!(z.len() < 8192, "a bomb: small packed, big unpacked");
        let r = scene.fetch("bomb.zip", &z, 100_000);
        assert_refused(&scene, r, "zeros.bin", "limit of 100000 bytes");
    }

    #[test]
    fn truncated_zip_is_refused() {
        let scene = Scene::new();
        let z = zip_of(|w| file(w, "a.txt", &[7u8; 10_000]));
        let r = scene.fetch("cut.zip", &z[..z.len() / 2], 1 << 20);
        assert!(r.is_err());
        scene.assert_untouched();
    }
}
