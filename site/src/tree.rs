//! The tree being extracted: creates directories, files and links under one root while
//! refusing anything that would write through a symlink or point outside the root, and
//! counting the bytes actually written against a limit.

use crate::error::ExtractError;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

/// Symlinks followed while resolving one link target before giving up (as the kernel's ELOOP).
const MAX_HOPS: usize = 40;

/// A symlink created during extraction, checked again once every entry is in place.
#[derive(Debug)]
struct CreatedLink {
    rel: PathBuf,
    entry: String,
    target: String,
}

/// A directory that receives an archive's entries safely.
#[derive(Debug)]
pub(crate) struct Tree {
    root: PathBuf,
    limit: u64,
    written: u64,
    links: Vec<CreatedLink>,
}

/// What an existing path at an entry's place is.
enum Existing {
    Nothing,
    Dir,
    Other,
}

impl Tree {
    /// A tree rooted at `root` (an existing, empty directory) accepting `limit` bytes.
    pub(crate) fn new(root: &Path, limit: u64) -> Self {
        Tree {
            root: root.to_path_buf(),
            limit,
            written: 0,
            links: Vec::new(),
        }
    }

    /// Creates a directory entry (and its missing parents).
    pub(crate) fn dir(&mut self, entry: &str, rel: &Path) -> Result<(), ExtractError> {
        if rel.as_os_str().is_empty() {
            return Ok(());
        }
        self.prepare_parents(entry, rel)?;
        match self.existing(rel)? {
            Existing::Dir => Ok(()),
            Existing::Other => Err(conflict(entry, "a file or link is there")),
            Existing::Nothing => {
                let path = self.root.join(rel);
                fs::create_dir(&path).map_err(|e| io_err(&path, e))
            }
        }
    }

    /// Writes a regular file from `data`; `declared` is the size the archive announced.
    pub(crate) fn file(
        &mut self,
        entry: &str,
        rel: &Path,
        data: &mut dyn Read,
        spec: FileSpec,
    ) -> Result<(), ExtractError> {
        if rel.as_os_str().is_empty() {
            return Err(conflict(entry, "a file cannot be the root"));
        }
        self.prepare_parents(entry, rel)?;
        self.make_room(entry, rel)?;
        let path = self.root.join(rel);
        let mode = if spec.mode & 0o111 != 0 { 0o755 } else { 0o644 };
        // create_new is O_EXCL: it never follows a symlink at the last component.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        let copied = self.copy_counted(entry, &path, data, &mut file)?;
        match spec.declared {
            Some(declared) if copied < declared => {
                return Err(ExtractError::Truncated {
                    entry: entry.to_owned(),
                    reason: format!("{copied} of {declared} bytes"),
                })
            }
            Some(declared) if copied > declared => {
                return Err(ExtractError::Corrupt {
                    entry: entry.to_owned(),
                    source: io::Error::other(format!("{copied} bytes, {declared} declared")),
                })
            }
            _ => {}
        }
        if let Some(mtime) = spec.mtime {
            // A wrong mtime only weakens caching; not worth failing the fetch for.
            let _ = file.set_modified(mtime);
        }
        Ok(())
    }

    /// Creates a symlink after checking that its target resolves inside the tree.
    pub(crate) fn symlink(
        &mut self,
        entry: &str,
        rel: &Path,
        target: &[u8],
    ) -> Result<(), ExtractError> {
        let target_text = String::from_utf8_lossy(target).into_owned();
        let escape = || ExtractError::SymlinkEscape {
            entry: entry.to_owned(),
            target: target_text.clone(),
        };
        if rel.as_os_str().is_empty() || target.is_empty() || target.contains(&0) {
            return Err(escape());
        }
        let target_path = PathBuf::from(OsString::from(std::os::unix::ffi::OsStrExt::from_bytes(
            target,
        ) as &std::ffi::OsStr));
        let base = rel.parent().unwrap_or(Path::new(""));
        if !self.stays_inside(base, &target_path) {
            return Err(escape());
        }
        self.prepare_parents(entry, rel)?;
        self.make_room(entry, rel)?;
        let path = self.root.join(rel);
        std::os::unix::fs::symlink(&target_path, &path).map_err(|e| io_err(&path, e))?;
        self.links.push(CreatedLink {
            rel: rel.to_path_buf(),
            entry: entry.to_owned(),
            target: target_text,
        });
        Ok(())
    }

