//! Ownership marks: the small file lcc puts in a directory it creates, so that it later
//! deletes or replaces only what it made, as Docker does with its volumes. A Storage's
//! directory gets `.lcc-storage` (cluster and storage name), a directory `lcc fetch`
//! filled gets `.lcc-site` (source and digest). A mark is a regular file of `key: value`
//! lines after a comment saying what it is for; a symlink in its place is no mark.

use std::io;
use std::path::Path;

/// The mark of a Storage's directory.
pub const STORAGE_MARK: &str = ".lcc-storage";
/// The mark of a directory `lcc fetch --into` filled.
pub const SITE_MARK: &str = ".lcc-site";

/// What `.lcc-storage` says: which storage of which cluster the directory holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageMark {
    /// The cluster's name.
    pub cluster: String,
    /// The Storage's name.
    pub storage: String,
}

impl StorageMark {
    /// The file's text.
    pub fn text(&self) -> String {
        format!(
            "# Made by Local Cluster (lcc) for a Storage: `lcc storage rm` deletes this\n\
             # directory only while this file names its cluster and storage.\n\
             cluster: {}\nstorage: {}\n",
            self.cluster, self.storage
        )
    }

    /// The mark in `dir`, if it has a readable one.
    pub fn read(dir: &Path) -> io::Result<Option<StorageMark>> {
        Ok(read_mark(dir, STORAGE_MARK)?.and_then(|text| {
            Some(StorageMark {
                cluster: value(&text, "cluster")?,
                storage: value(&text, "storage")?,
            })
        }))
    }
}

/// What `.lcc-site` says: where the site came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteMark {
    /// The URL or path given to `lcc fetch`.
    pub source: String,
    /// The archive's sha256.
    pub sha256: String,
}

impl SiteMark {
    /// The file's text (a source with a line break is written on one line).
    pub fn text(&self) -> String {
        format!(
            "# Made by `lcc fetch`: `lcc fetch --into` replaces this directory only while\n\
             # this file is in it.\n\
             source: {}\nsha256: {}\n",
            self.source.replace(['\n', '\r'], " "),
            self.sha256
        )
    }

    /// The mark in `dir`, if it has a readable one.
    pub fn read(dir: &Path) -> io::Result<Option<SiteMark>> {
        Ok(read_mark(dir, SITE_MARK)?.and_then(|text| {
            Some(SiteMark {
                source: value(&text, "source")?,
                sha256: value(&text, "sha256")?,
            })
        }))
    }
}

/// The text of `dir/name` when it is a regular file (not a symlink); `None` if absent.
fn read_mark(dir: &Path, name: &str) -> io::Result<Option<String>> {
    let path = dir.join(name);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => std::fs::read_to_string(&path).map(Some),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The value of the first `key: value` line.
fn value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_round_trip_and_symlinks_are_not_marks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mark = StorageMark {
            cluster: "demo".into(),
            storage: "notes".into(),
        };
        assert_eq!(StorageMark::read(dir.path()).expect("read"), None);
        std::fs::write(dir.path().join(STORAGE_MARK), mark.text()).expect("write");
        assert_eq!(StorageMark::read(dir.path()).expect("read"), Some(mark));

        let site = SiteMark {
            source: "https://example.test/a b\n.tar.gz".into(),
            sha256: "ab".repeat(32),
        };
        let other = tempfile::tempdir().expect("tempdir");
        std::fs::write(other.path().join("real"), site.text()).expect("write");
        std::os::unix::fs::symlink(other.path().join("real"), dir.path().join(SITE_MARK))
            .expect("symlink");
        assert_eq!(SiteMark::read(dir.path()).expect("read"), None);
        let read = SiteMark::read(other.path()).expect("read");
        assert_eq!(read, None, "a file of another name is no mark");
        std::fs::rename(other.path().join("real"), other.path().join(SITE_MARK)).expect("mv");
        let read = SiteMark::read(other.path()).expect("read").expect("mark");
        assert_eq!(read.source, "https://example.test/a b .tar.gz");
        assert_eq!(read.sha256, site.sha256);
    }
}
