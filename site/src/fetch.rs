//! `lcc fetch`: get an archive (download, cache or local file), verify it, extract it
//! safely beside the target and swap it into place.

use crate::cache::Cache;
use crate::download::download;
use crate::error::FetchError;
use crate::extract::{detect, extract};
use crate::install::{check_target, stage_beside, swap_into_place, write_mark};
use lcc_core::archive_source::Source;
use lcc_core::ownership::{SiteMark, SITE_MARK};
use std::fs::{self, File};
use std::path::{Component, Path, PathBuf};
use tempfile::NamedTempFile;

/// What to fetch and where to put it.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// http(s)://, file:// URL or a path (relative to the current directory).
    pub url: String,
    /// The directory that receives the site.
    pub into: PathBuf,
    /// The expected sha256 of the archive, if known.
    pub sha256: Option<String>,
    /// The subdirectory of the archive to keep.
    pub root: Option<String>,
    /// Limit on the bytes extracted.
    pub max_size: u64,
    /// The download cache (None: no caching).
    pub cache: Option<Cache>,
    /// Replace what is at `into` even without lcc's `.lcc-site` mark (never a path on the
    /// never-list; a symlink is replaced as a link, never followed).
    pub force: bool,
}

/// The outcome of a successful fetch.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The sha256 of the archive that was installed.
    pub sha256: String,
    /// Whether the archive came from the cache without a download.
    pub from_cache: bool,
}

/// A local copy of the archive, verified.
#[derive(Debug)]
struct Local {
    path: PathBuf,
    sha256: String,
    from_cache: bool,
    /// Keeps an uncached download alive until extraction is over.
    _temp: Option<NamedTempFile>,
}

