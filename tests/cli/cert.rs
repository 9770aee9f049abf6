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

/// The system store's file for the local CA, put back as it was on drop.
struct StoreFile {
    path: std::path::PathBuf,
    before: Option<Vec<u8>>,
}

impl StoreFile {
    fn take(path: &std::path::Path) -> StoreFile {
        StoreFile {
            path: path.to_path_buf(),
            before: std::fs::read(path).ok(),
        }
    }

    fn restore(&self) {
        match &self.before {
            Some(pem) => std::fs::write(&self.path, pem).expect("restore"),
            None => {
                let _ = std::fs::remove_file(&self.path);
            }
        }
        // --fresh: a plain update leaves the links to a removed local CA dangling
        let done = Command::new("update-ca-certificates")
            .arg("--fresh")
            .output()
            .expect("update-ca-certificates");
        assert!(done.status.success(), "{done:?}");
    }
}

impl Drop for StoreFile {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        self.restore();
    }
}

/// `openssl verify` of `leaf` against the system's default store.
fn system_trusts(leaf: &std::path::Path) -> bool {
    let out = Command::new("openssl")
        .arg("verify")
        .arg(leaf)
        .output()
        .expect("run openssl");
    out.status.success()
}

#[test]
fn cert_ca_install_puts_the_ca_in_the_system_store_or_says_why_not() {
    let data = tempfile::tempdir().expect("tempdir");
    let install = || {
        Command::new(lcc_bin())
            .args(["cert", "ca", "--install"])
            .env("XDG_DATA_HOME", data.path())
            .output()
            .expect("run lcc")
    };
    let target = std::path::Path::new("/usr/local/share/ca-certificates/lcc-local-ca.crt");
    let is_root = nix::unistd::geteuid().is_root();
    if !is_root || !target.parent().is_some_and(|d| d.is_dir()) {
        // not root (CI runs as root): refused with the commands to run instead
        let out = install();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains("sudo cp") || err.contains("no system store known here"),
            "{err}"
        );
        return;
    }
    let store = StoreFile::take(target);
    let out = install();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ca = data.path().join("lcc/ca/ca.pem");
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some(ca.to_str().expect("utf-8")));
    lines.next();
    assert_eq!(
        lines.next(),
        Some(
            "installed it as /usr/local/share/ca-certificates/lcc-local-ca.crt and ran \
             update-ca-certificates: programs that read the system's bundle (curl, wget, \
             Python, Go, OpenSSL) trust it now."
        )
    );
    assert_eq!(
        std::fs::read(target).expect("installed"),
        std::fs::read(&ca).expect("ca")
    );
    // a leaf of the CA verifies against the system's store, with no CA named
    let files = lcc_core::ca::files(&data.path().join("lcc/ca"));
    let leaf = lcc_core::ca::Ca::load(&files)
        .expect("ca")
        .issue(&["docs.localhost".to_string()])
        .expect("leaf");
    let leaf_file = data.path().join("leaf.pem");
    let first = leaf
        .chain_pem
        .split_inclusive("-----END CERTIFICATE-----\n")
        .next();
    std::fs::write(&leaf_file, first.expect("leaf")).expect("write");
    assert!(system_trusts(&leaf_file));
    let again = install();
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("already installed as"),
        "{again:?}"
    );
    store.restore();
    assert!(!system_trusts(&leaf_file), "the store is put back");
    let links = std::fs::read_dir("/etc/ssl/certs").expect("certs");
    let left = links
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_symlink() && !e.path().exists())
        .count();
    assert_eq!(left, 0, "dangling links left in /etc/ssl/certs");
}
