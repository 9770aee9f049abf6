//! HPACK (RFC 7541) for the server's side: request header blocks are decoded by the
//! `loona-hpack` crate; response header blocks are encoded here, as literals that leave
//! the client's dynamic table alone, with a field's name as an index of the static table
//! where it has one. A proxy's responses carry what its backends sent: indexing values
//! would cost a table search per field for bytes that loopback and TLS carry cheaply.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;

/// The static table's index of a field name (RFC 7541, appendix A), for the names a
/// response may carry.
fn static_index(name: &HeaderName) -> Option<u8> {
    Some(match name.as_str() {
        "accept-charset" => 15,
        "accept-encoding" => 16,
        "accept-language" => 17,
        "accept-ranges" => 18,
        "accept" => 19,
        "access-control-allow-origin" => 20,
        "age" => 21,
        "allow" => 22,
        "authorization" => 23,
        "cache-control" => 24,
        "content-disposition" => 25,
        "content-encoding" => 26,
        "content-language" => 27,
        "content-length" => 28,
        "content-location" => 29,
        "content-range" => 30,
        "content-type" => 31,
        "cookie" => 32,
        "date" => 33,
        "etag" => 34,
        "expect" => 35,
        "expires" => 36,
        "from" => 37,
        "host" => 38,
        "if-match" => 39,
        "if-modified-since" => 40,
        "if-none-match" => 41,
        "if-range" => 42,
        "if-unmodified-since" => 43,
        "last-modified" => 44,
        "link" => 45,
        "location" => 46,
        "max-forwards" => 47,
        "proxy-authenticate" => 48,
        "proxy-authorization" => 49,
        "range" => 50,
        "referer" => 51,
        "refresh" => 52,
        "retry-after" => 53,
        "server" => 54,
        "set-cookie" => 55,
        "strict-transport-security" => 56,
        "transfer-encoding" => 57,
        "user-agent" => 58,
        "vary" => 59,
        "via" => 60,
        "www-authenticate" => 61,
        _ => return None,
    })
}

/// An integer with an `n`-bit prefix whose other bits are `high` (RFC 7541, 5.1).
fn integer(out: &mut Vec<u8>, value: usize, n: u8, high: u8) {
    // writing to a Vec cannot fail
    let _ = loona_hpack::encoder::encode_integer_into(value, n, high, out);
}

/// A string literal, not Huffman-coded (RFC 7541, 5.2).
fn string(out: &mut Vec<u8>, s: &[u8]) {
    integer(out, s.len(), 7, 0);
    out.extend_from_slice(s);
}

/// A dynamic table size update (RFC 7541, 6.3), first in a block.
pub(crate) fn table_size_update(out: &mut Vec<u8>, size: usize) {
    integer(out, size, 5, 0x20);
}

/// Appends the block of a response head: `:status`, then `headers`.
pub(crate) fn encode_response(out: &mut Vec<u8>, status: StatusCode, headers: &HeaderMap) {
    let indexed = match status.as_u16() {
        200 => Some(8),
        204 => Some(9),
        206 => Some(10),
        304 => Some(11),
        400 => Some(12),
        404 => Some(13),
        500 => Some(14),
        _ => None,
    };
    match indexed {
        Some(i) => out.push(0x80 | i),
        None => {
            // literal without indexing, the name of `:status` (index 8)
            integer(out, 8, 4, 0);
            string(out, status.as_str().as_bytes());
        }
    }
    encode_fields(out, headers);
}

/// Appends the block of trailer fields, or of a response's fields after its status.
pub(crate) fn encode_fields(out: &mut Vec<u8>, headers: &HeaderMap) {
    for (name, value) in headers {
        field(out, name, value);
    }
}

fn field(out: &mut Vec<u8>, name: &HeaderName, value: &HeaderValue) {
    // never indexed (0001) for values marked sensitive, without indexing (0000) otherwise
    let high = if value.is_sensitive() { 0x10 } else { 0 };
    match static_index(name) {
        Some(i) => integer(out, usize::from(i), 4, high),
        None => {
            out.push(high);
            string(out, name.as_str().as_bytes());
        }
    }
    string(out, value.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(block: &[u8]) -> Vec<(String, String)> {
        let mut got = Vec::new();
        loona_hpack::Decoder::new()
            .decode_with_cb(block, |n, v| {
                got.push((
                    String::from_utf8_lossy(&n).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                ))
            })
            .expect("a valid block");
        got
    }

    #[test]
    fn integers_take_their_prefix_then_continuation_bytes() {
        // RFC 7541, C.1
        let cases: [(usize, u8, &[u8]); 4] = [
            (10, 5, &[10]),
            (1337, 5, &[31, 154, 10]),
            (42, 8, &[42]),
            (15, 4, &[15, 0]),
        ];
        for (value, n, want) in cases {
            let mut out = Vec::new();
            integer(&mut out, value, n, 0);
            assert_eq!(out, want, "{value} with {n} bits");
        }
    }

    #[test]
    fn a_response_head_decodes_to_what_was_encoded() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        headers.append("set-cookie", HeaderValue::from_static("a=1"));
        headers.append("set-cookie", HeaderValue::from_static("b=2"));
        headers.insert(
            "x-long-custom-field",
            HeaderValue::from_bytes(&[b'v'; 300]).unwrap(),
        );
        let mut secret = HeaderValue::from_static("s3cr3t");
        secret.set_sensitive(true);
        headers.insert("x-token", secret);
        for (status, want) in [(200, "200"), (418, "418"), (503, "503")] {
            let mut out = Vec::new();
            encode_response(&mut out, StatusCode::from_u16(status).unwrap(), &headers);
            let got = decoded(&out);
            let mut expected = vec![(":status".to_string(), want.to_string())];
            for (n, v) in &headers {
                expected.push((n.to_string(), v.to_str().unwrap().to_string()));
            }
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn a_sensitive_value_is_never_indexed() {
        let mut value = HeaderValue::from_static("Bearer x");
        value.set_sensitive(true);
        let mut out = Vec::new();
        field(&mut out, &http::header::AUTHORIZATION, &value);
        assert_eq!(out[0], 0x10 | 15, "0001 and a 4-bit prefix holding 15");
        assert_eq!(out[1], 23 - 15, "then the rest of index 23");
    }
}
