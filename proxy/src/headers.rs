//! Header rewriting between client and backend: hop-by-hop removal and `X-Forwarded-*`.

use bytes::{BufMut, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that describe one connection, never forwarded (RFC 9110 7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

// consts, so the names are made at compile time rather than on every request
const XFF: HeaderName = HeaderName::from_static("x-forwarded-for");
const XF_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const XF_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const XF_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");

/// True for a request asking to switch protocols (`Connection: upgrade` plus `Upgrade`).
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .any(|v| has_token(v, "upgrade"))
}

fn has_token(value: &HeaderValue, token: &str) -> bool {
    value
        .to_str()
        .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        .unwrap_or(false)
}

/// Removes hop-by-hop headers, including those `Connection` names; an upgrade keeps
/// `Connection: upgrade` and `Upgrade` so the backend sees it.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    // one scan of the (few) headers: which hop-by-hop ones are there, and does
    // `Connection` name anything beyond the usual `keep-alive`/`close`/`upgrade`
    let mut present = 0u16;
    let mut names_others = false;
    for (name, value) in headers.iter() {
        if let Some(i) = HOP_BY_HOP.iter().position(|h| h == name) {
            present |= 1 << i;
            names_others |= i == 0 && !only_usual_tokens(value);
        } else if name == header::UPGRADE {
            present |= 1 << HOP_BY_HOP.len();
        }
    }
    if present == 0 {
        return;
    }
    if names_others {
        remove_named(headers, upgrade);
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(name);
        }
    }
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else if present & (1 << HOP_BY_HOP.len()) != 0 {
        headers.remove(header::UPGRADE);
    }
}

fn only_usual_tokens(value: &HeaderValue) -> bool {
    value.to_str().is_ok_and(|s| {
        s.split(',').all(|t| {
            let t = t.trim();
            t.eq_ignore_ascii_case("keep-alive")
                || t.eq_ignore_ascii_case("close")
                || t.eq_ignore_ascii_case("upgrade")
        })
    })
}

/// Removes the headers that `Connection` names (rare: most name only itself).
fn remove_named(headers: &mut HeaderMap, upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        if !(upgrade && name == header::UPGRADE) {
            headers.remove(&name);
        }
    }
}

/// Sets `X-Forwarded-For` (appending the client), `-Proto`, `-Host` and, for an
/// entrance, `-Prefix`.
pub(crate) fn add_forwarded(
    headers: &mut HeaderMap,
    client_ip: &HeaderValue,
    prefix: Option<&HeaderValue>,
) {
    let xff = match headers.get(&XFF) {
        Some(old) => {
            let mut joined = BytesMut::with_capacity(old.len() + 2 + client_ip.len());
            joined.put_slice(old.as_bytes());
            joined.put_slice(b", ");
            joined.put_slice(client_ip.as_bytes());
            HeaderValue::from_maybe_shared(joined.freeze()).unwrap_or_else(|_| client_ip.clone())
        }
        None => client_ip.clone(),
    };
    headers.insert(XFF, xff);
    headers.insert(XF_PROTO, HeaderValue::from_static("http"));
    if let Some(host) = headers.get(header::HOST).cloned() {
        headers.insert(XF_HOST, host);
    }
    if let Some(prefix) = prefix {
        headers.insert(XF_PREFIX, prefix.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_listed_and_named_headers() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("close, x-secret"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn usual_connection_tokens_and_stray_upgrade_are_removed() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("Keep-Alive"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("upgrade", HeaderValue::from_static("h2c"));
        h.insert("content-length", HeaderValue::from_static("2"));
        strip_hop_by_hop(&mut h, false);
        assert_eq!(
            h.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["content-length"]
        );
    }

    #[test]
    fn upgrade_keeps_its_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        assert!(is_upgrade(&h));
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h["connection"], "upgrade");
        assert_eq!(h["upgrade"], "websocket");
    }

    #[test]
    fn forwarded_for_is_appended() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        h.insert("host", HeaderValue::from_static("example:80"));
        let ip = HeaderValue::from_static("127.0.0.1");
        add_forwarded(&mut h, &ip, Some(&HeaderValue::from_static("/entrances/a")));
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(h["x-forwarded-host"], "example:80");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-prefix"], "/entrances/a");
    }
}
