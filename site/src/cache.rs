//! The download cache: archives stored by sha256 under `<cache dir>/lcc/archives/`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A directory of archives named by their sha256.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The user's cache (`$XDG_CACHE_HOME/lcc/archives`, else `~/.cache/lcc/archives`).
    pub fn user() -> Option<Cache> {
        dirs::cache_dir().map(|d| Cache::at(&d.join("lcc").join("archives")))
    }

    /// A cache in `dir`.
    pub fn at(dir: &Path) -> Cache {
        Cache {
            dir: dir.to_path_buf(),
        }
    }

    /// The cache's directory, created if missing.
    pub fn dir(&self) -> io::Result<&Path> {
        fs::create_dir_all(&self.dir)?;
        Ok(&self.dir)
    }

    /// Where the archive with this sha256 lives.
    pub fn path_for(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    /// The cached archive with this sha256 if its content still has that hash; a damaged
    /// copy is removed.
    pub fn lookup(&self, sha256: &str) -> Option<PathBuf> {
        let path = self.path_for(sha256);
        match crate::sha::hash_file(&path) {
            Ok(actual) if actual == sha256 => Some(path),
            Ok(_) => {
                let _ = fs::remove_file(&path);
                None
            }
            Err(_) => None,
        }
    }
}
