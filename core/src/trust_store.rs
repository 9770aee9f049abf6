//! The system's store of trusted authorities, where `lcc cert ca --install` puts the
//! local CA: Debian's (and Ubuntu's) `/usr/local/share/ca-certificates/` with
//! `update-ca-certificates`, or Fedora's (RHEL's) `/etc/pki/ca-trust/source/anchors/`
//! with `update-ca-trust extract`. Both rebuild the bundle most programs read (curl,
//! Python, Go, OpenSSL); browsers keep stores of their own.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The file name the CA is installed under.
pub const FILE_NAME: &str = "lcc-local-ca.crt";

/// A kind of system store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// `update-ca-certificates` over `/usr/local/share/ca-certificates/`.
    Debian,
    /// `update-ca-trust extract` over `/etc/pki/ca-trust/source/anchors/`.
    Fedora,
}

impl Store {
    /// The directory an administrator's authorities go in.
    pub fn dir(self) -> &'static Path {
        Path::new(match self {
            Store::Debian => "/usr/local/share/ca-certificates",
            Store::Fedora => "/etc/pki/ca-trust/source/anchors",
        })
    }

    /// The command that rebuilds the bundle from it.
    pub fn update(self) -> &'static [&'static str] {
        match self {
            Store::Debian => &["update-ca-certificates"],
            Store::Fedora => &["update-ca-trust", "extract"],
        }
    }

    /// Where the CA goes.
    pub fn target(self) -> PathBuf {
        self.dir().join(FILE_NAME)
    }
}

/// The store of this system: the first whose directory exists and whose update command
/// `found` finds (Debian's first, as a Debian system with Fedora's tools installed
/// still reads its own bundle).
pub fn detect(is_dir: impl Fn(&Path) -> bool, found: impl Fn(&str) -> bool) -> Option<Store> {
    [Store::Debian, Store::Fedora]
        .into_iter()
        .find(|s| is_dir(s.dir()) && found(s.update()[0]))
}

/// True when `program` is an executable file in a `PATH` directory or in `/usr/sbin`
/// and `/sbin` (where these commands live, often off a user's `PATH`).
pub fn on_path(program: &str) -> bool {
    which(program).is_some()
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin".into(), "/sbin".into()]);
    for dir in dirs {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    None
}

/// Why the CA could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// No store this module knows.
    #[error(
        "no system store known here (Debian's /usr/local/share/ca-certificates with \
         update-ca-certificates, Fedora's /etc/pki/ca-trust/source/anchors with \
         update-ca-trust); trust {cert} by hand"
    )]
    NoStore {
        /// The CA certificate.
        cert: PathBuf,
    },
    /// The CA certificate cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The CA certificate.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The store's directory cannot be written (it is root's).
    #[error(
        "cannot write {target}: {source}; the system store is root's: run \
         `sudo cp {cert} {target} && sudo {update}`"
    )]
    Write {
        /// The file it would be.
        target: PathBuf,
        /// The CA certificate.
        cert: PathBuf,
        /// The update command, as typed.
        update: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The update command failed.
    #[error("{update} failed ({status}): {output}")]
    Update {
        /// The command, as typed.
        update: String,
        /// Its exit status.
        status: String,
        /// What it wrote.
        output: String,
    },
}

/// What [`install`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The store.
    pub store: Store,
    /// The file written.
    pub target: PathBuf,
    /// False when that file already held this certificate (the update ran anyway).
    pub changed: bool,
}

/// Copies the CA certificate `cert` into this system's store and runs its update.
pub fn install(cert: &Path) -> Result<Installed, InstallError> {
    let store = detect(Path::is_dir, on_path).ok_or_else(|| InstallError::NoStore {
        cert: cert.to_path_buf(),
    })?;
    let target = store.target();
    let update = store.update().join(" ");
    let write_err = |source| InstallError::Write {
        target: target.clone(),
        cert: cert.to_path_buf(),
        update: update.clone(),
        source,
    };
    let pem = std::fs::read(cert).map_err(|source| InstallError::Read {
        path: cert.to_path_buf(),
        source,
    })?;
    let changed = std::fs::read(&target).ok().as_deref() != Some(pem.as_slice());
    if changed {
        crate::atomic::write_atomic_mode(&target, &pem, 0o644).map_err(write_err)?;
    }
    let program = which(store.update()[0]).unwrap_or_else(|| store.update()[0].into());
    let out = Command::new(program)
        .args(&store.update()[1..])
        .output()
        .map_err(|e| InstallError::Update {
            update: update.clone(),
            status: "not run".into(),
            output: e.to_string(),
        })?;
    if !out.status.success() {
        let mut output = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if output.is_empty() {
            output = String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        return Err(InstallError::Update {
            update,
            status: out.status.to_string(),
            output,
        });
    }
    Ok(Installed {
        store,
        target,
        changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_the_first_with_its_directory_and_its_command() {
        let debian = "/usr/local/share/ca-certificates";
        let fedora = "/etc/pki/ca-trust/source/anchors";
        let cases: [(&[&str], &[&str], Option<Store>); 5] = [
            (&[debian], &["update-ca-certificates"], Some(Store::Debian)),
            (&[fedora], &["update-ca-trust"], Some(Store::Fedora)),
            (
                &[debian, fedora],
                &["update-ca-certificates", "update-ca-trust"],
                Some(Store::Debian),
            ),
            (&[debian, fedora], &["update-ca-trust"], Some(Store::Fedora)),
            (&[debian], &[], None),
        ];
        for (dirs, programs, want) in cases {
            let got = detect(
                |d| dirs.iter().any(|x| Path::new(x) == d),
                |p| programs.contains(&p),
            );
            assert_eq!(got, want, "{dirs:?} {programs:?}");
        }
        assert_eq!(
            Store::Debian.target(),
            Path::new("/usr/local/share/ca-certificates/lcc-local-ca.crt")
        );
    }
}
