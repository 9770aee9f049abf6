//! The local certificate authority: made once under the user's data dir by `lcc cert ca`
//! (or by the daemon, the first time a cluster asks for https), trusted by the user,
//! and used by the proxy to issue a leaf certificate for each name it serves over TLS
//! that no file certificate covers. Its key never leaves the directory (0600 in 0700).

use crate::proxy_config::CertFiles;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use sha2::Digest;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// File name of the CA certificate (PEM) in its directory.
pub const CERT_FILE: &str = "ca.pem";
/// File name of the CA key (PEM, 0600) in its directory.
pub const KEY_FILE: &str = "ca.key";
/// How long an issued leaf certificate is valid.
pub const LEAF_DAYS: i64 = 90;

/// Why the CA cannot be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// The user's data directory is not known.
    #[error("no data directory for this user (set XDG_DATA_HOME or HOME)")]
    NoDataDir,
    /// A file or directory of the CA cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The CA directory is a symbolic link, or the key is readable by others.
    #[error("{path}: {reason}")]
    Unsafe {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The certificate or key does not parse, or signing failed.
    #[error("{path}: {source}")]
    Cert {
        /// The file at fault (the CA certificate for a signing failure).
        path: PathBuf,
        /// The certificate library's error.
        #[source]
        source: rcgen::Error,
    },
}

/// `$XDG_DATA_HOME/lcc/ca` (else `~/.local/share/lcc/ca`).
pub fn default_dir() -> Result<PathBuf, CaError> {
    Ok(dirs::data_dir().ok_or(CaError::NoDataDir)?.join("lcc/ca"))
}

/// The CA's files in `dir`.
pub fn files(dir: &Path) -> CertFiles {
    CertFiles {
        cert: dir.join(CERT_FILE),
        key: dir.join(KEY_FILE),
    }
}

/// Makes the CA in `dir` unless it is there: returns its files and whether it was made
/// now. The directory is 0700 and the key 0600; a directory that is a symbolic link is
/// refused.
pub fn ensure(dir: &Path) -> Result<(CertFiles, bool), CaError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CaError::Io { path, source }
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    if std::fs::symlink_metadata(dir)
        .map_err(io(dir))?
        .is_symlink()
    {
        return Err(CaError::Unsafe {
            path: dir.to_path_buf(),
            reason: "is a symbolic link".into(),
        });
    }
    let files = files(dir);
    if files.cert.exists() && files.key.exists() {
        check_key_mode(&files.key)?;
        return Ok((files, false));
    }
    let key = KeyPair::generate().map_err(cert_err(&files.cert))?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    // a name of its own: two CAs of one name (two users, or a CA made again) would
    // have clients check one's certificates with the other's key
    let id = sha2::Sha256::digest(key.public_key_raw());
    name.push(
        DnType::CommonName,
        format!("lcc local CA {}", hex::encode(&id[..4])),
    );
    name.push(DnType::OrganizationName, "Local Cluster");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(10 * 365);
    let cert = params.self_signed(&key).map_err(cert_err(&files.cert))?;
    // the key first: a certificate without its key would pass for a whole CA
    crate::atomic::write_atomic_mode(&files.key, key.serialize_pem().as_bytes(), 0o600)
        .map_err(io(&files.key))?;
    crate::atomic::write_atomic_mode(&files.cert, cert.pem().as_bytes(), 0o644)
        .map_err(io(&files.cert))?;
    Ok((files, true))
}

fn cert_err(path: &Path) -> impl FnOnce(rcgen::Error) -> CaError {
    let path = path.to_path_buf();
    move |source| CaError::Cert { path, source }
}

fn check_key_mode(key: &Path) -> Result<(), CaError> {
    let meta = std::fs::symlink_metadata(key).map_err(|source| CaError::Io {
        path: key.to_path_buf(),
        source,
    })?;
    if meta.is_symlink() || meta.permissions().mode() & 0o077 != 0 {
        return Err(CaError::Unsafe {
            path: key.to_path_buf(),
            reason: "must be a file only its owner can read (chmod 600)".into(),
        });
    }
    Ok(())
}

/// A loaded CA, ready to issue.
#[derive(Debug)]
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub cert_pem: String,
}

/// A leaf certificate and its key, PEM.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The leaf certificate then the CA's.
    pub chain_pem: String,
    /// Its private key.
    pub key_pem: String,
}

impl Ca {
    /// Reads the CA from its files.
    pub fn load(files: &CertFiles) -> Result<Ca, CaError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| CaError::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        check_key_mode(&files.key)?;
        let cert_pem = read(&files.cert)?;
        let key = KeyPair::from_pem(&read(&files.key)?).map_err(cert_err(&files.key))?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).map_err(cert_err(&files.cert))?;
        Ok(Ca { issuer, cert_pem })
    }

    /// Issues a leaf for `names` (DNS names, or IP addresses) valid from a day ago for
    /// [`LEAF_DAYS`], with a fresh key.
    pub fn issue(&self, names: &[String]) -> Result<Leaf, rcgen::Error> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => n.clone().try_into().map(SanType::DnsName),
            })
            .collect::<Result<_, _>>()?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(LEAF_DAYS);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Leaf {
            chain_pem: format!("{}{}", cert.pem(), self.cert_pem),
            key_pem: key.serialize_pem(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_made_once_with_a_private_key_and_issues_leaves() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("lcc/ca");
        let (files, made) = ensure(&dir).expect("made");
        assert!(made);
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&files.key), 0o600);
        assert_eq!(mode(&dir), 0o700);
        let pem = std::fs::read(&files.cert).expect("cert");
        let (again, made) = ensure(&dir).expect("kept");
        assert!(!made);
        assert_eq!(again, files);
        assert_eq!(std::fs::read(&files.cert).expect("cert"), pem);
        let ca = Ca::load(&files).expect("loads");
        let leaf = ca
            .issue(&["docs.localhost".into(), "127.0.0.1".into()])
            .expect("issued");
        assert_eq!(leaf.chain_pem.matches("BEGIN CERTIFICATE").count(), 2);
        std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        assert!(matches!(Ca::load(&files), Err(CaError::Unsafe { .. })));
    }
}
