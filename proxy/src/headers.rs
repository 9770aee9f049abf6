//! Header rewriting between client and backend: hop-by-hop removal, the headers that
//! describe the client (`X-Forwarded-*`, `X-Real-IP`, `Forwarded`), set from what the
//! proxy saw rather than what the client wrote, and the `Host` check (RFC 9112 3.2).

use bytes::{BufMut, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::Version;
use lcc_core::proxy_config::Cidr;
use std::net::IpAddr;

/// Headers that describe one connection, never forwarded (RFC 9110 7.6.1). `Trailer`
/// is not one of them: it names the trailer fields that follow the body, end to end
/// (RFC 9110 6.6.2).
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRANSFER_ENCODING,
];

/// Fields a trailer may not carry, beside the hop-by-hop ones: those that frame the
/// message, route it, authenticate it or say how to handle it (RFC 9110 6.5.1), which
/// hyper also keeps out of the trailers it sends and HTTP/2 refuses there.
const NOT_IN_TRAILERS: [HeaderName; 12] = [
    header::AUTHORIZATION,
    header::CACHE_CONTROL,
    header::CONTENT_ENCODING,
    header::CONTENT_LENGTH,
    header::CONTENT_RANGE,
    header::CONTENT_TYPE,
    header::HOST,
    header::MAX_FORWARDS,
    header::SET_COOKIE,
    header::TRAILER,
    header::UPGRADE,
    header::EXPECT,
];

/// Whether a trailer field named `name` is handed on.
pub(crate) fn trailer_allowed(name: &HeaderName) -> bool {
    !HOP_BY_HOP.contains(name) && !NOT_IN_TRAILERS.contains(name)
}

// consts, so the names are made at compile time rather than on every request
const XFF: HeaderName = HeaderName::from_static("x-forwarded-for");
const XF_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const XF_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const XF_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// What the proxy saw of a client connection, in the forms its headers take; made once
/// per connection, so that a request costs only reference-counted clones.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// The address the connection came from.
    pub(crate) ip: IpAddr,
    /// `http` or `https`, as `X-Forwarded-Proto` carries it.
    proto: HeaderValue,
    /// The address as `X-Forwarded-For` and `X-Real-IP` carry it.
    value: HeaderValue,
    /// The `Forwarded` element for it (RFC 7239): `for=IP;proto=http`, an IPv6 address
    /// quoted in brackets.
    forwarded: HeaderValue,
}

impl Peer {
    /// The peer at `ip`, over TLS when `tls`.
    pub(crate) fn new(ip: IpAddr, tls: bool) -> Self {
        // an IPv4-mapped IPv6 peer (a dual-stack listener) is the IPv4 client it maps
        let ip = ip.to_canonical();
        let proto = if tls { "https" } else { "http" };
        let forwarded = match ip {
            IpAddr::V4(v4) => format!("for={v4};proto={proto}"),
            IpAddr::V6(v6) => format!("for=\"[{v6}]\";proto={proto}"),
        };
        let text = ip.to_string();
        Self {
            ip,
            proto: HeaderValue::from_static(proto),
            value: HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("unknown")),
            forwarded: HeaderValue::from_str(&forwarded)
                .unwrap_or(HeaderValue::from_static("for=unknown")),
        }
    }
}

/// The upstream proxies whose forwarding headers a gateway keeps (`trusted_proxies`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Trusted(Vec<Cidr>);

impl Trusted {
    /// Trusts the addresses in `cidrs`.
    pub(crate) fn new(cidrs: Vec<Cidr>) -> Self {
        Self(cidrs)
    }

    /// True when `ip` is one of them (never with none listed: no cost then).
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }
}

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

