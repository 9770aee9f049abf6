//! The applied-config marker: after each config the proxy applies, the SHA-256 of the
//! file's bytes, written atomically to a file the caller named. Whoever wrote the config
//! (the daemon, for `lcc up --wait`) can then tell when the proxy serves it, without
//! asking the proxy over the network.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// The marker's text for a config file's bytes: the lower-case hex digest and a newline.
pub fn digest(config: &[u8]) -> String {
    format!("{:x}\n", Sha256::digest(config))
}

/// Writes the marker for `config` to `path` (temp file in the same directory, fsync,
/// rename): a reader sees the old digest or the new one, never a torn one.
pub fn write(path: &Path, config: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let mut file = tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new(".")))?;
    file.write_all(digest(config).as_bytes())?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_of_the_bytes_replaces_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("proxy.applied");
        write(&path, b"version: 1\n").unwrap();
        write(&path, b"abc").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
