//! Staging beside the target and the final swap: the new tree replaces the old one only
//! once it is complete, and a failure leaves the old one in place. What is at the target
//! is judged first: fetch replaces only what it made (marked `.lcc-site`), an empty or
//! missing directory, or, with `--force`, anything not on the never-list.

use crate::error::{FetchError, Unowned};
use lcc_core::ownership::{SiteMark, SITE_MARK};
use lcc_core::protected::{resolve, Protected};
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// Whether `into` may be replaced. Never a path on the never-list (judged where it leads);
/// otherwise a missing path, an empty directory or one carrying a readable `.lcc-site`
/// mark, and with `force` anything else (a symlink is then replaced as a link, never
/// followed). Looks, never touches.
pub(crate) fn check_target(into: &Path, force: bool) -> Result<(), FetchError> {
    let resolved = resolve(into);
    if let Err(rule) = Protected::system().with_working_dir().check(&resolved) {
        return Err(FetchError::Protected {
            path: into.to_path_buf(),
            resolved,
            rule,
        });
    }
    match unowned(into) {
        Some(found) if !force => Err(FetchError::NotOurs {
            path: into.to_path_buf(),
            found,
        }),
        _ => Ok(()),
    }
}

/// What is at `into` that lcc did not put there; `None` when nothing is there, or an
/// empty directory, or a directory with lcc's mark.
fn unowned(into: &Path) -> Option<Unowned> {
    let kind = match fs::symlink_metadata(into) {
        Ok(meta) => meta.file_type(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(source) => return Some(Unowned::Unknown { source }),
    };
    if kind.is_symlink() {
        let target = fs::read_link(into).unwrap_or_default();
        return Some(Unowned::Symlink { target });
    }
    if kind.is_file() {
        return Some(Unowned::File);
    }
    if !kind.is_dir() {
        let kind = if kind.is_fifo() {
            "FIFO"
        } else if kind.is_socket() {
            "socket"
        } else {
            "device"
        };
        return Some(Unowned::Special { kind });
    }
    // An unreadable mark is no mark: the directory is then judged by its entries.
    if matches!(SiteMark::read(into), Ok(Some(_))) {
        return None;
    }
    let names = fs::read_dir(into).and_then(|entries| {
        entries
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<Vec<OsString>>>()
    });
    let mut names = match names {
        Ok(names) => names,
        Err(source) => return Some(Unowned::Unlisted { source }),
    };
    names.sort();
    // No first name: an empty directory, free to replace. A broken `.lcc-site` is not
    // what the user needs named.
    let example = names
        .iter()
        .find(|n| n.as_os_str() != SITE_MARK)
        .or(names.first())?
        .to_string_lossy()
        .into_owned();
    Some(Unowned::Entries {
        count: names.len(),
        example,
    })
}

/// Writes `mark` as `.lcc-site` into `tree` (the fetch's private extracted copy), in place
/// of whatever entry of that name the archive carried, so that a later fetch knows the
/// directory is lcc's.
pub(crate) fn write_mark(tree: &Path, mark: &SiteMark) -> io::Result<()> {
    let path = tree.join(SITE_MARK);
    match fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(&path)?,
        Ok(_) => fs::remove_file(&path)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?
        .write_all(mark.text().as_bytes())
}

/// A private temporary directory beside `into` (same file system, so renames work); it and
/// whatever is left in it are removed on drop.
pub(crate) fn stage_beside(into: &Path) -> io::Result<TempDir> {
    let parent = parent_of(into);
    fs::create_dir_all(&parent)?;
    let mut prefix = OsString::from(".");
    prefix.push(into.file_name().unwrap_or_default());
    prefix.push(".lcc-fetch-");
    tempfile::Builder::new().prefix(&prefix).tempdir_in(&parent)
}

/// The directory that holds `path` ("." for a bare name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Puts `new` at `into`. An existing `into` is exchanged atomically where the kernel can,
/// else renamed into `stage` first and restored if the second rename fails. Whatever was
/// at `into` ends up inside `stage`, deleted with it (a symlink as the link itself: rename
/// never follows the last component).
pub(crate) fn swap_into_place(new: &Path, into: &Path, stage: &Path) -> io::Result<()> {
    match fs::symlink_metadata(into) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return fs::rename(new, into),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    if exchange(new, into).is_ok() {
        return Ok(());
    }
    let old = stage.join("old");
    fs::rename(into, &old)?;
    if let Err(e) = fs::rename(new, into) {
        // Best effort: put the previous site back before reporting.
        let _ = fs::rename(&old, into);
        return Err(e);
    }
    Ok(())
}

/// Swaps two paths in one step (Linux renameat2 RENAME_EXCHANGE).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    renameat2(AT_FDCWD, a, AT_FDCWD, b, RenameFlags::RENAME_EXCHANGE).map_err(io::Error::from)
}