/// Sets the headers that describe the client from what the proxy saw of `peer`: whatever
/// the client sent under these names is replaced or removed, since anyone can write them:
/// `X-Forwarded-For` and `X-Real-IP` = the peer's address, `Forwarded` = `for=` the peer
/// and `proto=http`, `X-Forwarded-Proto: http`, `X-Forwarded-Host` = the request's
/// `Host`, `X-Forwarded-Prefix` = `prefix` (an entrance's) or none.
///
/// When the peer is one of the gateway's `trusted` proxies, what it says of its own
/// client is kept instead: the `X-Forwarded-For` chain and `Forwarded` list are extended
/// with the peer, `X-Forwarded-Proto`/`-Host`/`-Prefix` it sent are kept (set as above
/// when it sent none), and `X-Real-IP` is the last address of the chain that is not a
/// trusted proxy itself (the one that reached the first trusted hop).
///
/// The client's own fields under these names are removed from `headers`; the proxy's are
/// returned, to follow them in the head sent to the backend: added to the map, they would
/// grow it (a reallocation and a rehash) for every request.
pub(crate) fn set_forwarded(
    headers: &mut HeaderMap,
    peer: &Peer,
    prefix: Option<&HeaderValue>,
    trusted: Option<&Trusted>,
) -> ForwardFields {
    let mut fields = ForwardFields::default();
    if let Some(trusted) = trusted.filter(|t| t.contains(peer.ip)) {
        extend_forwarded(headers, peer, prefix, trusted, &mut fields);
        return fields;
    }
    // one scan of the (few) headers; a client rarely sends any of these
    if headers.keys().any(|name| FORWARDING.contains(name)) {
        for name in &FORWARDING {
            headers.remove(name);
        }
    }
    fields.push(XFF, peer.value.clone());
    fields.push(X_REAL_IP, peer.value.clone());
    fields.push(header::FORWARDED, peer.forwarded.clone());
    fields.push(XF_PROTO, peer.proto.clone());
    if let Some(host) = headers.get(header::HOST) {
        fields.push(XF_HOST, host.clone());
    }
    if let Some(prefix) = prefix {
        fields.push(XF_PREFIX, prefix.clone());
    }
    fields
}

/// The names of the fields that describe the client.
const FORWARDING: [HeaderName; 6] = [
    XFF,
    X_REAL_IP,
    header::FORWARDED,
    XF_PROTO,
    XF_HOST,
    XF_PREFIX,
];

/// The fields [`set_forwarded`] gives a request, at most one of each name in
/// [`FORWARDING`].
#[derive(Debug, Default)]
pub(crate) struct ForwardFields {
    fields: [Option<(HeaderName, HeaderValue)>; 6],
}

impl ForwardFields {
    /// Sets the next field (at most one per name: there is a slot for each).
    fn push(&mut self, name: HeaderName, value: HeaderValue) {
        if let Some(free) = self.fields.iter_mut().find(|f| f.is_none()) {
            *free = Some((name, value));
        }
    }

    /// The fields, in the order they were set.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.fields
            .iter()
            .flatten()
            .map(|(name, value)| (name, value))
    }
}

/// [`set_forwarded`] for a request from a trusted proxy.
fn extend_forwarded(
    headers: &mut HeaderMap,
    peer: &Peer,
    prefix: Option<&HeaderValue>,
    trusted: &Trusted,
    fields: &mut ForwardFields,
) {
    let chain = appended(headers, &XFF, &peer.value);
    let real = real_ip(&chain, trusted).unwrap_or_else(|| peer.value.clone());
    let forwarded = appended(headers, &header::FORWARDED, &peer.forwarded);
    for name in [&XFF, &X_REAL_IP, &header::FORWARDED] {
        headers.remove(name);
    }
    fields.push(XFF, chain);
    fields.push(X_REAL_IP, real);
    fields.push(header::FORWARDED, forwarded);
    if !headers.contains_key(&XF_PROTO) {
        fields.push(XF_PROTO, peer.proto.clone());
    }
    if !headers.contains_key(&XF_HOST) {
        if let Some(host) = headers.get(header::HOST) {
            fields.push(XF_HOST, host.clone());
        }
    }
    if let (false, Some(prefix)) = (headers.contains_key(&XF_PREFIX), prefix) {
        fields.push(XF_PREFIX, prefix.clone());
    }
}

