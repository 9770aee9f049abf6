//! Fault family 8b, hostile archives at `lcc fetch`: tar, tar.gz and zip files built
//! byte by byte here (path traversal, absolute names, symlink and hard-link escapes,
//! devices, bombs past --max-size, truncation, garbage), each fetched by the real binary
//! into an existing site: refused with the entry named, no panic, the old site intact and
//! nothing written anywhere else.

use crate::support::{listing, run_with_deadline, Bounded};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// One tar entry: name, type flag, link target, data and the size written in the header.
struct Entry {
    name: String,
    kind: u8,
    link: String,
    data: Vec<u8>,
    size: u64,
}

fn file(name: &str, data: &[u8]) -> Entry {
    Entry {
        name: name.into(),
        kind: b'0',
        link: String::new(),
        data: data.to_vec(),
        size: data.len() as u64,
    }
}

fn link(name: &str, kind: u8, target: &str) -> Entry {
    Entry {
        name: name.into(),
        kind,
        link: target.into(),
        data: Vec::new(),
        size: 0,
    }
}

/// A ustar header for `e`; sizes that do not fit 11 octal digits use base-256.
fn header(e: &Entry) -> [u8; 512] {
    let mut h = [0u8; 512];
    let put =
        |h: &mut [u8; 512], at: usize, bytes: &[u8]| h[at..at + bytes.len()].copy_from_slice(bytes);
    put(&mut h, 0, e.name.as_bytes());
    put(&mut h, 100, b"0000644\0");
    put(&mut h, 108, b"0000000\0");
    put(&mut h, 116, b"0000000\0");
    if e.size < 0o77777777777 {
        put(&mut h, 124, format!("{:011o}\0", e.size).as_bytes());
    } else {
        let mut field = [0u8; 12];
        field[0] = 0x80;
        field[4..].copy_from_slice(&e.size.to_be_bytes());
        put(&mut h, 124, &field);
    }
    put(&mut h, 136, b"00000000000\0");
    h[156] = e.kind;
    put(&mut h, 157, e.link.as_bytes());
    put(&mut h, 257, b"ustar\x0000");
    put(&mut h, 329, b"0000001\0");
    put(&mut h, 337, b"0000003\0");
    put(&mut h, 148, b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A complete tar archive of `entries`.
fn tar(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&header(e));
        out.extend_from_slice(&e.data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// CRC-32 (IEEE), bit by bit: small inputs only.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A stored (uncompressed) zip of `(name, unix mode, data)` entries.
fn zip(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for &(name, mode, data) in entries {
        let offset = out.len() as u32;
        let (crc, len, nlen) = (crc32(data), data.len() as u32, name.len() as u16);
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        for v in [crc, len, len] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&nlen.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        for v in [crc, len, len] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        central.extend_from_slice(&nlen.to_le_bytes());
        central.extend_from_slice(&[0; 8]);
        central.extend_from_slice(&(mode << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_len, n) = (out.len() as u32, central.len() as u32, entries.len() as u16);
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&cd_len.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

/// Gzips the tar of one file of `zeros` zero bytes with the system gzip, streaming.
fn gz_bomb(zeros: usize) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let e = Entry {
            name: "zeros.bin".into(),
            kind: b'0',
            link: String::new(),
            data: Vec::new(),
            size: zeros as u64,
        };
        stdin.write_all(&header(&e)).expect("header");
        let chunk = vec![0u8; 1 << 20];
        let mut left = zeros.next_multiple_of(512) + 1024;
        while left > 0 {
            let n = left.min(chunk.len());
            stdin.write_all(&chunk[..n]).expect("zeros");
            left -= n;
        }
    });
    let out = child.wait_with_output().expect("gzip output");
    writer.join().expect("writer");
    out.stdout
}

/// A grandparent `g`, the site's parent `g/p`, the site `g/p/site` (old.txt, and lcc's
/// `.lcc-site` mark so that the archive, not the target, decides), a secret file
/// `g/secret` that a hard link could try to reach, and a private cache.
struct Scene {
    root: tempfile::TempDir,
    archives: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("g/p/site")).expect("mkdir");
        std::fs::write(root.path().join("g/p/site/old.txt"), "old site").expect("write");
        let mark = lcc_core::ownership::SiteMark {
            source: "old.tar".into(),
            sha256: "0".repeat(64),
        };
        std::fs::write(root.path().join("g/p/site/.lcc-site"), mark.text()).expect("mark");
        std::fs::write(root.path().join("g/secret"), "secret").expect("write");
        Scene {
            root,
            archives: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn site(&self) -> PathBuf {
        self.root.path().join("g/p/site")
    }

    /// Fetches `bytes` saved as `name` with the real `lcc fetch`.
    fn fetch(&self, name: &str, bytes: &[u8], max_size: u64) -> Bounded {
        let path = self.archives.path().join(name);
        std::fs::write(&path, bytes).expect("write archive");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lcc"));
        cmd.arg("fetch")
            .arg(&path)
            .arg("--into")
            .arg(self.site())
            .arg("--max-size")
            .arg(max_size.to_string())
            .env("XDG_CACHE_HOME", self.archives.path().join("cache"))
            .env("HOME", self.archives.path());
        run_with_deadline(cmd, Duration::from_secs(20))
    }
}

/// Fetches one hostile archive and returns every way the refusal fell short.
fn refused(name: &str, bytes: &[u8], max_size: u64, words: &[&str]) -> Vec<String> {
    let scene = Scene::new();
    let before = listing(scene.root.path());
    let run = scene.fetch(name, bytes, max_size);
    let err = run.err();
    let mut problems = Vec::new();
    if run.timed_out || run.code != Some(1) {
        problems.push(format!(
            "{name}: exit {:?} (timed out: {}), want 1; stderr: {err}",
            run.code, run.timed_out
        ));
    }
    if err.contains("panicked") {
        problems.push(format!("{name}: panicked: {err}"));
    }
    for w in words {
        if !err.contains(w) {
            problems.push(format!("{name}: stderr does not name `{w}`: {err}"));
        }
    }
    if listing(scene.root.path()) != before {
        problems.push(format!(
            "{name}: the tree changed: {:?} -> {:?}",
            before,
            listing(scene.root.path())
        ));
    }
    let secret = std::fs::read_to_string(scene.root.path().join("g/secret")).unwrap_or_default();
    let old = std::fs::read_to_string(scene.site().join("old.txt")).unwrap_or_default();
    if secret != "secret" || old != "old site" {
        problems.push(format!(
            "{name}: a file was changed: secret={secret:?} old.txt={old:?}"
        ));
    }
    if !Path::new("/tmp/lcc-faults-escaped").exists() {
        return problems;
    }
    problems.push(format!("{name}: /tmp/lcc-faults-escaped was written"));
    let _ = std::fs::remove_file("/tmp/lcc-faults-escaped");
    problems
}

/// Every hostile archive with the words its refusal must contain.
fn corpus() -> Vec<(String, Vec<u8>, u64, Vec<&'static str>)> {
    let ok = file("index.html", b"hi");
    let mut cases = vec![
        (
            "absolute.tar",
            tar(&[file("/tmp/lcc-faults-escaped", b"x")]),
            "/tmp/lcc-faults-escaped",
        ),
        (
            "parent.tar",
            tar(&[file("index.html", b"hi"), file("a/../../escaped.txt", b"x")]),
            "escaped.txt",
        ),
        (
            "deep-parent.tar",
            tar(&[file("../../../../../../../../tmp/lcc-faults-escaped", b"x")]),
            "lcc-faults-escaped",
        ),
        (
            "symlink-out.tar",
            tar(&[link("up", b'2', "../.."), file("up/escaped.txt", b"x")]),
            "up",
        ),
        (
            "symlink-abs.tar",
            tar(&[
                link("tmp", b'2', "/tmp"),
                file("tmp/lcc-faults-escaped", b"x"),
            ]),
            "tmp",
        ),
        (
            "symlink-chain.tar",
            tar(&[
                file("a/x", b"x"),
                link("a/b", b'2', ".."),
                link("c", b'2', "a/b/.."),
                file("c/escaped.txt", b"x"),
            ]),
            "c",
        ),
        (
            "hardlink-out.tar",
            tar(&[link("h", b'1', "../../secret"), file("h", b"pwned")]),
            "h",
        ),
        (
            "hardlink-abs.tar",
            tar(&[link("passwd", b'1', "/etc/passwd")]),
            "passwd",
        ),
        (
            "hardlink-via-symlink.tar",
            tar(&[link("s", b'2', "."), link("h", b'1', "s/../../secret")]),
            "h",
        ),
        ("chardev.tar", tar(&[ok, link("null", b'3', "")]), "null"),
        ("blockdev.tar", tar(&[link("sda", b'4', "")]), "sda"),
        ("fifo.tar", tar(&[link("pipe", b'6', "")]), "pipe"),
        (
            "truncated.tar",
            tar(&[file("big.txt", &[b'a'; 4096])])[..1500].to_vec(),
            "big.txt",
        ),
        (
            "huge-header.tar",
            tar(&[Entry {
                name: "tera.bin".into(),
                kind: b'0',
                link: String::new(),
                data: vec![0; 512],
                size: 1 << 40,
            }]),
            "tera.bin",
        ),
        (
            "zip-parent.zip",
            zip(&[
                ("index.html", 0o100644, b"hi"),
                ("../escaped.txt", 0o100644, b"x"),
            ]),
            "escaped.txt",
        ),
        (
            "zip-absolute.zip",
            zip(&[("/tmp/lcc-faults-escaped", 0o100644, b"x")]),
            "lcc-faults-escaped",
        ),
        (
            "zip-symlink.zip",
            zip(&[
                ("l", 0o120777, b"/tmp"),
                ("l/lcc-faults-escaped", 0o100644, b"x"),
            ]),
            "l",
        ),
        (
            "garbage.tar.gz",
            b"\x1f\x8b\x08\x00garbage that is not deflate at all".to_vec(),
            "",
        ),
        ("empty.tar", Vec::new(), ""),
    ]
    .into_iter()
    .map(|(n, b, w)| {
        (
            n.to_string(),
            b,
            1 << 20,
            if w.is_empty() { vec![] } else { vec![w] },
        )
    })
    .collect::<Vec<_>>();
    cases.push((
        "big-file.tar".into(),
        tar(&[file("big.bin", &vec![7u8; 3 << 20])]),
        1 << 20,
        vec!["big.bin"],
    ));
    cases.push((
        "many-files.tar".into(),
        tar(&(0..300)
            .map(|i| file(&format!("f{i}"), &[1u8; 8192]))
            .collect::<Vec<_>>()),
        1 << 20,
        vec![],
    ));
    cases
}

#[test]
fn hostile_archives_are_refused_and_nothing_is_written() {
    let start = std::time::Instant::now();
    let cases = corpus();
    let mut problems = Vec::new();
    for (name, bytes, max, words) in &cases {
        problems.extend(refused(name, bytes, *max, words));
    }
    eprintln!(
        "faults: hostile archives: {} injected, {} problems, {:?}",
        cases.len(),
        problems.len(),
        start.elapsed()
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n---\n")
    );
}

#[test]
fn a_gzip_bomb_past_max_size_is_refused_quickly() {
    let bomb = gz_bomb(64 << 20);
    assert!(
        bomb.len() < (1 << 20),
        "the bomb compresses well: {} bytes",
        bomb.len()
    );
    let start = std::time::Instant::now();
    let problems = refused("bomb.tar.gz", &bomb, 1 << 20, &["zeros.bin"]);
    eprintln!(
        "faults: gzip bomb ({} bytes -> 64 MiB, --max-size 1 MiB) refused in {:?}",
        bomb.len(),
        start.elapsed()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n---\n"));
}

#[test]
fn a_good_archive_still_installs_after_the_hostile_ones() {
    let scene = Scene::new();
    let run = scene.fetch("good.tar", &tar(&[file("index.html", b"hello")]), 1 << 20);
    assert_eq!(run.code, Some(0), "{}", run.err());
    let got = std::fs::read_to_string(scene.site().join("index.html")).expect("index.html");
    assert_eq!(got, "hello");
}
