//! The host's side of a sync (`lcc receive`): a tar stream from stdin is extracted into
//! a fresh staging directory inside the cluster directory, then each file is moved into
//! place with a rename (atomic per file, same file system).
//!
//! Nothing may land outside the cluster directory: an entry whose path is absolute or
//! holds `..` is refused, and so is any entry that is not a plain file or directory
//! (symbolic and hard links could point anywhere). The whole stream is checked and
//! extracted before anything is moved, so a refused or cut stream changes nothing.
//!
//! Under `.lcc/` only one entry is accepted: [`TOKEN_ENTRY`], the cluster's peer token
//! (at most [`TOKEN_MAX`] bytes), written with mode 0600. A file keeps its executable
//! bit; no other mode bit is taken from the stream.
//!
//! The host remembers which files syncs put there ([`FILES`]), so that a sync removes
//! only those: a path to delete must pass [`safe_path`] and be on that list. The list
//! is widened before files are moved in and narrowed after the deletions, so a receive
//! cut anywhere never forgets a file it may have left.

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// The cluster's peer token on a host, under the cluster directory.
pub const TOKEN_ENTRY: &str = ".lcc/sync/token";

/// The largest token accepted.
pub const TOKEN_MAX: u64 = 256;

/// The list of files syncs put on the host (one relative path per line).
pub const FILES: &str = ".lcc/sync/files";

/// What a receive did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    /// Files moved into place.
    pub files: Vec<PathBuf>,
    /// Files removed.
    pub deleted: Vec<PathBuf>,
    /// Whether the stream carried the token.
    pub token: bool,
}

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

/// The path an entry may be extracted to, relative: only plain names (`a/b.yaml`),
/// not under `.lcc/`; `.` parts are dropped.
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
    if out.starts_with(".lcc") {
        // the host's own state (the daemon's, the recorded commit, the lock)
        return Err("the host's `.lcc/` is not synced");
    }
    Ok(out)
}

/// What a stream held: the files extracted into the staging directory, and the token.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Relative paths of the files extracted.
    pub files: Vec<PathBuf>,
    /// The token's bytes, if the stream carried [`TOKEN_ENTRY`].
    pub token: Option<Vec<u8>>,
}

/// Extracts `stream` into `staging` (made here, must not exist).
pub fn extract(stream: impl Read, staging: &Path) -> Result<Extracted, ReceiveError> {
    let io = |what: String| move |source| ReceiveError::Io { what, source };
    std::fs::create_dir_all(staging).map_err(io(format!("cannot create {}", staging.display())))?;
    let mut archive = tar::Archive::new(stream);
    let mut out = Extracted::default();
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
        if is_token(&raw) {
            out.token = Some(read_token(&mut entry, &shown)?);
            continue;
        }
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
                let mut file =
                    std::fs::File::create(&target).map_err(io(format!("cannot write {shown}")))?;
                std::io::copy(&mut entry, &mut file)
                    .map_err(io(format!("cannot write {shown}")))?;
                // the executable bit only: no setuid, no world-writable file from a stream
                let x = crate::digest::is_executable(entry.header().mode().unwrap_or(0));
                let mode = if x { 0o755 } else { 0o644 };
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
                    .map_err(io(format!("cannot write {shown}")))?;
                out.files.push(rel);
            }
            _ => {
                return Err(ReceiveError::Unsafe {
                    path: shown,
                    why: "only plain files and directories are accepted",
                })
            }
        }
    }
    Ok(out)
}

/// Whether an entry is the token (`.lcc/sync/token`, `./` allowed before it).
fn is_token(raw: &Path) -> bool {
    let parts: Vec<Component<'_>> = raw
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    parts
        .iter()
        .map(|c| c.as_os_str())
        .eq(Path::new(TOKEN_ENTRY).iter())
}

