//! Error types of the crate: one enum per job (fetch, extract, serve), each variant naming
//! the URL, path or archive entry it concerns.

use lcc_core::protected::Refusal;
use std::io;
use std::path::PathBuf;

/// Why an archive entry was refused or could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The entry's name is absolute.
    #[error("entry {entry:?}: absolute path refused")]
    AbsolutePath {
        /// The entry's name as stored in the archive.
        entry: String,
    },
    /// The entry's name contains a `..` component.
    #[error("entry {entry:?}: `..` component refused")]
    ParentComponent {
        /// The entry's name as stored in the archive.
        entry: String,
    },
    /// The entry's name is empty, holds a NUL or a backslash.
    #[error("entry {entry:?}: invalid name ({reason})")]
    BadName {
        /// The entry's name as stored in the archive.
        entry: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A symlink whose target resolves outside the extracted tree.
    #[error("entry {entry:?}: symlink to {target:?} points outside the tree")]
    SymlinkEscape {
        /// The link's name.
        entry: String,
        /// The link's target as stored in the archive.
        target: String,
    },
    /// A hard link whose target is outside the tree or not a regular file in it.
    #[error("entry {entry:?}: hard link to {target:?} refused ({reason})")]
    HardlinkEscape {
        /// The link's name.
        entry: String,
        /// The link's target as stored in the archive.
        target: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The entry would be written through a symlink extracted earlier.
    #[error("entry {entry:?}: path goes through the symlink {link:?}")]
    ThroughSymlink {
        /// The entry's name.
        entry: String,
        /// The symlink on its path, relative to the tree.
        link: PathBuf,
    },
    /// A device file, FIFO, socket or other entry type that a site never needs.
    #[error("entry {entry:?}: {kind} refused")]
    SpecialFile {
        /// The entry's name.
        entry: String,
        /// What it is: "character device", "FIFO", ...
        kind: &'static str,
    },
    /// The entry conflicts with what an earlier entry created (a file where a directory is).
    #[error("entry {entry:?}: conflicts with an earlier entry ({reason})")]
    Conflict {
        /// The entry's name.
        entry: String,
        /// What was already there.
        reason: &'static str,
    },
    /// The extracted bytes passed the size limit.
    #[error("entry {entry:?}: extracted size passes the limit of {limit} bytes")]
    SizeLimit {
        /// The entry being written when the limit was passed.
        entry: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The archive ends before an entry or the archive itself is complete.
    #[error("truncated archive at entry {entry:?}: {reason}")]
    Truncated {
        /// The last entry seen ("" when none).
        entry: String,
        /// What is missing.
        reason: String,
    },
    /// The archive cannot be parsed.
    #[error("corrupt archive at entry {entry:?}: {source}")]
    Corrupt {
        /// The last entry seen ("" when none).
        entry: String,
        /// The parser's error.
        source: io::Error,
    },
    /// Writing into the tree failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// Why `lcc fetch` failed. Every variant names the URL or path it concerns.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The `--sha256` value is not 64 hex digits.
    #[error("invalid sha256 {value:?}: expected 64 hex digits")]
    BadSha256 {
        /// The value given.
        value: String,
    },
    /// The `--root` value is not a plain relative path.
    #[error("invalid root {root:?}: {reason}")]
    BadRoot {
        /// The value given.
        root: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The URL has a scheme other than http, https or file.
    #[error(transparent)]
    UnsupportedUrl(#[from] lcc_core::archive_source::UnsupportedUrl),
    /// The HTTP request failed: status, connection, TLS, timeout.
    #[error("fetching {url}: {reason}")]
    Http {
        /// The URL requested.
        url: String,
        /// The error, in words.
        reason: String,
    },
    /// Reading the archive or writing the cache failed.
    #[error("{url}: {path}: {source}")]
    Io {
        /// The URL fetched.
        url: String,
        /// The local file concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The archive's sha256 differs from the one expected.
    #[error("{url}: sha256 mismatch: expected {expected}, got {actual}")]
    Sha256Mismatch {
        /// The URL fetched.
        url: String,
        /// The hash asked for.
        expected: String,
        /// The hash of what was received.
        actual: String,
    },
    /// The content is neither gzip, tar nor zip.
    #[error("{url}: not a .tar.gz, .tar or .zip archive")]
    UnknownFormat {
        /// The URL fetched.
        url: String,
    },
    /// An entry was refused or the archive is broken.
    #[error("{url}: {source}")]
    Extract {
        /// The URL fetched.
        url: String,
        /// What went wrong.
        source: ExtractError,
    },
    /// `--root` names no directory of the archive.
    #[error("{url}: the archive has no directory {root:?}")]
    RootMissing {
        /// The URL fetched.
        url: String,
        /// The root asked for.
        root: String,
    },
    /// `--into` is on the never-list (the root, the home, a system directory, a mount
    /// point, the current directory or one holding it): refused even with `--force`.
    #[error(
        "refusing to replace {path}{shown}: {rule}; lcc never replaces that, even with \
         --force; give another --into",
        path = .path.display(),
        shown = resolved_if_other(.path, .resolved),
    )]
    Protected {
        /// The `--into` given.
        path: PathBuf,
        /// Where it leads (symlinks and `..` followed), as judged.
        resolved: PathBuf,
        /// The never-list's rule.
        rule: Refusal,
    },
    /// `--into` holds something lcc did not put there and `--force` was not given.
    #[error("refusing to replace {path}: {found}", path = .path.display())]
    NotOurs {
        /// The `--into` given.
        path: PathBuf,
        /// What is there, with how to proceed.
        found: Unowned,
    },
    /// Putting the new site in place failed.
    #[error("{url}: installing into {path}: {source}")]
    Install {
        /// The URL fetched.
        url: String,
        /// The target directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// What `lcc fetch` found at `--into` that it did not put there (no `.lcc-site` mark), in
/// words that say how to proceed.
#[derive(Debug, thiserror::Error)]
pub enum Unowned {
    /// A directory with entries and no readable `.lcc-site` mark.
    #[error(
        "it holds {count} {entries} lcc did not put there (it has no .lcc-site mark), \
         such as {example}; give another --into, or add --force if everything in it may \
         be deleted",
        entries = if *.count == 1 { "entry" } else { "entries" },
    )]
    Entries {
        /// How many entries it holds.
        count: usize,
        /// The first of their names, in byte order.
        example: String,
    },
    /// A directory whose entries cannot be listed, so whether lcc made it is unknown.
    #[error(
        "it is a directory lcc cannot list ({source}); give another --into, or add --force \
         if everything in it may be deleted"
    )]
    Unlisted {
        /// Why listing failed.
        source: io::Error,
    },
    /// A regular file.
    #[error("it is a file; give another --into, or add --force if the file may be deleted")]
    File,
    /// A symlink; `--force` replaces the link itself and never touches what it points to.
    #[error(
        "it is a symlink to {target}; give another --into, or add --force to replace the \
         link (what it points to is left alone)",
        target = .target.display(),
    )]
    Symlink {
        /// What the link points to, as stored.
        target: PathBuf,
    },
    /// A FIFO, socket or device.
    #[error("it is a {kind}; give another --into, or add --force if it may be deleted")]
    Special {
        /// What it is: "FIFO", "socket", "device".
        kind: &'static str,
    },
    /// Something whose metadata cannot be read.
    #[error("it cannot be examined ({source}); give another --into")]
    Unknown {
        /// Why.
        source: io::Error,
    },
}

/// `" (which is RESOLVED)"` when `--into` leads somewhere else than it reads, else `""`.
fn resolved_if_other(path: &std::path::Path, resolved: &std::path::Path) -> String {
    if path == resolved {
        String::new()
    } else {
        format!(" (which is {})", resolved.display())
    }
}

/// Why the static server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The directory to serve is missing or not a directory.
    #[error("{path}: {source}")]
    Root {
        /// The directory given.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Accepting connections failed for good.
    #[error("accepting on {addr}: {source}")]
    Accept {
        /// The listening address.
        addr: String,
        /// The underlying error.
        source: io::Error,
    },
}
