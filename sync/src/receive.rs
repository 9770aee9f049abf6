//! The host's side of a sync (`lcc receive`): a tar stream from stdin is extracted into
//! a fresh staging directory inside the cluster directory, then each file is moved into
//! place with a rename (atomic per file, same file system), all or nothing: every move
//! is checked before the first, and a move that still fails puts back what the others
//! replaced ([`install`]), so the host never keeps half of a sync.
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
    /// The caller stopped the receive before anything moved in (its lock was taken
    /// over by another sync while it read).
    #[error("{0}")]
    Stopped(String),
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
    std::fs::create_dir_all(staging)
        .map_err(io_error(format!("cannot create {}", staging.display())))?;
    let mut archive = tar::Archive::new(stream);
    let mut out = Extracted::default();
    let entries = archive
        .entries()
        .map_err(io_error("cannot read the stream".into()))?;
    for entry in entries {
        let mut entry = entry.map_err(io_error("cannot read the stream".into()))?;
        let raw = entry
            .path()
            .map_err(io_error("cannot read the stream".into()))?
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
                std::fs::create_dir_all(&target)
                    .map_err(io_error(format!("cannot create {shown}")))?;
            }
            tar::EntryType::Regular => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(io_error(format!("cannot create {shown}")))?;
                }
                let mut file = std::fs::File::create(&target)
                    .map_err(io_error(format!("cannot write {shown}")))?;
                std::io::copy(&mut entry, &mut file)
                    .map_err(io_error(format!("cannot write {shown}")))?;
                // the executable bit only: no setuid, no world-writable file from a stream
                let x = crate::digest::is_executable(entry.header().mode().unwrap_or(0));
                let mode = if x { 0o755 } else { 0o644 };
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
                    .map_err(io_error(format!("cannot write {shown}")))?;
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
        .map_err(io_error("cannot read the stream".into()))?;
    Ok(token)
}

/// Where the files a receive replaces or removes wait, under the cluster directory,
/// until every move succeeded (then they go) or one failed (then they come back).
pub const REPLACED: &str = ".lcc/sync/replaced";

/// What [`install`] will do beyond moving the files in, once it checked it can.
#[derive(Debug, Default)]
struct Clearing {
    /// The files to remove (those that are files on the host).
    deleting: Vec<PathBuf>,
    /// Folders in the way of a new file, left empty by the removals (removed too).
    emptied: Vec<PathBuf>,
}

/// One change [`install`] made, undone in reverse order when a later one fails.
#[derive(Debug)]
enum Step {
    /// A file moved aside from `at` to `saved` (replaced or removed).
    Aside { at: PathBuf, saved: PathBuf },
    /// A folder made for a new file.
    MadeDir(PathBuf),
    /// An empty folder removed (a file takes its place), with its permissions.
    RemovedDir(PathBuf, std::fs::Permissions),
    /// A new file moved in.
    MovedIn(PathBuf),
}

fn refused(rel: &Path, why: &'static str) -> ReceiveError {
    ReceiveError::Unsafe {
        path: rel.display().to_string(),
        why,
    }
}

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> ReceiveError {
    move |source| ReceiveError::Io { what, source }
}

/// What is at `path` without following a link; `None` when nothing is (a file on
/// the way included).
fn kind_at(path: &Path, rel: &Path) -> Result<Option<std::fs::FileType>, ReceiveError> {
    use std::io::ErrorKind::{NotADirectory, NotFound};
    match std::fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m.file_type())),
        Err(e) if matches!(e.kind(), NotFound | NotADirectory) => Ok(None),
        Err(source) => Err(ReceiveError::Io {
            what: format!("cannot look at {}", rel.display()),
            source,
        }),
    }
}

