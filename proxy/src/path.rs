//! Request paths as the proxy routes and forwards them: dot segments removed (RFC 3986
//! 5.2.4), so that `/entrances/a/../b/x` is routed to entrance `b` and no backend is
//! asked for `/../etc/passwd`. A percent-encoded dot (`%2e`) counts as a dot: it is an
//! unreserved character, which RFC 3986 6.2.2.2 says to decode when comparing paths,
//! and many servers decode it before they open a file. Where RFC 3986 would silently
//! drop a `..` above the root, the proxy refuses the request (400): such a path is an
//! attempt, never a link.
//!
//! A path with no dot segment, nearly every one, is returned as it is, without a copy.

use std::borrow::Cow;

/// A `..` that would go above the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the path goes above the root")]
pub(crate) struct AboveRoot;

/// `path` with its dot segments removed; borrowed when it has none. A path that does
/// not start with `/` (`*`) is left alone.
pub(crate) fn normalise(path: &str) -> Result<Cow<'_, str>, AboveRoot> {
    if !path.starts_with('/') || !might_have_dots(path.as_bytes()) {
        return Ok(Cow::Borrowed(path));
    }
    let segments = path[1..].split('/');
    if !segments.clone().any(|s| dots(s) > 0) {
        return Ok(Cow::Borrowed(path));
    }
    let last = segments.clone().count() - 1;
    let mut kept: Vec<&str> = Vec::new();
    for (i, segment) in segments.enumerate() {
        match dots(segment) {
            0 => kept.push(segment),
            1 => {}
            _ => {
                kept.pop().ok_or(AboveRoot)?;
            }
        }
        // `/a/.` and `/a/b/..` end in a directory: keep the trailing slash
        if i == last && dots(segment) > 0 {
            kept.push("");
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in kept {
        out.push('/');
        out.push_str(segment);
    }
    Ok(Cow::Owned(out))
}

/// True when a `/` is followed by `.` or `%`: the cheap test that lets nearly every
/// path through untouched.
fn might_have_dots(path: &[u8]) -> bool {
    path.windows(2)
        .any(|w| w[0] == b'/' && matches!(w[1], b'.' | b'%'))
}

/// 1 for a `.` segment, 2 for `..` (each dot plain or `%2e`), 0 for any other.
fn dots(segment: &str) -> usize {
    let mut rest = segment.as_bytes();
    let mut n = 0;
    while !rest.is_empty() {
        if rest[0] == b'.' {
            rest = &rest[1..];
        } else if rest.len() >= 3 && rest[0] == b'%' && rest[1] == b'2' && rest[2] | 0x20 == b'e' {
            rest = &rest[3..];
        } else {
            return 0;
        }
        n += 1;
    }
    if n > 2 {
        0
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_removed_as_rfc_3986_says() {
        let ok = |p: &str| normalise(p).expect(p).into_owned();
        // RFC 3986 5.4's examples that stay below the root
        assert_eq!(ok("/a/b/c/./../../g"), "/a/g");
        assert_eq!(ok("/mid/content=5/../6"), "/mid/6");
        assert_eq!(ok("/a/b/c/."), "/a/b/c/");
        assert_eq!(ok("/a/b/c/.."), "/a/b/");
        assert_eq!(ok("/a/.."), "/");
        assert_eq!(ok("/a//../b"), "/a/b");
        assert_eq!(ok("/entrances/echo/../../etc/passwd"), "/etc/passwd");
        assert_eq!(ok("/a/%2e%2E/b/%2e/c"), "/b/c");
        // dots that are not segments of their own
        for same in [
            "/",
            "/a/b",
            "/.well-known/x",
            "/a/...",
            "/a/.b",
            "/a%2e/b",
            "/%41",
            "*",
            "//x",
        ] {
            assert!(
                matches!(normalise(same), Ok(Cow::Borrowed(p)) if p == same),
                "{same}"
            );
        }
    }

    #[test]
    fn a_path_above_the_root_is_refused() {
        for bad in [
            "/..",
            "/../x",
            "/a/../..",
            "/entrances/e/../../../etc/passwd",
            "/%2e%2e/x",
        ] {
            assert_eq!(normalise(bad), Err(AboveRoot), "{bad}");
        }
    }
}
