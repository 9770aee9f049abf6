//! HTTP(S) download into a temporary file, hashed on the way, with a progress bar on a
//! terminal.

use crate::error::FetchError;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::time::Duration;
use tempfile::NamedTempFile;

/// A completed download: the file (deleted on drop unless persisted) and its sha256.
#[derive(Debug)]
pub(crate) struct Downloaded {
    /// The downloaded bytes.
    pub file: NamedTempFile,
    /// Their sha256 in lower-case hex.
    pub sha256: String,
}

/// Downloads `url` into a temporary file in `dir`.
pub(crate) fn download(url: &str, dir: &Path) -> Result<Downloaded, FetchError> {
    let http = |reason: String| FetchError::Http {
        url: url.to_owned(),
        reason,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        // A stalled transfer fails instead of hanging the pod's `run` forever.
        .timeout_per_read(Some(Duration::from_secs(60)))
        .accept_encoding(ureq::config::AutoHeaderValue::None)
        // the system's trust store (and SSL_CERT_FILE / SSL_CERT_DIR), as curl and wget
        // use: a CA the machine trusts (a company's, `lcc cert ca --install`) is trusted
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                .build(),
        )
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| http(describe(&e)))?;
    let length = response.body().content_length();
    let mut reader = response.into_body().into_reader();
    let io_err = |path: &Path, source| FetchError::Io {
        url: url.to_owned(),
        path: path.to_path_buf(),
        source,
    };
    let mut file = NamedTempFile::new_in(dir).map_err(|e| io_err(dir, e))?;
    let bar = progress(length);
    let copied = copy_hashed(&mut reader, &mut file, &bar);
    bar.finish_and_clear();
    let (received, sha256) = match copied {
        Ok(done) => done,
        Err(Failure::Read(received, e)) => {
            return Err(http(format!("body cut after {received} bytes: {e}")))
        }
        Err(Failure::Write(e)) => return Err(io_err(file.path(), e)),
    };
    if let Some(expected) = length.filter(|l| *l != received) {
        return Err(http(format!(
            "body cut after {received} of {expected} bytes"
        )));
    }
    file.as_file()
        .sync_all()
        .map_err(|e| io_err(file.path(), e))?;
    Ok(Downloaded { file, sha256 })
}

/// Why copying the body stopped.
enum Failure {
    /// Reading from the server failed after this many bytes.
    Read(u64, std::io::Error),
    /// Writing the temporary file failed.
    Write(std::io::Error),
}

/// Copies the body into `out`, hashing and reporting progress; the byte count and sha256.
fn copy_hashed(
    reader: &mut dyn Read,
    out: &mut NamedTempFile,
    bar: &ProgressBar,
) -> Result<(u64, String), Failure> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 128 * 1024];
    let mut received = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok((received, hex::encode(hasher.finalize()))),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Read(received, e)),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(Failure::Write)?;
        received += n as u64;
        bar.set_position(received);
    }
}

/// A progress bar on stderr when it is a terminal, else a hidden one.
fn progress(length: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match length {
        Some(len) => {
            let bar = ProgressBar::new(len);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
            {
                bar.set_style(style);
            }
            bar
        }
        None => ProgressBar::new_spinner(),
    }
}

/// A ureq error in words, with the HTTP status spelled out.
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::StatusCode(code) => {
            let reason = http::StatusCode::from_u16(*code)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            format!("HTTP {code} {reason}").trim_end().to_owned()
        }
        ureq::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}
