//! Certificates for the https listener: a PEM chain and key loaded from files (refused
//! with a reason when unreadable or when the key is not the certificate's, and noted when
//! expired), and leaves issued by the local CA on demand. A file is loaded again only
//! when it changed on disk, and a refused file leaves the last good certificate serving.

use lcc_core::ca::Ca;
use lcc_core::proxy_config::CertFiles;
use rustls::crypto::ring::sign::any_supported_type;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why a certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CertError {
    /// A file cannot be read.
    #[error("{path}: cannot read: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The system's error.
        reason: String,
    },
    /// The certificate file holds no PEM certificate.
    #[error("{0}: no PEM certificate in it")]
    NoCert(PathBuf),
    /// The key file holds no PEM private key (or one of a kind not supported).
    #[error("{path}: not a usable PEM private key: {reason}")]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key is not the certificate's.
    #[error("{key} is not the key of {cert}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The local CA cannot issue.
    #[error("the local CA cannot issue a certificate: {0}")]
    Ca(String),
}

/// What identifies a version of a file on disk: device, inode, size and mtime; a
/// replaced (renamed into place) or rewritten file has another.
pub(crate) type Stamp = Option<(u64, u64, u64, i64, i64)>;

/// The [`Stamp`] of `path`, `None` when it cannot be read.
pub(crate) fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
}

/// A loaded certificate, as served.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    /// The chain and signing key.
    pub(crate) key: Arc<CertifiedKey>,
    /// The leaf's end of validity.
    pub(crate) not_after: Option<SystemTime>,
}

/// Loads a certificate chain and its key, checking that they belong together.
pub(crate) fn load(files: &CertFiles) -> Result<Loaded, CertError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| CertError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    };
    let (cert, key) = (read(&files.cert)?, read(&files.key)?);
    from_pem(&cert, &key, files)
}

/// [`load`] for PEM text already read; `files` only names them in errors.
pub(crate) fn from_pem(cert: &[u8], key: &[u8], files: &CertFiles) -> Result<Loaded, CertError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<_, _>>()
        .map_err(|_| CertError::NoCert(files.cert.clone()))?;
    if chain.is_empty() {
        return Err(CertError::NoCert(files.cert.clone()));
    }
    let bad_key = |reason: String| CertError::BadKey {
        path: files.key.clone(),
        reason,
    };
    let der = PrivateKeyDer::from_pem_slice(key).map_err(|e| bad_key(e.to_string()))?;
    let signer = any_supported_type(&der).map_err(|e| bad_key(e.to_string()))?;
    let not_after = not_after(&chain[0]);
    let certified = CertifiedKey::new(chain, signer);
    certified.keys_match().map_err(|_| CertError::Mismatch {
        cert: files.cert.clone(),
        key: files.key.clone(),
    })?;
    Ok(Loaded {
        key: Arc::new(certified),
        not_after,
    })
}

