//! Validation of archive entry names: only plain relative paths may reach the file system.

use crate::error::ExtractError;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Turns a raw entry name into a relative path of plain components, or says why not.
/// `.` and empty components are dropped; an empty result means the tree's root itself.
pub(crate) fn entry_path(raw: &[u8]) -> Result<PathBuf, ExtractError> {
    let entry = String::from_utf8_lossy(raw).into_owned();
    if raw.contains(&0) {
        return Err(ExtractError::BadName {
            entry,
            reason: "NUL byte",
        });
    }
    if raw.contains(&b'\\') {
        return Err(ExtractError::BadName {
            entry,
            reason: "backslash",
        });
    }
    if raw.first() == Some(&b'/') {
        return Err(ExtractError::AbsolutePath { entry });
    }
    let mut path = PathBuf::new();
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err(ExtractError::ParentComponent { entry }),
            name => path.push(OsStr::from_bytes(name)),
        }
    }
    Ok(path)
}

/// The name of an entry for messages.
pub(crate) fn display(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass_and_dots_are_dropped() {
        assert_eq!(entry_path(b"a/./b//c").ok(), Some(PathBuf::from("a/b/c")));
        assert_eq!(entry_path(b"./").ok(), Some(PathBuf::new()));
        assert_eq!(entry_path(b"dir/").ok(), Some(PathBuf::from("dir")));
    }

    #[test]
    fn escapes_are_refused() {
        assert!(matches!(
            entry_path(b"/etc/passwd"),
            Err(ExtractError::AbsolutePath { .. })
        ));
        assert!(matches!(
            entry_path(b"a/../../x"),
            Err(ExtractError::ParentComponent { .. })
        ));
        assert!(matches!(
            entry_path(b"..\\x"),
            Err(ExtractError::BadName { .. })
        ));
    }
}
