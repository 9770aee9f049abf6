//! The API's bearer token, `.lcc/api.token` (0600): created at the first `lcc up`,
//! printed or replaced by `lcc api token [--rotate]`, compared in constant time.

use lcc_core::layout::Layout;
use std::io;
use subtle::ConstantTimeEq;

/// Bytes of randomness in a token (64 hex digits).
const BYTES: usize = 32;

/// The token, creating it (owner-only) when there is none.
pub fn ensure(layout: &Layout) -> io::Result<String> {
    match read(layout) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => rotate(layout),
        Err(e) => Err(e),
    }
}

/// The token as stored (an empty or unreadable file is an error).
pub fn read(layout: &Layout) -> io::Result<String> {
    let text = std::fs::read_to_string(layout.api_token())?;
    let token = text.trim().to_string();
    if token.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is empty", layout.api_token().display()),
        ));
    }
    Ok(token)
}

/// A new token, replacing the old one atomically; returns it.
pub fn rotate(layout: &Layout) -> io::Result<String> {
    let token = generate()?;
    lcc_core::atomic::write_atomic_mode(
        &layout.api_token(),
        format!("{token}\n").as_bytes(),
        0o600,
    )?;
    Ok(token)
}

/// A new random token (64 hex digits).
pub fn generate() -> io::Result<String> {
    let mut raw = [0u8; BYTES];
    getrandom::fill(&mut raw).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(hex::encode(raw))
}

/// Whether `given` is `token`, in time that does not depend on where they differ.
pub(crate) fn same(given: &str, token: &str) -> bool {
    given.as_bytes().ct_eq(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_once_private_and_rotated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::new(dir.path());
        std::fs::create_dir_all(&layout.state).expect("state dir");
        let a = ensure(&layout).expect("created");
        assert_eq!(a.len(), 2 * BYTES);
        assert_eq!(ensure(&layout).expect("kept"), a);
        let mode = std::fs::metadata(layout.api_token())
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = rotate(&layout).expect("rotated");
        assert_ne!(a, b);
        assert_eq!(read(&layout).expect("read"), b);
        assert!(same(&b, &b) && !same(&a, &b) && !same("", &b) && !same(&b[1..], &b));
    }
}
