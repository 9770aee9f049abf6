//! The applied-config marker: after each config the proxy applies, the digest of the
//! file's bytes ([`lcc_core::proxy_config::digest`]), written atomically to a file the
//! caller named. Whoever wrote the config (the daemon, for `lcc up --wait`) can then tell
//! when the proxy serves it, without asking the proxy over the network.

use lcc_core::proxy_config::digest;
use std::path::Path;

/// Writes the marker for `config` to `path`: a reader sees the old digest or the new
/// one, never a torn one.
pub(crate) fn write(path: &Path, config: &[u8]) -> std::io::Result<()> {
    lcc_core::atomic::write_atomic(path, digest(config).as_bytes())
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