/// Fetches `opts.url` into `opts.into`; on any error `opts.into` is left as it was. The
/// installed tree carries a `.lcc-site` mark (source and sha256), and only such a tree,
/// an empty directory or a missing path is replaced without `opts.force`.
pub fn fetch(opts: &FetchOptions) -> Result<Fetched, FetchError> {
    let url = opts.url.as_str();
    let expected = opts
        .sha256
        .as_deref()
        .map(crate::sha::normalize)
        .transpose()?;
    let root = opts.root.as_deref().map(check_root).transpose()?;
    let source = Source::parse(url)?;
    // Before anything is downloaded or staged: a refusal costs nothing and touches nothing.
    check_target(&opts.into, opts.force)?;
    let stage = stage_beside(&opts.into).map_err(|e| install_err(opts, e))?;
    let local = obtain(
        url,
        &source,
        expected.as_deref(),
        opts.cache.as_ref(),
        stage.path(),
    )?;
    let io_err = |path: &Path, source| FetchError::Io {
        url: url.to_owned(),
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(&local.path).map_err(|e| io_err(&local.path, e))?;
    let format = detect(&mut file, url)
        .map_err(|e| io_err(&local.path, e))?
        .ok_or_else(|| FetchError::UnknownFormat {
            url: url.to_owned(),
        })?;
    let tree = stage.path().join("tree");
    fs::create_dir(&tree).map_err(|e| io_err(&tree, e))?;
    extract(file, format, &tree, opts.max_size).map_err(|source| FetchError::Extract {
        url: url.to_owned(),
        source,
    })?;
    let chosen = choose_root(url, &tree, root.as_deref(), opts.root.as_deref())?;
    let mark = SiteMark {
        source: url.to_owned(),
        sha256: local.sha256.clone(),
    };
    write_mark(&chosen, &mark).map_err(|e| io_err(&chosen.join(SITE_MARK), e))?;
    // Judged again: a download can take long enough for something to appear at `into`.
    check_target(&opts.into, opts.force)?;
    swap_into_place(&chosen, &opts.into, stage.path()).map_err(|e| install_err(opts, e))?;
    Ok(Fetched {
        sha256: local.sha256,
        from_cache: local.from_cache,
    })
}

/// Gets a verified local copy: the file itself, a cache hit, or a fresh download.
fn obtain(
    url: &str,
    source: &Source,
    expected: Option<&str>,
    cache: Option<&Cache>,
    stage: &Path,
) -> Result<Local, FetchError> {
    match source {
        Source::File(path) => {
            let sha256 = crate::sha::hash_file(path).map_err(|e| FetchError::Io {
                url: url.to_owned(),
                path: path.clone(),
                source: e,
            })?;
            verify(url, expected, &sha256)?;
            Ok(Local {
                path: path.clone(),
                sha256,
                from_cache: false,
                _temp: None,
            })
        }
        Source::Http(_) => {
            if let Some(hit) = expected.and_then(|sha| cache.and_then(|c| c.lookup(sha))) {
                return Ok(Local {
                    path: hit,
                    sha256: expected.unwrap_or_default().to_owned(),
                    from_cache: true,
                    _temp: None,
                });
            }
            fetch_http(url, expected, cache, stage)
        }
    }
}

/// Downloads into the cache directory (or the stage when there is no usable cache),
/// verifies, and stores the archive under its sha256.
fn fetch_http(
    url: &str,
    expected: Option<&str>,
    cache: Option<&Cache>,
    stage: &Path,
) -> Result<Local, FetchError> {
    let cache_dir = cache.and_then(|c| c.dir().ok().map(Path::to_path_buf));
    let dir = cache_dir.as_deref().unwrap_or(stage);
    let got = download(url, dir)?;
    verify(url, expected, &got.sha256)?;
    let mut file = got.file;
    if let Some(cache) = cache.filter(|_| cache_dir.is_some()) {
        let path = cache.path_for(&got.sha256);
        match file.persist(&path) {
            Ok(_) => {
                return Ok(Local {
                    path,
                    sha256: got.sha256,
                    from_cache: false,
                    _temp: None,
                })
            }
            // Not cached this time; the download itself is still good.
            Err(e) => file = e.file,
        }
    }
    Ok(Local {
        path: file.path().to_path_buf(),
        sha256: got.sha256,
        from_cache: false,
        _temp: Some(file),
    })
}

/// Refuses a hash other than the expected one, naming both.
fn verify(url: &str, expected: Option<&str>, actual: &str) -> Result<(), FetchError> {
    match expected {
        Some(exp) if exp != actual => Err(FetchError::Sha256Mismatch {
            url: url.to_owned(),
            expected: exp.to_owned(),
            actual: actual.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Checks that `--root` is a plain relative path.
fn check_root(root: &str) -> Result<PathBuf, FetchError> {
    let bad = |reason| FetchError::BadRoot {
        root: root.to_owned(),
        reason,
    };
    let path = Path::new(root);
    let mut clean = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(name) => clean.push(name),
            Component::CurDir => {}
            Component::ParentDir => return Err(bad("`..` is not allowed")),
            Component::RootDir | Component::Prefix(_) => return Err(bad("must be relative")),
        }
    }
    Ok(clean)
}

/// The directory of the extracted tree to install: the tree or its `root` subdirectory,
/// reached without symlinks.
fn choose_root(
    url: &str,
    tree: &Path,
    root: Option<&Path>,
    raw: Option<&str>,
) -> Result<PathBuf, FetchError> {
    let Some(root) = root.filter(|r| !r.as_os_str().is_empty()) else {
        return Ok(tree.to_path_buf());
    };
    let missing = || FetchError::RootMissing {
        url: url.to_owned(),
        root: raw.unwrap_or_default().to_owned(),
    };
    let mut here = tree.to_path_buf();
    for part in root.components() {
        here.push(part);
        match fs::symlink_metadata(&here) {
            Ok(meta) if meta.is_dir() => {}
            _ => return Err(missing()),
        }
    }
    Ok(here)
}

/// An error while staging or installing into the target.
fn install_err(opts: &FetchOptions, source: std::io::Error) -> FetchError {
    FetchError::Install {
        url: opts.url.clone(),
        path: opts.into.clone(),
        source,
    }
}
