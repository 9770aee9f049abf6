//! Request paths: percent-decoded exactly once, then refused if they could climb out of
//! the served directory (`..`, NUL, backslash). What remains is a list of plain names.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// A request path that is safe to join to the served directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SitePath {
    /// The plain names, decoded.
    pub segments: Vec<Vec<u8>>,
    /// Whether the request path ended with `/`.
    pub trailing_slash: bool,
}

impl SitePath {
    /// Decodes `raw` (the path of the request target) once and checks it.
    pub(crate) fn parse(raw: &str) -> Option<SitePath> {
        if !raw.starts_with('/') {
            return None;
        }
        let bytes: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
        if bytes.contains(&0) || bytes.contains(&b'\\') {
            return None;
        }
        let mut segments = Vec::new();
        for part in bytes.split(|b| *b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => return None,
                name => segments.push(name.to_vec()),
            }
        }
        Some(SitePath {
            trailing_slash: bytes.ends_with(b"/"),
            segments,
        })
    }

    /// The root's index page.
    pub(crate) fn index() -> SitePath {
        SitePath {
            segments: vec![b"index.html".to_vec()],
            trailing_slash: false,
        }
    }

    /// The path relative to the served directory.
    pub(crate) fn relative(&self) -> PathBuf {
        self.segments.iter().map(|s| OsStr::from_bytes(s)).collect()
    }

    /// The URL path of this directory with a trailing slash, re-encoded, for a redirect.
    /// Built from the clean segments so that `//host` can never become a redirect target.
    pub(crate) fn slash_url(&self) -> String {
        let mut url = String::from("/");
        for seg in &self.segments {
            url.extend(percent_encoding::percent_encode(seg, SEGMENT));
            url.push('/');
        }
        url
    }
}

/// Characters escaped in a path segment of a redirect.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}');

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(raw: &str) -> Option<PathBuf> {
        SitePath::parse(raw).map(|p| p.relative())
    }

    #[test]
    fn decodes_once() {
        assert_eq!(rel("/a%20b/c.txt"), Some(PathBuf::from("a b/c.txt")));
        assert_eq!(rel("/%252e%252e/x"), Some(PathBuf::from("%2e%2e/x")));
        assert_eq!(rel("/./a//b/"), Some(PathBuf::from("a/b")));
    }

    #[test]
    fn refuses_climbing() {
        for raw in [
            "/../x",
            "/a/../../x",
            "/%2e%2e/x",
            "/%2E%2E%2Fx",
            "/..%2fx",
            "/a%5c..%5cx",
            "/a\\..\\x",
            "/a%00b",
            "relative",
        ] {
            assert_eq!(rel(raw), None, "{raw}");
        }
    }

    proptest::proptest! {
        /// Whatever the client sends, what is joined to the root is plain names only.
        #[test]
        fn parsed_paths_never_climb(parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("..".to_owned()),
                proptest::strategy::Just("%2e%2e".to_owned()),
                proptest::strategy::Just("%2E.".to_owned()),
                proptest::strategy::Just("%252e".to_owned()),
                proptest::strategy::Just("%5c".to_owned()),
                proptest::strategy::Just("\\".to_owned()),
                proptest::strategy::Just("%2f".to_owned()),
                proptest::strategy::Just("%00".to_owned()),
                "[a-z.%/]{0,6}",
            ],
            0..8,
        )) {
            let raw = format!("/{}", parts.join("/"));
            if let Some(p) = SitePath::parse(&raw) {
                for c in p.relative().components() {
                    proptest::prop_assert!(
                        matches!(c, std::path::Component::Normal(_)),
                        "{raw} gave {:?}", p.relative()
                    );
                }
            }
        }
    }

    #[test]
    fn slash_url_cannot_become_protocol_relative() {
        let p = SitePath::parse("//evil.example").expect("parses");
        assert_eq!(p.slash_url(), "/evil.example/");
    }
}
