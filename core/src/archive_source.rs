//! Where a static site's archive comes from: an http(s) URL, a file:// URL or a local
//! path. Shared by `lcc fetch` (which reads it) and `lcc export` (which decides between
//! a download in the pod and a ConfigMap), so that both read a URL the same way.

use percent_encoding::percent_decode_str;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// A location that is none of the kinds lcc reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{url}: unsupported URL (use http://, https://, file:// or a path)")]
pub struct UnsupportedUrl {
    /// The URL given.
    pub url: String,
}

/// The parsed location of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An http:// or https:// URL, downloaded (and cached).
    Http(String),
    /// A local file, read in place.
    File(PathBuf),
}

impl Source {
    /// Parses `url`: http(s)://, file:///abs/path (or file://localhost/...), or a path.
    pub fn parse(url: &str) -> Result<Source, UnsupportedUrl> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return Ok(Source::Http(url.to_owned()));
        }
        if lower.starts_with("file://") {
            return file_url(url);
        }
        if url.is_empty() || has_scheme(url) {
            return Err(UnsupportedUrl {
                url: url.to_owned(),
            });
        }
        Ok(Source::File(PathBuf::from(url)))
    }
}

/// The path of a file:// URL, percent-decoded once.
fn file_url(url: &str) -> Result<Source, UnsupportedUrl> {
    let rest = &url["file://".len()..];
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return Err(UnsupportedUrl {
            url: url.to_owned(),
        });
    }
    let bytes: Vec<u8> = percent_decode_str(path).collect();
    Ok(Source::File(PathBuf::from(OsStr::from_bytes(&bytes))))
}

/// Whether `text` starts like `scheme://`.
fn has_scheme(text: &str) -> bool {
    match text.find("://") {
        Some(at) => {
            let scheme = &text[..at];
            !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind() {
        assert_eq!(
            Source::parse("https://x/a.tgz").ok(),
            Some(Source::Http("https://x/a.tgz".into()))
        );
        assert_eq!(
            Source::parse("file:///tmp/a%20b.zip").ok(),
            Some(Source::File("/tmp/a b.zip".into()))
        );
        assert_eq!(
            Source::parse("file://localhost/t.tar").ok(),
            Some(Source::File("/t.tar".into()))
        );
        assert_eq!(
            Source::parse("site.tar.gz").ok(),
            Some(Source::File("site.tar.gz".into()))
        );
        assert!(Source::parse("ftp://x/a.tar").is_err());
        assert!(Source::parse("file://host/a.tar").is_err());
    }
}