/// Checks, before anything moves, that every file can go in and every removal be
/// made: no symbolic link on the way, and no file or folder in the way unless the
/// removals asked for clear it (`config` removed for `config/app.env`, or the reverse).
fn clearing(
    dir: &Path,
    files: &[PathBuf],
    deletions: &[PathBuf],
) -> Result<Clearing, ReceiveError> {
    let mut clearing = Clearing::default();
    for rel in deletions {
        let mut at = dir.to_path_buf();
        let mut kind = None;
        for part in rel.iter() {
            at.push(part);
            kind = kind_at(&at, rel)?;
            match kind {
                Some(k) if k.is_symlink() => {
                    return Err(refused(rel, "a symbolic link is in the way on the host"))
                }
                Some(_) => {}
                None => break,
            }
        }
        // a folder (or nothing) where a sync once put a file is not removed
        if kind.is_some_and(|k| k.is_file()) && !clearing.deleting.contains(rel) {
            clearing.deleting.push(rel.clone());
        }
    }
    for rel in files {
        let mut at = dir.to_path_buf();
        let mut sub = PathBuf::new();
        let parts: Vec<_> = rel.iter().collect();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            sub.push(part);
            let last = i + 1 == parts.len();
            match kind_at(&at, rel)? {
                None => break,
                Some(k) if k.is_symlink() => {
                    return Err(refused(rel, "a symbolic link is in the way on the host"))
                }
                Some(k) if k.is_dir() && !last => {}
                Some(k) if k.is_dir() => {
                    only_removed_files_under(&at, &sub, &clearing.deleting, rel)?;
                    clearing.emptied.push(sub.clone());
                }
                Some(_) if last => {} // a file replaced
                Some(_) if clearing.deleting.contains(&sub) => break,
                Some(_) => return Err(refused(rel, "a file is in the way on the host")),
            }
        }
    }
    Ok(clearing)
}

/// Checks that the folder `at` (`sub` in the cluster) holds nothing once `deleting`
/// is removed but empty folders, so that the new file `rel` can take its place.
fn only_removed_files_under(
    at: &Path,
    sub: &Path,
    deleting: &[PathBuf],
    rel: &Path,
) -> Result<(), ReceiveError> {
    let entries =
        std::fs::read_dir(at).map_err(io_error(format!("cannot look at {}", sub.display())))?;
    for entry in entries {
        let entry = entry.map_err(io_error(format!("cannot look at {}", sub.display())))?;
        let (path, name) = (entry.path(), sub.join(entry.file_name()));
        match kind_at(&path, &name)? {
            Some(k) if k.is_dir() => only_removed_files_under(&path, &name, deleting, rel)?,
            Some(k) if k.is_file() && deleting.contains(&name) => {}
            Some(_) => return Err(refused(rel, "a folder is in the way on the host")),
            None => {}
        }
    }
    Ok(())
}

/// Moves each extracted file from `staging` into `dir` and removes `deletions` (paths
/// already checked by [`safe_path`]), all or nothing: everything is checked first
/// (no symbolic link on the way, nothing in the way that the removals do not clear),
/// and what a move replaces or removes waits in [`REPLACED`] until all moves are done;
/// if one fails, the files moved in are taken out and the ones set aside put back.
/// The files removed.
pub fn install(
    staging: &Path,
    dir: &Path,
    files: &[PathBuf],
    deletions: &[PathBuf],
) -> Result<Vec<PathBuf>, ReceiveError> {
    let clearing = clearing(dir, files, deletions)?;
    let backup = dir.join(REPLACED);
    // left over from a killed receive, whose commit was never recorded: sent again
    let _ = std::fs::remove_dir_all(&backup);
    std::fs::create_dir_all(&backup)
        .map_err(io_error(format!("cannot create {}", backup.display())))?;
    let mut steps = Vec::new();
    match apply(staging, dir, files, &clearing, &backup, &mut steps) {
        Ok(()) => {
            let _ = std::fs::remove_dir_all(&backup);
            Ok(clearing.deleting)
        }
        Err(e) => {
            // kept when not all could be put back: the files set aside are there
            if undo(steps) {
                let _ = std::fs::remove_dir_all(&backup);
            }
            Err(e)
        }
    }
}

