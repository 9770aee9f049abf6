//! Conditional and range requests per RFC 9110: preconditions (sections 13.1-13.2) and
//! single byte ranges with `If-Range` (section 14).

use http::header::{self, HeaderMap};
use http::Method;
use std::time::{SystemTime, UNIX_EPOCH};

/// The outcome of evaluating the preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// Go on with the request.
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Evaluates the preconditions in the order of RFC 9110 section 13.2.2.
pub(crate) fn precondition(
    headers: &HeaderMap,
    method: &Method,
    etag: &str,
    modified: SystemTime,
) -> Precondition {
    if let Some(value) = text(headers, &header::IF_MATCH) {
        if !etag_matches(value, etag, true) {
            return Precondition::Failed;
        }
    } else if let Some(date) = date(headers, &header::IF_UNMODIFIED_SINCE) {
        if secs(modified) > date {
            return Precondition::Failed;
        }
    }
    let safe = method == Method::GET || method == Method::HEAD;
    if let Some(value) = text(headers, &header::IF_NONE_MATCH) {
        if etag_matches(value, etag, false) {
            return if safe {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if let Some(date) = date(headers, &header::IF_MODIFIED_SINCE).filter(|_| safe) {
        if secs(modified) <= date {
            return Precondition::NotModified;
        }
    }
    Precondition::Proceed
}

/// The part of the representation to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ranged {
    /// The whole representation (200).
    Full,
    /// Bytes `start..=end` (206).
    Part {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// No byte of the range exists (416).
    Unsatisfiable,
}

/// Evaluates `Range` and `If-Range` for a GET of `len` bytes. Several ranges, an unknown
/// unit or bad syntax give the whole representation, as RFC 9110 allows.
pub(crate) fn range(
    headers: &HeaderMap,
    method: &Method,
    len: u64,
    etag: &str,
    modified: SystemTime,
) -> Ranged {
    if method != Method::GET {
        return Ranged::Full;
    }
    let Some(value) = text(headers, &header::RANGE) else {
        return Ranged::Full;
    };
    if let Some(cond) = text(headers, &header::IF_RANGE) {
        if !if_range_holds(cond, etag, modified) {
            return Ranged::Full;
        }
    }
    parse_range(value, len)
}

/// Whether an `If-Range` validator still matches: a strong ETag, or the exact date.
fn if_range_holds(cond: &str, etag: &str, modified: SystemTime) -> bool {
    let cond = cond.trim();
    if cond.starts_with('"') || cond.starts_with("W/") {
        return cond == etag;
    }
    httpdate::parse_http_date(cond).is_ok_and(|d| secs(d) == secs(modified))
}

/// Parses one `bytes=` range against a length.
fn parse_range(value: &str, len: u64) -> Ranged {
    let Some((unit, spec)) = value.split_once('=') else {
        return Ranged::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return Ranged::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ranged::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return match number(last) {
            Some(0) => Ranged::Unsatisfiable,
            Some(_) if len == 0 => Ranged::Unsatisfiable,
            Some(n) => Ranged::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            },
            None => Ranged::Full,
        };
    }
    let Some(start) = number(first) else {
        return Ranged::Full;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match number(last) {
            Some(end) if end >= start => end,
            _ => return Ranged::Full,
        }
    };
    if start >= len {
        return Ranged::Unsatisfiable;
    }
    Ranged::Part {
        start,
        end: end.min(len - 1),
    }
}

/// A decimal number made of digits only.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Whether a list of entity tags (or `*`) matches ours; weak comparison ignores `W/`.
fn etag_matches(list: &str, etag: &str, strong: bool) -> bool {
    list.split(',').map(str::trim).any(|tag| {
        if tag == "*" {
            return true;
        }
        match tag.strip_prefix("W/") {
            Some(_) if strong => false,
            Some(weak) => weak == etag,
            None => tag == etag,
        }
    })
}

/// A header's value as text.
fn text<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A date header in whole seconds since the epoch (invalid dates are ignored, per RFC).
fn date(headers: &HeaderMap, name: &header::HeaderName) -> Option<u64> {
    text(headers, name)
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .map(secs)
}

/// Whole seconds since the epoch (HTTP dates have no finer resolution).
fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(
            parse_range("bytes=0-9", 100),
            Ranged::Part { start: 0, end: 9 }
        );
        assert_eq!(
            parse_range("bytes=90-", 100),
            Ranged::Part { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            Ranged::Part { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=-500", 100),
            Ranged::Part { start: 0, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=50-500", 100),
            Ranged::Part { start: 50, end: 99 }
        );
        assert_eq!(parse_range("bytes=100-", 100), Ranged::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Ranged::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), Ranged::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ranged::Full);
        assert_eq!(parse_range("bytes=9-1", 100), Ranged::Full);
        assert_eq!(parse_range("items=0-1", 100), Ranged::Full);
        assert_eq!(parse_range("bytes=x-1", 100), Ranged::Full);
    }

    #[test]
    fn etag_lists() {
        assert!(etag_matches("\"a\", \"b\"", "\"b\"", true));
        assert!(etag_matches("W/\"b\"", "\"b\"", false));
        assert!(!etag_matches("W/\"b\"", "\"b\"", true));
        assert!(etag_matches("*", "\"b\"", true));
        assert!(!etag_matches("\"c\"", "\"b\"", false));
    }
}