/// The token entry's bytes: a plain file of at most [`TOKEN_MAX`] bytes.
fn read_token(entry: &mut tar::Entry<'_, impl Read>, shown: &str) -> Result<Vec<u8>, ReceiveError> {
    let unsafe_entry = |why| ReceiveError::Unsafe {
        path: shown.to_string(),
        why,
    };
    if entry.header().entry_type() != tar::EntryType::Regular {
        return Err(unsafe_entry("the token must be a plain file"));
    }
    if entry.size() > TOKEN_MAX {
        return Err(unsafe_entry("a token is at most 256 bytes"));
    }
    let mut token = Vec::new();
    entry
        .read_to_end(&mut token)
        .map_err(|source| ReceiveError::Io {
            what: "cannot read the stream".to_string(),
            source,
        })?;
    Ok(token)
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

/// The files syncs put in `dir` ([`FILES`]).
pub fn synced_files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(dir.join(FILES))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn write_synced_files(dir: &Path, files: &BTreeSet<String>) -> Result<(), ReceiveError> {
    let text: String = files.iter().map(|f| format!("{f}\n")).collect();
    lcc_core::atomic::write_atomic(&dir.join(FILES), text.as_bytes()).map_err(|source| {
        ReceiveError::Io {
            what: format!("cannot write {FILES}"),
            source,
        }
    })
}

/// Removes `rel` from `dir` if a sync put it there; a symbolic link on the way is
/// refused. Whether a file was removed.
fn delete(dir: &Path, rel: &str, synced: &BTreeSet<String>) -> Result<bool, ReceiveError> {
    let path = safe_path(Path::new(rel)).map_err(|why| ReceiveError::Unsafe {
        path: rel.to_string(),
        why,
    })?;
    if !synced.contains(rel) {
        return Ok(false); // not ours: a host's own file is never removed
    }
    let mut at = dir.to_path_buf();
    for part in path.iter() {
        at.push(part);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(ReceiveError::Unsafe {
                path: rel.to_string(),
                why: "a symbolic link is in the way on the host",
            });
        }
    }
    match std::fs::remove_file(dir.join(&path)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(ReceiveError::Io {
            what: format!("cannot remove {rel}"),
            source,
        }),
    }
}

