//! sha256 helpers: checking a `--sha256` value and hashing files and streams.

use crate::error::FetchError;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Checks that `value` is 64 hex digits and returns it in lower case.
pub(crate) fn normalize(value: &str) -> Result<String, FetchError> {
    let lower = value.trim().to_ascii_lowercase();
    if lower.len() == 64 && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(lower)
    } else {
        Err(FetchError::BadSha256 {
            value: value.to_owned(),
        })
    }
}

/// The sha256 of a file's content, in lower-case hex.
pub(crate) fn hash_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_accepts_hex_only() {
        let upper = "AB".repeat(32);
        assert_eq!(normalize(&upper).ok(), Some("ab".repeat(32)));
        assert!(normalize("xyz").is_err());
        assert!(normalize(&"g".repeat(64)).is_err());
    }
}
