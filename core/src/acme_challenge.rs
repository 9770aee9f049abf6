//! The ACME HTTP-01 contract between the daemon, which writes each challenge's answer
//! to a file named after its token, and the proxy, which serves it at
//! [`PREFIX`]`TOKEN` on the http listener: a token is base64url (RFC 8555, 8.1), so
//! that it names a file in the challenge directory and nothing else.

/// The path prefix of HTTP-01 challenges (RFC 8555, 8.3).
pub const PREFIX: &str = "/.well-known/acme-challenge/";

/// True when `token` is 1 to 256 base64url characters.
pub fn token_ok(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 256
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_base64url_tokens_name_a_file() {
        let long = "a".repeat(257);
        let cases = [
            ("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0", true),
            ("a-b_c", true),
            ("", false),
            ("..", false),
            ("a/b", false),
            ("a.b", false),
            ("%2e%2e", false),
            (long.as_str(), false),
        ];
        for (token, ok) in cases {
            assert_eq!(token_ok(token), ok, "{token}");
        }
    }
}