/// The moves of [`install`], each recorded in `steps` once made.
fn apply(
    staging: &Path,
    dir: &Path,
    files: &[PathBuf],
    clearing: &Clearing,
    backup: &Path,
    steps: &mut Vec<Step>,
) -> Result<(), ReceiveError> {
    let set_aside = |at: PathBuf, steps: &mut Vec<Step>, what: String| {
        let saved = backup.join(steps.len().to_string());
        std::fs::rename(&at, &saved).map_err(io_error(what))?;
        steps.push(Step::Aside { at, saved });
        Ok::<(), ReceiveError>(())
    };
    for rel in &clearing.deleting {
        set_aside(
            dir.join(rel),
            steps,
            format!("cannot remove {}", rel.display()),
        )?;
    }
    for rel in &clearing.emptied {
        remove_empty_folders(&dir.join(rel), rel, steps)?;
    }
    for rel in files {
        let shown = rel.display().to_string();
        let target = dir.join(rel);
        let mut at = dir.to_path_buf();
        for part in rel.parent().into_iter().flat_map(Path::iter) {
            at.push(part);
            if kind_at(&at, rel)?.is_none() {
                std::fs::create_dir(&at)
                    .map_err(io_error(format!("cannot create the folder of {shown}")))?;
                steps.push(Step::MadeDir(at.clone()));
            }
        }
        if kind_at(&target, rel)?.is_some() {
            set_aside(target.clone(), steps, format!("cannot replace {shown}"))?;
        }
        std::fs::rename(staging.join(rel), &target)
            .map_err(io_error(format!("cannot move {shown} into place")))?;
        steps.push(Step::MovedIn(target));
    }
    Ok(())
}

/// Removes the folder `at` and the empty folders in it (checked by [`clearing`]).
fn remove_empty_folders(at: &Path, rel: &Path, steps: &mut Vec<Step>) -> Result<(), ReceiveError> {
    let what = || format!("cannot remove the folder {}", rel.display());
    let perms = std::fs::metadata(at)
        .map_err(io_error(what()))?
        .permissions();
    for entry in std::fs::read_dir(at).map_err(io_error(what()))? {
        let entry = entry.map_err(io_error(what()))?;
        remove_empty_folders(&entry.path(), &rel.join(entry.file_name()), steps)?;
    }
    std::fs::remove_dir(at).map_err(io_error(what()))?;
    steps.push(Step::RemovedDir(at.to_path_buf(), perms));
    Ok(())
}