/// No atomic exchange here: the caller falls back to two renames.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn exchange(_a: &Path, _b: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark() -> SiteMark {
        SiteMark {
            source: "https://example.test/s.tgz".into(),
            sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn what_is_at_the_target_decides() {
        let top = tempfile::tempdir().expect("tempdir");
        let at = |name: &str| top.path().join(name);
        assert!(unowned(&at("missing")).is_none());
        fs::create_dir(at("empty")).expect("mkdir");
        assert!(unowned(&at("empty")).is_none());
        fs::create_dir(at("marked")).expect("mkdir");
        fs::write(at("marked/page.html"), "x").expect("write");
        write_mark(&at("marked"), &mark()).expect("mark");
        assert!(unowned(&at("marked")).is_none());

        // A symlink is judged as a link, even to a marked directory.
        std::os::unix::fs::symlink(at("marked"), at("link")).expect("symlink");
        let found = unowned(&at("link"));
        assert!(matches!(found, Some(Unowned::Symlink { ref target }) if *target == at("marked")));
        fs::write(at("file"), "x").expect("write");
        assert!(matches!(unowned(&at("file")), Some(Unowned::File)));
        nix::unistd::mkfifo(&at("fifo"), nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        let found = unowned(&at("fifo"));
        assert!(matches!(found, Some(Unowned::Special { kind: "FIFO" })));

        // A mark that is a symlink is no mark, and not the entry worth naming.
        fs::create_dir(at("mine")).expect("mkdir");
        fs::write(at("mine/zz.txt"), "x").expect("write");
        std::os::unix::fs::symlink(at("marked/.lcc-site"), at("mine/.lcc-site")).expect("ln");
        let found = unowned(&at("mine")).map(|u| u.to_string());
        let text = found.expect("refused");
        assert!(
            text.contains("holds 2 entries") && text.contains("such as zz.txt"),
            "{text}"
        );
    }

    #[test]
    fn the_mark_replaces_whatever_the_archive_named_so() {
        let top = tempfile::tempdir().expect("tempdir");
        let outside = top.path().join("outside");
        fs::write(&outside, "keep").expect("write");
        for kind in ["file", "dir", "symlink"] {
            let tree = top.path().join(kind);
            fs::create_dir(&tree).expect("mkdir");
            let path = tree.join(SITE_MARK);
            match kind {
                "file" => fs::write(&path, "source: evil\nsha256: 00\n").expect("write"),
                "dir" => fs::create_dir_all(path.join("sub")).expect("mkdir"),
                _ => std::os::unix::fs::symlink(&outside, &path).expect("symlink"),
            }
            write_mark(&tree, &mark()).expect("mark");
            assert_eq!(SiteMark::read(&tree).expect("read"), Some(mark()), "{kind}");
        }
        assert_eq!(fs::read_to_string(&outside).expect("read"), "keep");
    }

    #[test]
    fn swap_replaces_and_keeps_old_in_stage() {
        let top = tempfile::tempdir().expect("tempdir");
        let into = top.path().join("site");
        fs::create_dir(&into).expect("mkdir");
        fs::write(into.join("old.txt"), "old").expect("write");
        let stage = stage_beside(&into).expect("stage");
        let new = stage.path().join("tree");
        fs::create_dir(&new).expect("mkdir");
        fs::write(new.join("new.txt"), "new").expect("write");
        swap_into_place(&new, &into, stage.path()).expect("swap");
        assert!(into.join("new.txt").exists());
        assert!(!into.join("old.txt").exists());
        drop(stage);
        let left: Vec<_> = fs::read_dir(top.path()).expect("ls").collect();
        assert_eq!(left.len(), 1, "only the site remains");
    }
}