/// The end of validity of a DER certificate.
fn not_after(cert: &CertificateDer<'_>) -> Option<SystemTime> {
    let (_, x509) = x509_parser::parse_x509_certificate(cert).ok()?;
    let secs = x509.validity().not_after.timestamp();
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// True when a certificate valid until `not_after` has expired at `now`.
pub(crate) fn expired(not_after: Option<SystemTime>, now: SystemTime) -> bool {
    not_after.is_some_and(|t| t <= now)
}

/// A certificate file pair as last loaded: what the files were and what they gave.
#[derive(Debug, Clone)]
struct Entry {
    stamps: (Stamp, Stamp),
    result: Result<Loaded, CertError>,
    /// The last certificate that loaded from these files, served while they are refused.
    good: Option<Loaded>,
}

/// Every certificate file pair loaded, kept across reloads.
#[derive(Debug, Default)]
pub(crate) struct Store {
    entries: HashMap<CertFiles, Entry>,
}

/// What a [`Store::get`] found.
#[derive(Debug, Clone)]
pub(crate) struct Got {
    /// The certificate to serve, if any (the last good one when the files are refused).
    pub(crate) serve: Option<Loaded>,
    /// Why the files are refused now, if they are.
    pub(crate) refused: Option<CertError>,
    /// True when they were (re)loaded by this call.
    pub(crate) fresh: bool,
}

impl Store {
    /// The certificate of `files`, loaded again when either file changed.
    pub(crate) fn get(&mut self, files: &CertFiles) -> Got {
        let stamps = (stamp(&files.cert), stamp(&files.key));
        let known = self.entries.get(files).filter(|e| e.stamps == stamps);
        let fresh = known.is_none();
        let entry = match known {
            Some(e) => e.clone(),
            None => {
                let result = load(files);
                let good = match &result {
                    Ok(l) => Some(l.clone()),
                    Err(_) => self.entries.get(files).and_then(|e| e.good.clone()),
                };
                let entry = Entry {
                    stamps,
                    result,
                    good,
                };
                self.entries.insert(files.clone(), entry.clone());
                entry
            }
        };
        Got {
            serve: entry.good,
            refused: entry.result.err(),
            fresh,
        }
    }

    /// True when a file of a pair in use changed since it was loaded.
    pub(crate) fn changed(&self) -> bool {
        self.entries
            .iter()
            .any(|(f, e)| e.stamps != (stamp(&f.cert), stamp(&f.key)))
    }

    /// Forgets the pairs not in `used`.
    pub(crate) fn keep_only(&mut self, used: &[&CertFiles]) {
        self.entries.retain(|f, _| used.contains(&f));
    }
}

/// The local CA with the leaves it issued, by name.
#[derive(Debug)]
pub(crate) struct Issuing {
    ca: Ca,
    /// The CA files and their stamps, to know when to load it again.
    pub(crate) files: CertFiles,
    pub(crate) stamps: (Stamp, Stamp),
    leaves: Mutex<HashMap<Vec<String>, Arc<CertifiedKey>>>,
}

impl Issuing {
    /// Loads the CA.
    pub(crate) fn load(files: &CertFiles) -> Result<Issuing, CertError> {
        let stamps = (stamp(&files.cert), stamp(&files.key));
        let ca = Ca::load(files).map_err(|e| CertError::Ca(e.to_string()))?;
        Ok(Issuing {
            ca,
            files: files.clone(),
            stamps,
            leaves: Mutex::new(HashMap::new()),
        })
    }

    /// True when the CA files are the ones loaded.
    pub(crate) fn current(&self, files: &CertFiles) -> bool {
        self.files == *files && self.stamps == (stamp(&files.cert), stamp(&files.key))
    }

    /// The leaf for `names`, issued on first use.
    pub(crate) fn leaf(&self, names: &[String]) -> Result<Arc<CertifiedKey>, CertError> {
        let mut leaves = self.leaves.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = leaves.get(names) {
            return Ok(k.clone());
        }
        // the cache is bounded by the names asked for: a flood of made-up names under
        // *.localhost is capped by starting over
        if leaves.len() >= 1024 {
            leaves.clear();
        }
        let leaf = self
            .ca
            .issue(names)
            .map_err(|e| CertError::Ca(e.to_string()))?;
        let files = CertFiles {
            cert: PathBuf::from("(issued)"),
            key: PathBuf::from("(issued)"),
        };
        let loaded = from_pem(leaf.chain_pem.as_bytes(), leaf.key_pem.as_bytes(), &files)?;
        leaves.insert(names.to_vec(), loaded.key.clone());
        Ok(loaded.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, ca: &Ca, name: &str) -> CertFiles {
        let leaf = ca.issue(&[name.to_string()]).expect("issue");
        let files = CertFiles {
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, leaf.chain_pem).expect("cert");
        std::fs::write(&files.key, leaf.key_pem).expect("key");
        files
    }

    #[test]
    fn a_refused_pair_keeps_the_last_good_certificate_and_says_why() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (ca_files, _) = lcc_core::ca::ensure(&tmp.path().join("ca")).expect("ca");
        let ca = Ca::load(&ca_files).expect("ca");
        let a = pair(tmp.path(), &ca, "a.localhost");
        let b = pair(tmp.path(), &ca, "b.localhost");
        let mut store = Store::default();
        let got = store.get(&a);
        assert!(got.serve.is_some() && got.refused.is_none() && got.fresh);
        assert!(!store.get(&a).fresh, "unchanged files are not loaded again");
        // a's key replaced by b's: refused, a's first certificate keeps serving
        std::fs::copy(&b.key, &a.key).expect("copy");
        assert!(store.changed());
        let got = store.get(&a);
        assert_eq!(
            got.refused,
            Some(CertError::Mismatch {
                cert: a.cert.clone(),
                key: a.key.clone()
            })
        );
        assert!(got.serve.is_some());
        std::fs::write(&a.cert, "not pem").expect("write");
        assert_eq!(
            store.get(&a).refused,
            Some(CertError::NoCert(a.cert.clone()))
        );
        std::fs::remove_file(&a.key).expect("rm");
        let got = store.get(&a);
        assert!(
            matches!(got.refused, Some(CertError::Read { .. })),
            "{got:?}"
        );
        assert!(got.serve.is_some());
        // never good: nothing to serve
        let mut fresh = Store::default();
        assert!(fresh.get(&a).serve.is_none());
    }

    #[test]
    fn expiry_is_after_not_after() {
        let t = UNIX_EPOCH + Duration::from_secs(1000);
        assert!(!expired(None, t));
        assert!(!expired(Some(t + Duration::from_secs(1)), t));
        assert!(expired(Some(t), t));
        assert!(expired(Some(t - Duration::from_secs(1)), t));
    }
}