/// Undoes `steps`, last first; whether all of it could be undone.
fn undo(steps: Vec<Step>) -> bool {
    let mut all = true;
    for step in steps.into_iter().rev() {
        let done = match step {
            Step::MovedIn(path) => std::fs::remove_file(path),
            Step::MadeDir(path) => std::fs::remove_dir(path),
            Step::RemovedDir(path, perms) => {
                std::fs::create_dir(&path).and_then(|()| std::fs::set_permissions(&path, perms))
            }
            Step::Aside { at, saved } => std::fs::rename(saved, at),
        };
        all &= done.is_ok();
    }
    all
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

/// Receives a stream into the cluster directory `dir`: extract into
/// `dir/.lcc/sync/incoming`, then move each file in and remove the files of `delete`
/// that a sync put there (all or nothing, [`install`]), and write the token.
pub fn receive(
    stream: impl Read,
    dir: &Path,
    delete_paths: &[String],
) -> Result<Received, ReceiveError> {
    receive_with(stream, dir, delete_paths, || Ok(()))
}

/// [`receive`], calling `extracted` once the whole stream is read (the caller's cue
/// that no more bytes are awaited); an error from it stops the receive before
/// anything moves in.
pub fn receive_with(
    stream: impl Read,
    dir: &Path,
    delete_paths: &[String],
    extracted: impl FnOnce() -> Result<(), ReceiveError>,
) -> Result<Received, ReceiveError> {
    let staging = dir.join(".lcc/sync/incoming");
    // left over from a killed receive: it was never moved in, so start again
    let _ = std::fs::remove_dir_all(&staging);
    let result = extract(stream, &staging).and_then(|got| {
        extracted()?;
        let mut synced = synced_files(dir);
        let names: Vec<String> = got
            .files
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect();
        let mut deletions = Vec::new();
        for rel in delete_paths {
            let path = safe_path(Path::new(rel)).map_err(|why| ReceiveError::Unsafe {
                path: rel.clone(),
                why,
            })?;
            // not ours (a host's own file is never removed), or sent again: it stays
            if synced.contains(rel) && !names.contains(rel) {
                deletions.push(path);
            }
        }
        let listed = std::fs::read(dir.join(FILES)).ok();
        synced.extend(names.iter().cloned());
        write_synced_files(dir, &synced)?;
        let deleted = match install(&staging, dir, &got.files, &deletions) {
            Ok(deleted) => deleted,
            Err(e) => {
                // nothing moved: the list is as it was
                let _ = match &listed {
                    Some(bytes) => lcc_core::atomic::write_atomic(&dir.join(FILES), bytes),
                    None => std::fs::remove_file(dir.join(FILES)),
                };
                return Err(e);
            }
        };
        if let Some(token) = &got.token {
            write_token(dir, token)?;
        }
        for rel in delete_paths {
            if !names.contains(rel) {
                synced.remove(rel);
            }
        }
        write_synced_files(dir, &synced)?;
        Ok(Received {
            files: got.files,
            deleted,
            token: got.token.is_some(),
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

    /// Everything under `dir` but the staging folder: each path with its kind, mode
    /// and bytes (or a link's target), to compare a tree before and after.
    fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, String> {
        fn walk(root: &Path, at: &Path, out: &mut std::collections::BTreeMap<PathBuf, String>) {
            for entry in std::fs::read_dir(at).expect("ls") {
                let path = entry.expect("entry").path();
                let rel = path.strip_prefix(root).expect("inside").to_path_buf();
                if rel == Path::new(".lcc/sync/incoming") {
                    continue;
                }
                let meta = std::fs::symlink_metadata(&path).expect("stat");
                let mode = meta.permissions().mode() & 0o7777;
                let seen = if meta.file_type().is_symlink() {
                    format!(
                        "link {}",
                        std::fs::read_link(&path).expect("link").display()
                    )
                } else if meta.is_dir() {
                    walk(root, &path, out);
                    format!("dir {mode:o}")
                } else {
                    let bytes = std::fs::read(&path).expect("read");
                    format!("file {mode:o} {}", String::from_utf8_lossy(&bytes))
                };
                out.insert(rel, seen);
            }
        }
        let mut out = std::collections::BTreeMap::new();
        walk(dir, dir, &mut out);
        out
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    /// Whichever move fails (its staged file gone: an I/O error even for root), the
    /// files moved before it are taken out again and those replaced or removed put
    /// back, including a file that became a folder and a folder that became a file.
    #[test]
    fn a_move_failing_at_any_file_leaves_the_directory_as_it_was() {
        let new = [
            "a.yaml",            // replaces a file
            "apps/web.yaml",     // replaces a file in a folder
            "apps/new.yaml",     // new, in a folder that exists
            "fresh/deep/x.yaml", // new, in folders made for it
            "config/app.env",    // `config` was a file: removed for it
            "old",               // `old/` was a folder of removed files
        ];
        for k in 0..new.len() {
            let root = tempfile::tempdir().expect("tempdir");
            let dir = root.path();
            for (rel, text) in [
                ("a.yaml", "old a"),
                ("apps/web.yaml", "old web"),
                ("apps/own.txt", "the host's"),
                ("config", "old config"),
                ("old/x.yaml", "old x"),
                ("old/sub/y.yaml", "old y"),
                ("gone.yaml", "removed"),
            ] {
                write(&dir.join(rel), text);
            }
            std::fs::create_dir_all(dir.join("old/empty")).expect("mkdir");
            let staging = dir.join(".lcc/sync/incoming");
            for rel in new {
                write(&staging.join(rel), &format!("new {rel}"));
            }
            std::fs::remove_file(staging.join(new[k])).expect("the k-th move fails");
            let before = snapshot(dir);
            let files: Vec<PathBuf> = new.iter().map(PathBuf::from).collect();
            let deletions: Vec<PathBuf> = ["config", "old/x.yaml", "old/sub/y.yaml", "gone.yaml"]
                .iter()
                .map(PathBuf::from)
                .collect();
            let err = install(&staging, dir, &files, &deletions).expect_err("fails");
            assert!(
                err.to_string()
                    .starts_with(&format!("cannot move {} into place: ", new[k])),
                "{k}: {err}"
            );
            assert_eq!(snapshot(dir), before, "failed at {}", new[k]);
            assert!(
                !dir.join(REPLACED).exists(),
                "{k}: nothing set aside is left"
            );
        }
    }

    #[test]
    fn a_file_becomes_a_folder_and_a_folder_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dir = dir.path();
        let delete =
            |paths: &[&str]| -> Vec<String> { paths.iter().map(|p| p.to_string()).collect() };
        receive(&files(&[("config", 0o644, b"one file")])[..], dir, &[]).expect("a file");
        let got = receive(
            &files(&[
                ("config/app.env", 0o644, b"A=1"),
                ("config/db/x.env", 0o644, b"X=1"),
            ])[..],
            dir,
            &delete(&["config"]),
        )
        .expect("file -> folder");
        assert_eq!(got.deleted, [PathBuf::from("config")]);
        assert_eq!(
            std::fs::read(dir.join("config/app.env")).expect("read"),
            b"A=1"
        );
        let listed: Vec<String> = synced_files(dir).into_iter().collect();
        assert_eq!(listed, ["config/app.env", "config/db/x.env"]);
        let got = receive(
            &files(&[("config", 0o644, b"a file again")])[..],
            dir,
            &delete(&["config/app.env", "config/db/x.env"]),
        )
        .expect("folder -> file");
        assert_eq!(got.deleted.len(), 2);
        assert_eq!(
            std::fs::read(dir.join("config")).expect("read"),
            b"a file again"
        );
        let listed: Vec<String> = synced_files(dir).into_iter().collect();
        assert_eq!(listed, ["config"]);
        assert!(!dir.join(REPLACED).exists());
    }

    /// A conflict the removals do not clear is found before anything moves: the
    /// directory, the list of synced files included, is as it was.
    #[test]
    fn what_is_in_the_way_is_refused_before_anything_moves() {
        let table: [(&str, Vec<u8>, &str); 3] = [
            (
                "own",
                files(&[("a.yaml", 0o644, b"new"), ("own/app.env", 0o644, b"x")]),
                "refused tar entry `own/app.env`: a file is in the way on the host",
            ),
            (
                "data/keep.txt",
                files(&[("a.yaml", 0o644, b"new"), ("data", 0o644, b"x")]),
                "refused tar entry `data`: a folder is in the way on the host",
            ),
            (
                "link",
                files(&[("a.yaml", 0o644, b"new"), ("link/x", 0o644, b"x")]),
                "refused tar entry `link/x`: a symbolic link is in the way on the host",
            ),
        ];
        for (own, stream, message) in table {
            let root = tempfile::tempdir().expect("tempdir");
            let dir = root.path().join("cluster");
            receive(&files(&[("a.yaml", 0o644, b"old")])[..], &dir, &[]).expect("first");
            if own == "link" {
                std::os::unix::fs::symlink(root.path(), dir.join("link")).expect("symlink");
            } else {
                write(&dir.join(own), "the host's");
            }
            let before = snapshot(&dir);
            let err = receive(&stream[..], &dir, &["a.yaml".to_string()]).expect_err(message);
            assert_eq!(err.to_string(), message);
            assert_eq!(snapshot(&dir), before, "{own}");
        }
    }
}
