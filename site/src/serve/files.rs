//! Finding the file for a request path inside the served directory, on a blocking thread:
//! every candidate is canonicalized and must stay under the canonical root, so a symlink
//! out of the tree is as good as missing, and so is lcc's `.lcc-site` mark (it says where
//! the site came from, which is no visitor's business). Small files are kept in memory
//! for a second so that hot files cost no system call at all.

use super::path::SitePath;
use bytes::Bytes;
use http::HeaderValue;
use lcc_core::ownership::SITE_MARK;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// Files up to this size are read whole and cached.
const SMALL_FILE: u64 = 2 * 1024 * 1024;
/// Total bytes the cache may hold before it is emptied.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// How long a cached file is trusted before its metadata is checked again.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// A file found for a request, with what the response headers need.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Size in bytes.
    pub len: u64,
    /// Modification time.
    pub modified: SystemTime,
    /// Strong validator from size and mtime.
    pub etag: HeaderValue,
    /// `Last-Modified` value.
    pub last_modified: HeaderValue,
    /// `Content-Type` value from the extension.
    pub content_type: HeaderValue,
    /// The whole content for a small file.
    pub content: Option<Bytes>,
    /// Identity of the file (device, inode, size, mtime) to tell a change.
    identity: Identity,
    /// When it was last checked, in ms since the cache started.
    checked_ms: AtomicU64,
}

/// What a request path leads to.
#[derive(Debug)]
pub(crate) enum Found {
    /// A file; `file` is open when the content is not in memory.
    File(Arc<Entry>, Option<File>),
    /// A directory asked for without its trailing slash.
    Redirect,
    /// Nothing inside the root (or something refused).
    Missing,
}

/// The served directory and its cache of small files.
#[derive(Debug)]
pub(crate) struct Files {
    root: PathBuf,
    cache: RwLock<HashMap<SitePath, Arc<Entry>>>,
    cached_bytes: AtomicU64,
    started: Instant,
}

