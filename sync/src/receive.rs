//! The host's side of a sync (`lcc receive`): a tar stream from stdin is extracted into
//! a fresh staging directory inside the cluster directory, then each file is moved into
//! place with a rename (atomic per file, same file system).
//!
//! Nothing may land outside the cluster directory: an entry whose path is absolute or
//! holds `..` is refused, and so is any entry that is not a plain file or directory
//! (symbolic and hard links could point anywhere). The whole stream is checked and
//! extracted before anything is moved, so a refused or cut stream changes nothing.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// Why a stream was refused or could not be received.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// An entry that could land outside the directory, or is not a file.
    #[error("refused tar entry `{path}`: {why}")]
    Unsafe {
        /// The entry's path as sent.
        path: String,
        /// Why it is refused.
        why: &'static str,
    },
    /// Reading the stream or writing a file failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// The one entry under `.lcc/` a sync sends: the cluster's peer token, with which the
/// hosts' daemons authenticate one another. Written 0600.
pub const TOKEN_ENTRY: &str = ".lcc/sync/token";

/// The longest token accepted, in bytes.
const TOKEN_MAX: u64 = 256;

/// The path an entry may be extracted to, relative: only plain names (`a/b.yaml`),
/// not under `.lcc/` (but for [`TOKEN_ENTRY`]); `.` parts are dropped.
pub fn safe_path(raw: &Path) -> Result<PathBuf, &'static str> {
    let mut out = PathBuf::new();
    for part in raw.components() {
        match part {
            Component::Normal(name) => out.push(name),
            Component::CurDir => {}
            Component::ParentDir => return Err("`..` is not allowed"),
            Component::RootDir | Component::Prefix(_) => {
                return Err("an absolute path is not allowed")
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err("an empty path is not allowed");
    }
    if out.starts_with(".lcc") && out != Path::new(TOKEN_ENTRY) {
        // the host's own state (the daemon's, the recorded commit, the lock)
        return Err("the host's `.lcc/` is not synced");
    }
    Ok(out)
}

/// Extracts `stream` into `staging` (made here, must not exist); the files extracted.
pub fn extract(stream: impl Read, staging: &Path) -> Result<Vec<PathBuf>, ReceiveError> {
    let io = |what: String| move |source| ReceiveError::Io { what, source };
    std::fs::create_dir_all(staging).map_err(io(format!("cannot create {}", staging.display())))?;
    let mut archive = tar::Archive::new(stream);
    let mut files = Vec::new();
    let entries = archive
        .entries()
        .map_err(io("cannot read the stream".into()))?;
    for entry in entries {
        let mut entry = entry.map_err(io("cannot read the stream".into()))?;
        let raw = entry
            .path()
            .map_err(io("cannot read the stream".into()))?
            .into_owned();
        let shown = raw.display().to_string();
        let rel = safe_path(&raw).map_err(|why| ReceiveError::Unsafe {
            path: shown.clone(),
            why,
        })?;
        let target = staging.join(&rel);
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&target).map_err(io(format!("cannot create {shown}")))?;
            }
            tar::EntryType::Regular => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(io(format!("cannot create {shown}")))?;
                }
                let token = rel == Path::new(TOKEN_ENTRY);
                if token && entry.header().size().unwrap_or(u64::MAX) > TOKEN_MAX {
                    return Err(ReceiveError::Unsafe {
                        path: shown,
                        why: "a token is at most 256 bytes",
                    });
                }
                let mut out = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(if token { 0o600 } else { 0o644 })
                    .open(&target)
                    .map_err(io(format!("cannot write {shown}")))?;
                std::io::copy(&mut entry, &mut out).map_err(io(format!("cannot write {shown}")))?;
                files.push(rel);
            }
            _ => {
                return Err(ReceiveError::Unsafe {
                    path: shown,
                    why: "only plain files and directories are accepted",
                })
            }
        }
    }
    Ok(files)
}

/// Moves each extracted file from `staging` into `dir`, refusing to write through a
/// symbolic link already in `dir`.
pub fn install(staging: &Path, dir: &Path, files: &[PathBuf]) -> Result<(), ReceiveError> {
    for rel in files {
        let shown = rel.display().to_string();
        let mut at = dir.to_path_buf();
        for part in rel.iter() {
            at.push(part);
            if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(ReceiveError::Unsafe {
                    path: shown,
                    why: "a symbolic link is in the way on the host",
                });
            }
        }
        let target = dir.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|source| ReceiveError::Io {
                what: format!("cannot create the folder of {shown}"),
                source,
            })?;
        }
        std::fs::rename(staging.join(rel), &target).map_err(|source| ReceiveError::Io {
            what: format!("cannot move {shown} into place"),
            source,
        })?;
    }
    Ok(())
}