/// Every value of `name` joined by `, `, then `last`.
fn appended(headers: &HeaderMap, name: &HeaderName, last: &HeaderValue) -> HeaderValue {
    let mut joined = BytesMut::new();
    for value in headers.get_all(name) {
        joined.put_slice(value.as_bytes());
        joined.put_slice(b", ");
    }
    joined.put_slice(last.as_bytes());
    HeaderValue::from_maybe_shared(joined.freeze()).unwrap_or_else(|_| last.clone())
}

/// The last address of an `X-Forwarded-For` chain that is not a trusted proxy; the
/// first one if all are (an entry that is no address ends the walk there).
fn real_ip(chain: &HeaderValue, trusted: &Trusted) -> Option<HeaderValue> {
    let text = chain.to_str().ok()?;
    let mut first = None;
    for entry in text.rsplit(',').map(str::trim) {
        let ip: Option<IpAddr> = entry.parse().ok();
        match ip {
            Some(ip) if trusted.contains(ip) => first = Some(entry),
            _ => return HeaderValue::from_str(entry).ok(),
        }
    }
    first.and_then(|e| HeaderValue::from_str(e).ok())
}

/// Why a request's `Host` is refused (RFC 9112 3.2: 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadHost {
    /// An HTTP/1.1 request with no `Host`.
    #[error("no Host header")]
    Missing,
    /// More than one `Host` field.
    #[error("more than one Host header")]
    Repeated,
    /// A value that is not `host[:port]`.
    #[error("invalid Host header")]
    Invalid,
}

/// Checks the request's `Host`: one field, `uri-host [ ":" port ]` (RFC 3986 3.2.2);
/// only an HTTP/1.0 or HTTP/2 request may lack it.
pub(crate) fn check_host(version: Version, headers: &HeaderMap) -> Result<(), BadHost> {
    let mut hosts = headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        // HTTP/2 names the host in `:authority` (the request's URI) instead
        (None, _) if version == Version::HTTP_10 || version == Version::HTTP_2 => Ok(()),
        (None, _) => Err(BadHost::Missing),
        (Some(_), Some(_)) => Err(BadHost::Repeated),
        (Some(host), None) if valid_host(host.as_bytes()) => Ok(()),
        (Some(_), None) => Err(BadHost::Invalid),
    }
}

fn valid_host(value: &[u8]) -> bool {
    let (host, port) = match value.first() {
        Some(b'[') => match value.iter().position(|&b| b == b']') {
            Some(end) => {
                let literal = &value[1..end];
                let ok = !literal.is_empty()
                    && literal
                        .iter()
                        .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'v' | b'V'));
                if !ok {
                    return false;
                }
                match &value[end + 1..] {
                    [] => return true,
                    [b':', port @ ..] => (&[][..], port),
                    _ => return false,
                }
            }
            None => return false,
        },
        _ => match value.iter().rposition(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon + 1..]),
            None => (value, &[][..]),
        },
    };
    port.iter().all(u8::is_ascii_digit) && reg_name(host)
}

