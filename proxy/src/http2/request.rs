//! A request head as HTTP/2 carries it: the decoded fields of a header block checked
//! (RFC 9113, 8.2 and 8.3) and made into an `http` request head, or the reason it is
//! malformed, which resets its stream.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, Request, Uri, Version};

/// The overhead the size of a header list counts for every field (RFC 9113, 6.5.2).
const FIELD_OVERHEAD: usize = 32;

/// Why a header block does not make a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Malformed {
    #[error("field name not lower-case or not a token")]
    Name,
    #[error("field value with a forbidden character")]
    Value,
    #[error("connection-specific field")]
    ConnectionSpecific,
    #[error("unknown, repeated or misplaced pseudo-header")]
    Pseudo,
    #[error("missing :method, :scheme or :path")]
    Missing,
    #[error("bad :method, :scheme, :authority or :path")]
    Target,
    #[error("Host differs from :authority")]
    Host,
    #[error("bad content-length")]
    ContentLength,
    #[error("pseudo-header in trailers")]
    Trailers,
    #[error("trailer fields over the header limit")]
    TooLarge,
}

/// The fields of one header block, gathered as the decoder hands them over.
#[derive(Debug)]
pub(crate) struct Fields {
    /// The largest list kept: past it, fields are decoded (for the decoder's table) and
    /// not kept, as a few bytes of HPACK may stand for kilobytes of fields.
    limit: usize,
    method: Option<Method>,
    scheme: Option<Bytes>,
    authority: Option<Bytes>,
    path: Option<Bytes>,
    headers: HeaderMap,
    /// `cookie` fields, joined as HTTP/1.1 wants them (RFC 9113, 8.2.3).
    cookie: Vec<u8>,
    /// The size of the list so far, as RFC 9113 counts it.
    size: usize,
    /// A regular field came: pseudo-headers may not follow.
    regular: bool,
    /// The first reason the block is malformed; the rest of it is still decoded, for
    /// the decoder's table.
    malformed: Option<Malformed>,
}