/// Receives a stream into the cluster directory `dir`: extract into
/// `dir/.lcc/sync/incoming`, then move each file in, write the token, and remove the
/// files of `delete` that a sync put there.
pub fn receive(
    stream: impl Read,
    dir: &Path,
    delete_paths: &[String],
) -> Result<Received, ReceiveError> {
    let staging = dir.join(".lcc/sync/incoming");
    // left over from a killed receive: it was never moved in, so start again
    let _ = std::fs::remove_dir_all(&staging);
    let result = extract(stream, &staging).and_then(|extracted| {
        let mut synced = synced_files(dir);
        let names: Vec<String> = extracted
            .files
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect();
        synced.extend(names.iter().cloned());
        write_synced_files(dir, &synced)?;
        install(&staging, dir, &extracted.files)?;
        if let Some(token) = &extracted.token {
            write_token(dir, token)?;
        }
        let mut deleted = Vec::new();
        for rel in delete_paths {
            if names.contains(rel) {
                continue; // sent again in this very stream: it stays
            }
            if delete(dir, rel, &synced)? {
                deleted.push(PathBuf::from(rel));
            }
            synced.remove(rel);
        }
        write_synced_files(dir, &synced)?;
        Ok(Received {
            files: extracted.files,
            deleted,
            token: extracted.token.is_some(),
        })
    });
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// Writes the token (0600 from its creation: a temp file renamed into place).
fn write_token(dir: &Path, token: &[u8]) -> Result<(), ReceiveError> {
    lcc_core::atomic::write_atomic(&dir.join(TOKEN_ENTRY), token).map_err(|source| {
        ReceiveError::Io {
            what: format!("cannot write {TOKEN_ENTRY}"),
            source,
        }
    })
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
        let got = receive(&stream[..], dir.path(), &[]).expect("received");
        assert_eq!(got.files, [PathBuf::from("apps/web.yaml")]);
        let text = std::fs::read_to_string(dir.path().join("apps/web.yaml")).expect("read");
        assert_eq!(text, "kind: Storage\n");
        assert!(!dir.path().join(".lcc/sync/incoming").exists());
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
            let err = receive(&stream[..], &dir, &[]).expect_err(message);
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
        let err = receive(&stream[..], &dir, &[]).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "refused tar entry `apps/web.yaml`: a symbolic link is in the way on the host"
        );
        assert!(!outside.join("web.yaml").exists());
    }

    /// A stream of several regular files: (path, mode, body).
    fn files(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, mode, body) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_path(path).expect("path");
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(body.len() as u64);
            header.set_mode(*mode);
            header.set_cksum();
            b.append(&header, *body).expect("append");
        }
        b.into_inner().expect("finish")
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
    }

    #[test]
    fn the_token_is_written_0600_and_modes_keep_only_the_executable_bit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stream = files(&[
            ("./.lcc/sync/token", 0o644, b"secret"),
            ("bin/run.sh", 0o4777, b"#!/bin/sh\n"),
            ("a.yaml", 0o666, b"x"),
        ]);
        let got = receive(&stream[..], dir.path(), &[]).expect("received");
        assert!(got.token);
        assert_eq!(got.files.len(), 2, "the token is not a cluster file");
        let token = dir.path().join(TOKEN_ENTRY);
        assert_eq!(std::fs::read(&token).expect("token"), b"secret");
        assert_eq!(mode(&token), 0o600);
        assert_eq!(mode(&dir.path().join("bin/run.sh")), 0o755);
        assert_eq!(mode(&dir.path().join("a.yaml")), 0o644);
        let listed: Vec<String> = synced_files(dir.path()).into_iter().collect();
        assert_eq!(listed, ["a.yaml", "bin/run.sh"]);

        let long = vec![b'x'; 257];
        let err = receive(&files(&[(TOKEN_ENTRY, 0o600, &long)])[..], dir.path(), &[])
            .expect_err("too long");
        assert_eq!(
            err.to_string(),
            "refused tar entry `.lcc/sync/token`: a token is at most 256 bytes"
        );
        let err = receive(
            &files(&[(".lcc/sync/commit", 0o600, b"x")])[..],
            dir.path(),
            &[],
        )
        .expect_err("other .lcc entry");
        assert!(
            err.to_string().contains("the host's `.lcc/` is not synced"),
            "{err}"
        );
    }

    #[test]
    fn only_files_a_sync_put_there_are_deleted() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("own.txt"), "the host's").expect("write");
        let stream = files(&[("a.yaml", 0o644, b"a"), ("b.yaml", 0o644, b"b")]);
        receive(&stream[..], dir.path(), &[]).expect("first");
        let delete =
            |paths: &[&str]| -> Vec<String> { paths.iter().map(|p| p.to_string()).collect() };
        let got =
            receive(&files(&[])[..], dir.path(), &delete(&["a.yaml", "own.txt"])).expect("delete");
        assert_eq!(got.deleted, [PathBuf::from("a.yaml")]);
        assert!(!dir.path().join("a.yaml").exists());
        assert!(
            dir.path().join("own.txt").exists(),
            "not put there by a sync"
        );
        let listed: Vec<String> = synced_files(dir.path()).into_iter().collect();
        assert_eq!(listed, ["b.yaml"]);
        let table = [
            ("../x", "refused tar entry `../x`: `..` is not allowed"),
            (
                ".lcc/sync/commit",
                "refused tar entry `.lcc/sync/commit`: the host's `.lcc/` is not synced",
            ),
        ];
        for (path, message) in table {
            let err = receive(&files(&[])[..], dir.path(), &delete(&[path])).expect_err(path);
            assert_eq!(err.to_string(), message);
        }
    }
}