    /// Creates a hard link to a regular file extracted earlier; `target` is relative to the root.
    pub(crate) fn hardlink(
        &mut self,
        entry: &str,
        rel: &Path,
        target_raw: &[u8],
    ) -> Result<(), ExtractError> {
        let refuse = |reason| ExtractError::HardlinkEscape {
            entry: entry.to_owned(),
            target: String::from_utf8_lossy(target_raw).into_owned(),
            reason,
        };
        let target = match crate::names::entry_path(target_raw) {
            Ok(t) if !t.as_os_str().is_empty() => t,
            _ => return Err(refuse("target outside the tree")),
        };
        if self.first_symlink(&target).is_some() {
            return Err(refuse("target goes through a symlink"));
        }
        let source = self.root.join(&target);
        match fs::symlink_metadata(&source) {
            Ok(meta) if meta.file_type().is_file() => {}
            _ => return Err(refuse("target is not a regular file extracted earlier")),
        }
        self.prepare_parents(entry, rel)?;
        self.make_room(entry, rel)?;
        let path = self.root.join(rel);
        fs::hard_link(&source, &path).map_err(|e| io_err(&path, e))
    }

    /// Checks every symlink again: a later link can change where an earlier one leads.
    pub(crate) fn finish(self) -> Result<(), ExtractError> {
        for link in &self.links {
            let path = self.root.join(&link.rel);
            let Ok(target) = fs::read_link(&path) else {
                continue; // replaced by a later entry; that entry was checked itself
            };
            let base = link.rel.parent().unwrap_or(Path::new(""));
            if !self.stays_inside(base, &target) {
                return Err(ExtractError::SymlinkEscape {
                    entry: link.entry.clone(),
                    target: link.target.clone(),
                });
            }
        }
        Ok(())
    }

    /// Refuses a path through a symlink or a file, then creates the missing parent directories.
    fn prepare_parents(&self, entry: &str, rel: &Path) -> Result<(), ExtractError> {
        let Some(parent) = rel.parent() else {
            return Ok(());
        };
        if let Some(link) = self.first_symlink(parent) {
            return Err(ExtractError::ThroughSymlink {
                entry: entry.to_owned(),
                link,
            });
        }
        let mut prefix = self.root.clone();
        for part in parent.components() {
            prefix.push(part);
            match fs::symlink_metadata(&prefix) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Err(conflict(entry, "a parent is a file")),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&prefix).map_err(|e| io_err(&prefix, e))?;
                }
                Err(e) => return Err(io_err(&prefix, e)),
            }
        }
        Ok(())
    }

    /// The first existing symlink among the prefixes of `rel` (including `rel` itself).
    fn first_symlink(&self, rel: &Path) -> Option<PathBuf> {
        let mut prefix = PathBuf::new();
        for part in rel.components() {
            prefix.push(part);
            match fs::symlink_metadata(self.root.join(&prefix)) {
                Ok(meta) if meta.file_type().is_symlink() => return Some(prefix),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    }

    /// What is already at `rel`.
    fn existing(&self, rel: &Path) -> Result<Existing, ExtractError> {
        let path = self.root.join(rel);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => Ok(Existing::Dir),
            Ok(_) => Ok(Existing::Other),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Existing::Nothing),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    /// Removes a file or link at `rel` (a later entry wins, as with tar); refuses a directory.
    fn make_room(&self, entry: &str, rel: &Path) -> Result<(), ExtractError> {
        match self.existing(rel)? {
            Existing::Nothing => Ok(()),
            Existing::Dir => Err(conflict(entry, "a directory is there")),
            Existing::Other => {
                let path = self.root.join(rel);
                // remove_file unlinks a symlink itself, never its target.
                fs::remove_file(&path).map_err(|e| io_err(&path, e))
            }
        }
    }

    /// Copies `data` into `out`, counting against the limit before each write.
    fn copy_counted(
        &mut self,
        entry: &str,
        path: &Path,
        data: &mut dyn Read,
        out: &mut fs::File,
    ) -> Result<u64, ExtractError> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut copied = 0u64;
        loop {
            let n = match data.read(&mut buf) {
                Ok(0) => return Ok(copied),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(crate::extract::read_error(entry, e)),
            };
            let n64 = n as u64;
            if self.written.saturating_add(n64) > self.limit {
                return Err(ExtractError::SizeLimit {
                    entry: entry.to_owned(),
                    limit: self.limit,
                });
            }
            out.write_all(&buf[..n]).map_err(|e| io_err(path, e))?;
            self.written += n64;
            copied += n64;
        }
    }

    /// Whether `target`, read from directory `base` (relative to the root), resolves inside
    /// the tree, following the symlinks already in it as the kernel would.
    fn stays_inside(&self, base: &Path, target: &Path) -> bool {
        let mut stack: Vec<OsString> = base
            .components()
            .map(|c| c.as_os_str().to_os_string())
            .collect();
        let mut queue: VecDeque<OsString> = VecDeque::new();
        if !push_front(&mut queue, target) {
            return false;
        }
        let mut hops = 0;
        while let Some(part) = queue.pop_front() {
            if part == ".." {
                if stack.pop().is_none() {
                    return false;
                }
                continue;
            }
            stack.push(part);
            let here: PathBuf = stack.iter().collect();
            let Ok(next) = fs::read_link(self.root.join(&here)) else {
                continue; // not a link (or not there yet): plain component
            };
            hops += 1;
            stack.pop();
            if hops > MAX_HOPS || !push_front(&mut queue, &next) {
                return false;
            }
        }
        true
    }
}