impl Fields {
    /// Fields of a list of at most `limit` bytes (as RFC 9113 counts them).
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            method: None,
            scheme: None,
            authority: None,
            path: None,
            headers: HeaderMap::new(),
            cookie: Vec::new(),
            size: 0,
            regular: false,
            malformed: None,
        }
    }

    /// Takes one decoded field.
    pub(crate) fn push(&mut self, name: &[u8], value: &[u8]) {
        self.size = self
            .size
            .saturating_add(name.len() + value.len() + FIELD_OVERHEAD);
        if self.malformed.is_some() || self.too_large() {
            return;
        }
        if let Err(e) = self.take(name, value) {
            self.malformed = Some(e);
        }
    }

    /// Whether the list is over its limit (and so not kept whole).
    pub(crate) fn too_large(&self) -> bool {
        self.size > self.limit
    }

    fn take(&mut self, name: &[u8], value: &[u8]) -> Result<(), Malformed> {
        if let Some(pseudo) = name.strip_prefix(b":") {
            if self.regular {
                return Err(Malformed::Pseudo);
            }
            let slot = match pseudo {
                b"method" => {
                    if self.method.is_some() {
                        return Err(Malformed::Pseudo);
                    }
                    self.method = Some(Method::from_bytes(value).map_err(|_| Malformed::Target)?);
                    return Ok(());
                }
                b"scheme" => &mut self.scheme,
                b"authority" => &mut self.authority,
                b"path" => &mut self.path,
                _ => return Err(Malformed::Pseudo),
            };
            if slot.is_some() {
                return Err(Malformed::Pseudo);
            }
            *slot = Some(Bytes::copy_from_slice(value));
            return Ok(());
        }
        self.regular = true;
        if name.iter().any(u8::is_ascii_uppercase) {
            return Err(Malformed::Name);
        }
        let name = HeaderName::from_bytes(name).map_err(|_| Malformed::Name)?;
        if is_connection_specific(&name) || name == header::TE && value != b"trailers" {
            return Err(Malformed::ConnectionSpecific);
        }
        if value.first().is_some_and(|b| matches!(b, b' ' | b'\t'))
            || value.last().is_some_and(|b| matches!(b, b' ' | b'\t'))
        {
            return Err(Malformed::Value);
        }
        if name == header::COOKIE {
            if value.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f) {
                return Err(Malformed::Value);
            }
            if !self.cookie.is_empty() {
                self.cookie.extend_from_slice(b"; ");
            }
            self.cookie.extend_from_slice(value);
            return Ok(());
        }
        let value = HeaderValue::from_bytes(value).map_err(|_| Malformed::Value)?;
        self.headers.append(name, value);
        Ok(())
    }

    /// The request head the block makes.
    pub(crate) fn request(mut self) -> Result<Request<()>, Malformed> {
        if let Some(e) = self.malformed {
            return Err(e);
        }
        let method = self.method.ok_or(Malformed::Missing)?;
        if method == Method::CONNECT {
            // RFC 9113, 8.5: only :method and :authority; this proxy takes no tunnel
            // over HTTP/2, and its caller answers it
            if self.scheme.is_some() || self.path.is_some() {
                return Err(Malformed::Pseudo);
            }
        }
        let mut parts = Uri::default().into_parts();
        if method != Method::CONNECT {
            let (Some(scheme), Some(path)) = (self.scheme, self.path) else {
                return Err(Malformed::Missing);
            };
            let scheme = Scheme::try_from(&scheme[..]).map_err(|_| Malformed::Target)?;
            // a URI has a scheme only with an authority: without one, origin form
            if self.authority.is_some() {
                parts.scheme = Some(scheme);
            }
            // OPTIONS may ask for `*` (RFC 9113, 8.3.1)
            if path.is_empty()
                || path[0] != b'/' && !(method == Method::OPTIONS && path[..] == b"*"[..])
            {
                return Err(Malformed::Target);
            }
            parts.path_and_query =
                Some(PathAndQuery::from_maybe_shared(path).map_err(|_| Malformed::Target)?);
        }
        let authority = match self.authority {
            // no userinfo (RFC 9113, 8.3.1)
            Some(a) if a.contains(&b'@') => return Err(Malformed::Target),
            Some(a) => Some(Authority::from_maybe_shared(a).map_err(|_| Malformed::Target)?),
            None if method == Method::CONNECT => return Err(Malformed::Missing),
            None => None,
        };
        if let (Some(a), Some(host)) = (&authority, self.headers.get(header::HOST)) {
            if !a.as_str().as_bytes().eq_ignore_ascii_case(host.as_bytes()) {
                return Err(Malformed::Host);
            }
        }
        parts.authority = authority;
        if let Some(length) = self.headers.get(header::CONTENT_LENGTH) {
            let mut all = self.headers.get_all(header::CONTENT_LENGTH).iter();
            let one = all.next().is_some() && all.next().is_none();
            if !one || content_length(length).is_none() {
                return Err(Malformed::ContentLength);
            }
        }
        with_cookie(&mut self.headers, self.cookie)?;
        let uri = match (&method, parts.authority) {
            // authority form, which `Uri::from_parts` does not make
            (&Method::CONNECT, Some(a)) => {
                Uri::try_from(a.as_str()).map_err(|_| Malformed::Target)?
            }
            (_, authority) => {
                parts.authority = authority;
                Uri::from_parts(parts).map_err(|_| Malformed::Target)?
            }
        };
        let mut req = Request::new(());
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        *req.version_mut() = Version::HTTP_2;
        *req.headers_mut() = self.headers;
        Ok(req)
    }

    /// The trailer fields the block makes.
    pub(crate) fn trailers(self) -> Result<HeaderMap, Malformed> {
        if let Some(e) = self.malformed {
            return Err(e);
        }
        if self.too_large() {
            return Err(Malformed::TooLarge);
        }
        if self.method.is_some()
            || self.scheme.is_some()
            || self.authority.is_some()
            || self.path.is_some()
        {
            return Err(Malformed::Trailers);
        }
        let mut headers = self.headers;
        with_cookie(&mut headers, self.cookie)?;
        Ok(headers)
    }
}

/// Puts the joined `cookie` fields, if any, into `headers`.
fn with_cookie(headers: &mut HeaderMap, cookie: Vec<u8>) -> Result<(), Malformed> {
    if !cookie.is_empty() {
        let cookie =
            HeaderValue::from_maybe_shared(Bytes::from(cookie)).map_err(|_| Malformed::Value)?;
        headers.insert(header::COOKIE, cookie);
    }
    Ok(())
}

