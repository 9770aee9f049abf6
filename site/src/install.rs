//! Staging beside the target and the final swap: the new tree replaces the old one only
//! once it is complete, and a failure leaves the old one in place.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

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
/// at `into` ends up inside `stage`, deleted with it.
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