/// RFC 3986 reg-name (which IPv4 addresses are too): unreserved, sub-delims, `%HH`.
fn reg_name(host: &[u8]) -> bool {
    let mut i = 0;
    while i < host.len() {
        match host[i] {
            b'%' => {
                let hex = host.get(i + 1..i + 3);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                i += 3;
                continue;
            }
            b if b.is_ascii_alphanumeric() => {}
            b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+'
            | b',' | b';' | b'=' => {}
            _ => return false,
        }
        i += 1;
    }
    true
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

    fn peer(ip: &str) -> Peer {
        Peer::new(ip.parse().unwrap(), false)
    }

    fn trusted(list: &[&str]) -> Trusted {
        Trusted::new(list.iter().map(|c| Cidr::parse(c).unwrap()).collect())
    }

    /// The request's fields as the backend gets them: its own, then the proxy's.
    fn forwarded(
        mut h: HeaderMap,
        peer: &Peer,
        prefix: Option<&HeaderValue>,
        trusted: Option<&Trusted>,
    ) -> HeaderMap {
        let fields = set_forwarded(&mut h, peer, prefix, trusted);
        for (name, value) in fields.iter() {
            assert!(!h.contains_key(name), "{name} sent twice");
            h.insert(name.clone(), value.clone());
        }
        h
    }

    fn forged() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        h.insert("x-forwarded-host", HeaderValue::from_static("evil"));
        h.insert("x-forwarded-prefix", HeaderValue::from_static("/admin"));
        h.insert("x-real-ip", HeaderValue::from_static("10.0.0.2"));
        h.insert("forwarded", HeaderValue::from_static("for=10.0.0.3"));
        h.insert("host", HeaderValue::from_static("example:80"));
        h
    }

    #[test]
    fn what_the_client_wrote_is_replaced_by_what_the_proxy_saw() {
        let prefix = HeaderValue::from_static("/entrances/a");
        let h = forwarded(forged(), &peer("127.0.0.1"), Some(&prefix), None);
        assert_eq!(h["x-forwarded-for"], "127.0.0.1");
        assert_eq!(h["x-real-ip"], "127.0.0.1");
        assert_eq!(h["forwarded"], "for=127.0.0.1;proto=http");
        assert_eq!(h["x-forwarded-host"], "example:80");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-prefix"], "/entrances/a");
        // a gateway: no prefix at all; an untrusted peer of a gateway with trusted proxies
        let t = trusted(&["10.0.0.0/8"]);
        let h = forwarded(forged(), &peer("::1"), None, Some(&t));
        assert!(!h.contains_key("x-forwarded-prefix"));
        assert_eq!(h["x-forwarded-for"], "::1");
        assert_eq!(h["forwarded"], "for=\"[::1]\";proto=http");
        assert_eq!(peer("::ffff:127.0.0.2").value, "127.0.0.2");
    }

    #[test]
    fn a_trusted_proxy_has_its_chain_kept_and_extended() {
        let mut h = forged();
        h.append("x-forwarded-for", HeaderValue::from_static("10.1.1.1"));
        let t = trusted(&["10.1.0.0/16", "127.0.0.1/32"]);
        let h = forwarded(h, &peer("127.0.0.1"), None, Some(&t));
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 10.1.1.1, 127.0.0.1");
        // 127.0.0.1 and 10.1.1.1 are trusted hops: the client is the one before them
        assert_eq!(h["x-real-ip"], "10.0.0.1");
        assert_eq!(h["forwarded"], "for=10.0.0.3, for=127.0.0.1;proto=http");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "evil");
        assert_eq!(h["x-forwarded-prefix"], "/admin");
    }

    #[test]
    fn host_follows_rfc_9112() {
        let check = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("host", HeaderValue::from_str(v).unwrap());
            check_host(Version::HTTP_11, &h)
        };
        for ok in [
            "example.com",
            "example.com:8080",
            "127.0.0.1:1",
            "[::1]:80",
            "[::1]",
            "a_b.local",
            "",
            "x:",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for bad in ["a b", "a/b", "[::1", "[::1]x", "a:b", "a@b", "%zz", "[]"] {
            assert_eq!(check(bad), Err(BadHost::Invalid), "{bad}");
        }
        let none = HeaderMap::new();
        assert_eq!(check_host(Version::HTTP_11, &none), Err(BadHost::Missing));
        assert_eq!(check_host(Version::HTTP_10, &none), Ok(()));
        let mut two = HeaderMap::new();
        two.append("host", HeaderValue::from_static("a"));
        two.append("host", HeaderValue::from_static("a"));
        assert_eq!(check_host(Version::HTTP_11, &two), Err(BadHost::Repeated));
    }

    #[test]
    fn trailers_carry_no_framing_routing_or_credentials() {
        for (name, allowed) in [
            ("x-checksum", true),
            ("grpc-status", true),
            ("server-timing", true),
            ("content-length", false),
            ("transfer-encoding", false),
            ("host", false),
            ("authorization", false),
            ("set-cookie", false),
            ("trailer", false),
            ("connection", false),
        ] {
            let name = HeaderName::from_static(name);
            assert_eq!(trailer_allowed(&name), allowed, "{name}");
        }
    }
}