/// The length a `content-length` value states.
pub(crate) fn content_length(value: &HeaderValue) -> Option<u64> {
    let s = value.to_str().ok()?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Fields HTTP/2 does not carry (RFC 9113, 8.2.2).
fn is_connection_specific(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&str, &str)]) -> Fields {
        let mut f = Fields::new(16 * 1024);
        for (n, v) in list {
            f.push(n.as_bytes(), v.as_bytes());
        }
        f
    }

    const GET: [(&str, &str); 4] = [
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "docs.localhost:8443"),
        (":path", "/a?b=c"),
    ];

    #[test]
    fn a_request_head_is_made_of_its_pseudo_headers_and_fields() {
        let mut list = GET.to_vec();
        list.extend([("accept", "*/*"), ("cookie", "a=1"), ("cookie", "b=2")]);
        let req = fields(&list).request().expect("a request");
        assert_eq!(req.method(), Method::GET);
        assert_eq!(req.uri().to_string(), "https://docs.localhost:8443/a?b=c");
        assert_eq!(req.version(), Version::HTTP_2);
        assert_eq!(req.headers()["accept"], "*/*");
        assert_eq!(req.headers()["cookie"], "a=1; b=2");
        assert_eq!(req.headers().len(), 2);
    }

    #[test]
    fn malformed_heads_are_told_apart() {
        let get = |extra: &[(&'static str, &'static str)]| {
            let mut l = GET.to_vec();
            l.extend_from_slice(extra);
            l
        };
        let cases: Vec<(Vec<(&str, &str)>, Malformed)> = vec![
            (get(&[("Accept", "x")]), Malformed::Name),
            (get(&[("bad name", "x")]), Malformed::Name),
            (
                get(&[("connection", "close")]),
                Malformed::ConnectionSpecific,
            ),
            (get(&[("keep-alive", "5")]), Malformed::ConnectionSpecific),
            (
                get(&[("transfer-encoding", "chunked")]),
                Malformed::ConnectionSpecific,
            ),
            (
                get(&[("upgrade", "websocket")]),
                Malformed::ConnectionSpecific,
            ),
            (get(&[("te", "gzip")]), Malformed::ConnectionSpecific),
            (get(&[("x-a", " padded")]), Malformed::Value),
            (get(&[("x-a", "line\nbreak")]), Malformed::Value),
            (get(&[("x-a", "1"), (":path", "/again")]), Malformed::Pseudo),
            (get(&[(":path", "/again")]), Malformed::Pseudo),
            (get(&[(":status", "200")]), Malformed::Pseudo),
            (get(&[(":protocol", "websocket")]), Malformed::Pseudo),
            (vec![(":method", "GET"), (":path", "/")], Malformed::Missing),
            (
                vec![(":scheme", "https"), (":path", "/")],
                Malformed::Missing,
            ),
            (
                vec![(":method", "GET"), (":scheme", "https"), (":path", "")],
                Malformed::Target,
            ),
            (
                vec![(":method", "GET"), (":scheme", "https"), (":path", "a")],
                Malformed::Target,
            ),
            (get(&[("host", "other.localhost")]), Malformed::Host),
            (get(&[("content-length", "1x")]), Malformed::ContentLength),
            (
                get(&[("content-length", "1"), ("content-length", "1")]),
                Malformed::ContentLength,
            ),
            (
                vec![
                    (":method", "CONNECT"),
                    (":authority", "a:1"),
                    (":path", "/"),
                ],
                Malformed::Pseudo,
            ),
            (vec![(":method", "CONNECT")], Malformed::Missing),
        ];
        for (list, want) in cases {
            assert_eq!(fields(&list).request().err(), Some(want), "{list:?}");
        }
    }

    #[test]
    fn what_is_allowed_stays_allowed() {
        let ok: Vec<Vec<(&str, &str)>> = vec![
            vec![(":method", "OPTIONS"), (":scheme", "https"), (":path", "*")],
            vec![(":method", "GET"), (":scheme", "http"), (":path", "/")],
            vec![(":method", "CONNECT"), (":authority", "example.com:443")],
            {
                let mut l = GET.to_vec();
                l.extend([("te", "trailers"), ("host", "docs.localhost:8443")]);
                l
            },
        ];
        for list in ok {
            assert!(fields(&list).request().is_ok(), "{list:?}");
        }
    }

    #[test]
    fn trailers_take_no_pseudo_header() {
        assert_eq!(fields(&[("x-sum", "1")]).trailers().map(|t| t.len()), Ok(1));
        assert_eq!(
            fields(&[(":path", "/")]).trailers().err(),
            Some(Malformed::Trailers)
        );
    }

    #[test]
    fn a_list_counts_32_bytes_a_field_and_what_is_past_its_limit_is_not_kept() {
        let mut f = Fields::new(4 + 32 + 2 + 32);
        f.push(b"ab", b"cd");
        f.push(b"x", b"/");
        assert!(!f.too_large(), "at the limit");
        for _ in 0..100_000 {
            f.push(b"x-big", &[b'v'; 4000]);
        }
        assert!(f.too_large());
        assert_eq!(f.headers.len(), 2, "nothing kept past the limit");
        assert_eq!(f.trailers().err(), Some(Malformed::TooLarge));
    }

    #[test]
    fn userinfo_is_refused_and_host_compares_without_case() {
        let mut l = GET.to_vec();
        l[2] = (":authority", "user@docs.localhost");
        assert_eq!(fields(&l).request().err(), Some(Malformed::Target));
        let mut l = GET.to_vec();
        l.push(("host", "Docs.LOCALHOST:8443"));
        assert!(fields(&l).request().is_ok());
    }
}
