//! A file's digest as a sync compares it: SHA-256 of the content, hex, with `+x` when
//! the file is executable (a script that loses its mode would no longer run). Both
//! sides compute it with this one function.

use sha2::{Digest, Sha256};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The digest of `content` with its executable bit.
pub fn of_bytes(content: &[u8], executable: bool) -> String {
    let hex = hex::encode(Sha256::digest(content));
    if executable {
        format!("{hex}+x")
    } else {
        hex
    }
}

/// The digest of the file at `path` (read in chunks; symbolic links not followed).
pub fn of_file(path: &Path) -> std::io::Result<String> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a plain file"));
    }
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let hex = hex::encode(hasher.finalize());
    Ok(if is_executable(meta.permissions().mode()) {
        format!("{hex}+x")
    } else {
        hex
    })
}

/// Whether a mode has any executable bit.
pub fn is_executable(mode: u32) -> bool {
    mode & 0o111 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let table = [
            (&b""[..], false, empty.to_string()),
            (&b""[..], true, format!("{empty}+x")),
            (
                &b"abc"[..],
                false,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_string(),
            ),
        ];
        for (content, x, expected) in table {
            assert_eq!(of_bytes(content, x), expected);
        }
    }

    #[test]
    fn a_file_digest_matches_its_bytes_and_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run.sh");
        std::fs::write(&path, b"echo hi\n").expect("write");
        assert_eq!(
            of_file(&path).expect("digest"),
            of_bytes(b"echo hi\n", false)
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(
            of_file(&path).expect("digest"),
            of_bytes(b"echo hi\n", true)
        );
        std::os::unix::fs::symlink(&path, dir.path().join("link")).expect("symlink");
        assert!(
            of_file(&dir.path().join("link")).is_err(),
            "links are not followed"
        );
    }
}