/// Receives a stream into the cluster directory `dir`: extract into
/// `dir/.lcc/sync/incoming`, then move each file in; the files received.
pub fn receive(stream: impl Read, dir: &Path) -> Result<Vec<PathBuf>, ReceiveError> {
    let staging = dir.join(".lcc/sync/incoming");
    // left over from a killed receive: it was never moved in, so start again
    let _ = std::fs::remove_dir_all(&staging);
    let result = extract(stream, &staging).and_then(|files| {
        install(&staging, dir, &files)?;
        Ok(files)
    });
    let _ = std::fs::remove_dir_all(&staging);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_paths() {
        let table = [
            ("a.yaml", Ok("a.yaml")),
            ("./dir/a.yaml", Ok("dir/a.yaml")),
            ("../a", Err("`..` is not allowed")),
            ("dir/../../a", Err("`..` is not allowed")),
            ("/etc/passwd", Err("an absolute path is not allowed")),
            (".", Err("an empty path is not allowed")),
            (".lcc/sync/commit", Err("the host's `.lcc/` is not synced")),
            ("./.lcc", Err("the host's `.lcc/` is not synced")),
            (".lccx/a", Ok(".lccx/a")),
            ("./.lcc/sync/token", Ok(".lcc/sync/token")),
            (".lcc/sync/token/x", Err("the host's `.lcc/` is not synced")),
        ];
        for (raw, expected) in table {
            let got = safe_path(Path::new(raw));
            assert_eq!(got, expected.map(PathBuf::from), "{raw}");
        }
    }

    /// A tar stream of one entry, its header written raw so that unsafe paths pass.
    fn one_entry(path: &str, kind: tar::EntryType, link: Option<&str>, body: &[u8]) -> Vec<u8> {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_entry_type(kind);
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        if let Some(link) = link {
            header.set_link_name(link).expect("link name");
        }
        header.set_cksum();
        let mut b = tar::Builder::new(Vec::new());
        b.append(&header, body).expect("append");
        b.into_inner().expect("finish")
    }

    #[test]
    fn files_land_inside_the_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stream = one_entry(
            "apps/web.yaml",
            tar::EntryType::Regular,
            None,
            b"kind: Storage\n",
        );
        let files = receive(&stream[..], dir.path()).expect("received");
        assert_eq!(files, [PathBuf::from("apps/web.yaml")]);
        let text = std::fs::read_to_string(dir.path().join("apps/web.yaml")).expect("read");
        assert_eq!(text, "kind: Storage\n");
        assert!(!dir.path().join(".lcc/sync/incoming").exists());
    }

    #[test]
    fn the_token_is_private_and_short() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let stream = one_entry(TOKEN_ENTRY, tar::EntryType::Regular, None, b"0123abcd");
        receive(&stream[..], dir.path()).expect("received");
        let file = dir.path().join(TOKEN_ENTRY);
        let mode = std::fs::metadata(&file)
            .expect("token")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let long = one_entry(TOKEN_ENTRY, tar::EntryType::Regular, None, &[b'a'; 257]);
        let err = receive(&long[..], dir.path()).expect_err("too long");
        assert_eq!(
            err.to_string(),
            "refused tar entry `.lcc/sync/token`: a token is at most 256 bytes"
        );
    }

    #[test]
    fn escapes_and_links_are_refused_and_change_nothing() {
        let table = [
            (
                one_entry("../evil", tar::EntryType::Regular, None, b"x"),
                "refused tar entry `../evil`: `..` is not allowed",
            ),
            (
                one_entry("/tmp/evil", tar::EntryType::Regular, None, b"x"),
                "refused tar entry `/tmp/evil`: an absolute path is not allowed",
            ),
            (
                one_entry("l", tar::EntryType::Symlink, Some("/etc"), b""),
                "refused tar entry `l`: only plain files and directories are accepted",
            ),
            (
                one_entry("h", tar::EntryType::Link, Some("/etc/passwd"), b""),
                "refused tar entry `h`: only plain files and directories are accepted",
            ),
        ];
        for (stream, message) in table {
            let root = tempfile::tempdir().expect("tempdir");
            let dir = root.path().join("cluster");
            std::fs::create_dir(&dir).expect("mkdir");
            let err = receive(&stream[..], &dir).expect_err(message);
            assert_eq!(err.to_string(), message);
            assert!(!root.path().join("evil").exists());
            let left: Vec<_> = std::fs::read_dir(&dir).expect("ls").collect();
            assert_eq!(left.len(), 1, "only .lcc: {left:?}");
        }
    }

    #[test]
    fn a_symlink_on_the_host_is_not_written_through() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("cluster");
        let outside = root.path().join("outside");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::os::unix::fs::symlink(&outside, dir.join("apps")).expect("symlink");
        let stream = one_entry("apps/web.yaml", tar::EntryType::Regular, None, b"x");
        let err = receive(&stream[..], &dir).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "refused tar entry `apps/web.yaml`: a symbolic link is in the way on the host"
        );
        assert!(!outside.join("web.yaml").exists());
    }
}
