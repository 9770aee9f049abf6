//! The cluster's peer token, `.lcc/sync/token` (0600, the same on every host; `lcc
//! receive` writes it): the bearer every host's peers listener asks for, and what the
//! daemons and the operator's `lcc` send. Compared in constant time by the API's token
//! check.

use lcc_core::layout::Layout;
use std::io;

/// The token as stored, trimmed; an empty file is an error naming it.
pub fn read(layout: &Layout) -> io::Result<String> {
    let path = layout.sync_token();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let token = text.trim().to_string();
    if token.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is empty", path.display()),
        ));
    }
    Ok(token)
}