impl Files {
    /// Serves the canonical directory `root`.
    pub(crate) fn new(root: PathBuf) -> Files {
        Files {
            root,
            cache: RwLock::new(HashMap::new()),
            cached_bytes: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// Finds what `path` leads to; fresh cache hits answer without leaving the runtime thread.
    pub(crate) async fn find(self: &Arc<Self>, path: &SitePath) -> Found {
        if let Some(entry) = self.fresh(path) {
            return Found::File(entry, None);
        }
        let files = Arc::clone(self);
        let path = path.clone();
        tokio::task::spawn_blocking(move || files.find_blocking(&path))
            .await
            .unwrap_or(Found::Missing)
    }

    /// A cached entry checked less than [`FRESH_FOR`] ago.
    fn fresh(&self, path: &SitePath) -> Option<Arc<Entry>> {
        let cache = self.cache.read().ok()?;
        let entry = cache.get(path)?;
        let age = self
            .now_ms()
            .saturating_sub(entry.checked_ms.load(Ordering::Relaxed));
        (u128::from(age) < FRESH_FOR.as_millis()).then(|| Arc::clone(entry))
    }

    /// Milliseconds since the cache started.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Resolves `path` on the file system, reusing or refreshing the cache.
    fn find_blocking(&self, path: &SitePath) -> Found {
        let Some(target) = self.resolve(path) else {
            return Found::Missing;
        };
        let target = match target {
            Resolved::File(p) => p,
            Resolved::Redirect => return Found::Redirect,
        };
        let Ok(mut file) = File::open(&target) else {
            return Found::Missing;
        };
        let Ok(meta) = file.metadata() else {
            return Found::Missing;
        };
        if !meta.is_file() {
            return Found::Missing;
        }
        let identity = identity_of(&meta);
        if let Some(entry) = self.cached_same(path, identity) {
            entry.checked_ms.store(self.now_ms(), Ordering::Relaxed);
            return Found::File(entry, None);
        }
        let small = meta.len() <= SMALL_FILE;
        let content = if small {
            read_whole(&mut file, meta.len()).ok()
        } else {
            None
        };
        let entry = Arc::new(self.entry(&target, &meta, identity, content));
        if entry.content.is_some() {
            self.remember(path, &entry);
            return Found::File(entry, None);
        }
        Found::File(entry, Some(file))
    }

    /// The file a path names: its canonical path inside the root, with `index.html` for a
    /// directory; None when missing, outside, or the mark.
    fn resolve(&self, path: &SitePath) -> Option<Resolved> {
        if path.segments.iter().any(|s| s == SITE_MARK.as_bytes()) {
            return None;
        }
        let candidate = self.inside(&self.root.join(path.relative()))?;
        let meta = fs::metadata(&candidate).ok()?;
        if meta.is_dir() {
            if !path.trailing_slash {
                return Some(Resolved::Redirect);
            }
            let index = self.inside(&candidate.join("index.html"))?;
            return regular(index);
        }
        if path.trailing_slash {
            return None; // `/file.txt/` names no directory
        }
        regular(candidate)
    }

    /// The canonical form of `path` if it exists, lies under the root and does not go
    /// through the mark (a symlink or `index.html` leading to it is refused too).
    fn inside(&self, path: &Path) -> Option<PathBuf> {
        let real = fs::canonicalize(path).ok()?;
        let rel = real.strip_prefix(&self.root).ok()?;
        let mark = rel.components().any(|c| c.as_os_str() == SITE_MARK);
        (!mark).then_some(real)
    }

    /// The cached entry for `path` if the file has not changed.
    fn cached_same(&self, path: &SitePath, identity: Identity) -> Option<Arc<Entry>> {
        let cache = self.cache.read().ok()?;
        cache
            .get(path)
            .filter(|e| e.identity == identity)
            .map(Arc::clone)
    }

    /// Keeps a small file's entry; empties the cache first when it would grow too big.
    fn remember(&self, path: &SitePath, entry: &Arc<Entry>) {
        let Ok(mut cache) = self.cache.write() else {
            return;
        };
        if self.cached_bytes.load(Ordering::Relaxed) + entry.len > CACHE_BYTES {
            cache.clear();
            self.cached_bytes.store(0, Ordering::Relaxed);
        }
        if let Some(old) = cache.insert(path.clone(), Arc::clone(entry)) {
            self.cached_bytes.fetch_sub(old.len, Ordering::Relaxed);
        }
        self.cached_bytes.fetch_add(entry.len, Ordering::Relaxed);
    }

    /// Builds the entry of an open file.
    fn entry(
        &self,
        target: &Path,
        meta: &fs::Metadata,
        identity: Identity,
        content: Option<Bytes>,
    ) -> Entry {
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let etag = format!(
            "\"{:x}-{:x}.{:x}\"",
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec()
        );
        Entry {
            // A file written while it was read: the bytes in hand are what is sent.
            len: content.as_ref().map_or(meta.len(), |c| c.len() as u64),
            modified,
            etag: header(&etag),
            last_modified: header(&httpdate::fmt_http_date(modified)),
            content_type: header(&content_type(target)),
            content,
            identity,
            checked_ms: AtomicU64::new(self.now_ms()),
        }
    }
}

/// A resolved request path.
enum Resolved {
    /// This file (canonical).
    File(PathBuf),
    /// A directory asked for without its trailing slash.
    Redirect,
}

/// The path if it is a regular file: opening a FIFO or a device would block or worse.
fn regular(path: PathBuf) -> Option<Resolved> {
    let meta = fs::metadata(&path).ok()?;
    meta.is_file().then_some(Resolved::File(path))
}

/// Device, inode, size, mtime seconds and nanoseconds.
type Identity = (u64, u64, u64, i64, i64);

/// The identity of a file, to tell when it changed.
fn identity_of(meta: &fs::Metadata) -> Identity {
    (
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
    )
}

/// Reads a whole small file.
fn read_whole(file: &mut File, len: u64) -> io::Result<Bytes> {
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.read_to_end(&mut buf)?;
    Ok(Bytes::from(buf))
}

/// The MIME type from the extension; text types say they are UTF-8.
fn content_type(path: &Path) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    if mime.type_() == mime_guess::mime::TEXT || mime.subtype() == "javascript" {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.essence_str().to_owned()
    }
}

/// A header value from text we built (always visible ASCII).
fn header(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}