/// What the archive says about a regular file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileSpec {
    /// Unix mode bits from the archive (only the execute bits are kept).
    pub mode: u32,
    /// The size the archive announced, checked against the bytes read.
    pub declared: Option<u64>,
    /// Modification time to set.
    pub mtime: Option<SystemTime>,
}

/// Puts the components of `target` in front of `queue`; false for an absolute target.
fn push_front(queue: &mut VecDeque<OsString>, target: &Path) -> bool {
    let mut parts = Vec::new();
    for c in target.components() {
        match c {
            Component::Normal(name) => parts.push(name.to_os_string()),
            Component::ParentDir => parts.push(OsString::from("..")),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    for part in parts.into_iter().rev() {
        queue.push_front(part);
    }
    true
}

/// A conflict with an earlier entry.
fn conflict(entry: &str, reason: &'static str) -> ExtractError {
    ExtractError::Conflict {
        entry: entry.to_owned(),
        reason,
    }
}

/// An I/O error on `path`.
fn io_err(path: &Path, source: io::Error) -> ExtractError {
    ExtractError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, Tree) {
        let dir = tempfile::tempdir().expect("tempdir");
        let tree = Tree::new(dir.path(), 1 << 20);
        (dir, tree)
    }

    #[test]
    fn links_inside_pass_and_escapes_fail() {
        let (_dir, mut t) = tree();
        t.dir("d", Path::new("d")).expect("dir");
        assert!(t.symlink("d/up", Path::new("d/up"), b"..").is_ok());
        assert!(t.symlink("d/x", Path::new("d/x"), b"../../x").is_err());
        assert!(t.symlink("abs", Path::new("abs"), b"/etc").is_err());
        // Lexically `d/up/..` is `d`; through the link it is the root's parent.
        assert!(t.symlink("e", Path::new("e"), b"d/up/..").is_err());
    }

    #[test]
    fn a_later_link_making_an_earlier_one_escape_is_caught_at_finish() {
        let (_dir, mut t) = tree();
        t.dir("d", Path::new("d")).expect("dir");
        t.symlink("e", Path::new("e"), b"d/up/..")
            .expect("fine for now");
        t.symlink("d/up", Path::new("d/up"), b"..")
            .expect("fine alone");
        assert!(matches!(
            t.finish(),
            Err(ExtractError::SymlinkEscape { entry, .. }) if entry == "e"
        ));
    }

    #[test]
    fn link_loops_are_refused() {
        let (_dir, mut t) = tree();
        t.symlink("a", Path::new("a"), b"b")
            .expect("dangling is fine");
        t.symlink("b", Path::new("b"), b"a")
            .expect("dangling is fine");
        assert!(t.symlink("c", Path::new("c"), b"a").is_err());
    }
}
