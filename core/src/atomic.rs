//! Atomic file writes: a complete temp file in the same directory, fsync, rename.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Writes `data` to `path` so that readers see the old or the new file, never a torn one,
/// and makes the rename durable. The file is 0600 (owner only).
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    write_atomic_mode(path, data, 0o600)
}

/// [`write_atomic`] with the file's permission bits, set before it becomes visible
/// (an executable script is 0700).
pub fn write_atomic_mode(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = parent(path);
    let mut tmp = match tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir) {
        Ok(t) => t,
        // The directory is nearly always there: created only when missing, not statted
        // before every write.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)?;
            tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?
        }
        Err(e) => return Err(e),
    };
    tmp.write_all(data)?;
    if mode != 0o600 {
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename itself is durable only once the directory is synced; best effort.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Replaces `path` atomically for readers, like [`write_atomic`], for a file rewritten many
/// times: the new content goes into a spare file kept next to it (`.tmp-NAME.spare`),
/// which is renamed over `path` while the replaced file lives on under a second name
/// and becomes the next spare. No inode is created or freed after the second write.
/// That matters on ext4 without a journal: there each new inode skips every inode freed
/// in the last 60 s (300 s while its table block is dirty), one lookup each, so a storm
/// of create-and-rename writes grows quadratically (the figure is in bench/RESULTS.md).
/// Nothing is fsynced: this is for files that
/// describe live processes and are rebuilt from scratch after a crash of the machine
/// (which ends those processes); readers still see the old or the new file, never a torn
/// one.
pub fn replace_reusing(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let spare = sibling(path, "spare");
    let old = sibling(path, "old");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&spare)?;
    f.write_all(data)?;
    // A second name for the current file, so the rename below does not free it.
    let kept = match std::fs::hard_link(path, &old) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        // Left by a writer that died between the link and the last rename.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&old)?;
            std::fs::hard_link(path, &old)?;
            true
        }
        Err(e) => return Err(e),
    };
    std::fs::rename(&spare, path)?;
    if kept {
        std::fs::rename(&old, &spare)?;
    }
    Ok(())
}

/// Removes `path` and the spare of [`replace_reusing`]; missing files are fine.
pub fn remove_reusing(path: &Path) {
    for p in [
        path.to_path_buf(),
        sibling(path, "spare"),
        sibling(path, "old"),
    ] {
        let _ = std::fs::remove_file(p);
    }
}

/// `DIR/.tmp-NAME.KIND`: hidden, and named like the temp files that watchers skip.
fn sibling(path: &Path, kind: &str) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    parent(path).join(format!(".tmp-{name}.{kind}"))
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("a")).unwrap().collect();
        assert_eq!(names.len(), 1, "no temp file left behind");
    }

    fn inode(p: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(p).unwrap().ino()
    }

    #[test]
    fn reusing_replaces_with_two_inodes_in_turn_and_removes_both() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        replace_reusing(&p, b"one").unwrap();
        let first = inode(&p);
        replace_reusing(&p, b"two, longer").unwrap();
        let second = inode(&p);
        assert_ne!(first, second, "readers of the old file keep it whole");
        replace_reusing(&p, b"3").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"3");
        assert_eq!(inode(&p), first, "the replaced file became the spare");
        replace_reusing(&p, b"four").unwrap();
        assert_eq!(inode(&p), second);
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [".tmp-s.json.spare", "s.json"]);
        remove_reusing(&p);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn reusing_recovers_from_a_writer_killed_between_link_and_rename() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        replace_reusing(&p, b"one").unwrap();
        std::fs::write(dir.path().join(".tmp-s.json.old"), b"stale").unwrap();
        replace_reusing(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert!(!dir.path().join(".tmp-s.json.old").exists());
        assert_eq!(
            std::fs::read(dir.path().join(".tmp-s.json.spare")).unwrap(),
            b"one"
        );
    }
}
