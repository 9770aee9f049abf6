//! Host names of entrances (`docs.localhost`, `*.localhost`): what a valid one is, and
//! which of a set a request's `Host` matches. Shared by the compiler, which checks the
//! manifests, and the proxy, which checks `proxy.conf` and routes by them.

/// Checks a host rule: a lower-case DNS name of dot-separated labels (1-63 of `a-z`,
/// `0-9`, `-`, not starting or ending with `-`; 253 bytes at most), optionally with
/// one leading `*.` that stands for exactly one label.
pub fn check(rule: &str) -> Result<(), String> {
    let bad = |why: &str| format!("invalid host `{rule}`: {why}");
    let name = rule.strip_prefix("*.").unwrap_or(rule);
    if name.is_empty() {
        return Err(bad("no name"));
    }
    if name.len() > 253 {
        return Err(bad("longer than 253 bytes"));
    }
    if name.contains('*') {
        return Err(bad(
            "`*` is only allowed as the whole first label, as in `*.localhost`",
        ));
    }
    if name.contains(':') {
        return Err(bad("a host rule has no port: it matches on every port"));
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad("use lower case"));
    }
    for label in name.split('.') {
        let ok = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(bad(
                "each label is 1-63 of `a-z`, `0-9` and `-`, not starting or ending with `-`",
            ));
        }
    }
    Ok(())
}

/// The host name of a `Host` header or URI authority, as rules are matched against it:
/// the port, a trailing dot and upper case removed. `None` for an IP literal in
/// brackets or an empty name, which no rule names.
pub fn of_authority(authority: &str) -> Option<String> {
    if authority.starts_with('[') {
        return None;
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// True when `rule` (checked by [`check`]) matches `host` (from [`of_authority`]): the
/// same name, or for `*.SUFFIX` one label and `.SUFFIX`.
pub fn matches(rule: &str, host: &str) -> bool {
    match rule.strip_prefix("*.") {
        None => rule == host,
        Some(suffix) => host
            .strip_suffix(suffix)
            .and_then(|h| h.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.contains('.')),
    }
}

/// The index in `rules` of the rule that serves `host`: an exact name before a
/// wildcard, then the first in order (two rules may not be equal, see [`check`]).
pub fn select<'a>(rules: impl IntoIterator<Item = &'a str>, host: &str) -> Option<usize> {
    let mut wildcard = None;
    for (i, rule) in rules.into_iter().enumerate() {
        if rule == host {
            return Some(i);
        }
        if wildcard.is_none() && matches(rule, host) {
            wildcard = Some(i);
        }
    }
    wildcard
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid_rules() {
        for ok in [
            "docs.localhost",
            "*.localhost",
            "a",
            "x-1.example.com",
            "*.a.b",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("", "no name"),
            ("*.", "no name"),
            ("Docs.localhost", "use lower case"),
            (
                "a.*.b",
                "`*` is only allowed as the whole first label, as in `*.localhost`",
            ),
            (
                "*",
                "`*` is only allowed as the whole first label, as in `*.localhost`",
            ),
            (
                "**.a",
                "`*` is only allowed as the whole first label, as in `*.localhost`",
            ),
            (
                "a..b",
                "each label is 1-63 of `a-z`, `0-9` and `-`, not starting or ending with `-`",
            ),
            (
                "-a.b",
                "each label is 1-63 of `a-z`, `0-9` and `-`, not starting or ending with `-`",
            ),
            (
                "a_b",
                "each label is 1-63 of `a-z`, `0-9` and `-`, not starting or ending with `-`",
            ),
            (
                "a.b:80",
                "a host rule has no port: it matches on every port",
            ),
        ];
        for (rule, why) in cases {
            assert_eq!(
                check(rule),
                Err(format!("invalid host `{rule}`: {why}")),
                "{rule}"
            );
        }
        assert!(check(&"a".repeat(64)).is_err());
        assert!(check(&["a"; 128].join(".")).is_err());
    }

    #[test]
    fn authorities_give_their_host() {
        let cases = [
            ("docs.localhost:8080", Some("docs.localhost")),
            ("Docs.LOCALHOST", Some("docs.localhost")),
            ("docs.localhost.:443", Some("docs.localhost")),
            ("127.0.0.1:8080", Some("127.0.0.1")),
            ("[::1]:8080", None),
            (":8080", None),
            ("", None),
        ];
        for (authority, host) in cases {
            assert_eq!(of_authority(authority).as_deref(), host, "{authority}");
        }
    }

    #[test]
    fn exact_names_win_over_wildcards_which_match_one_label() {
        let rules = ["*.localhost", "docs.localhost", "*.docs.localhost", "other"];
        let cases = [
            ("docs.localhost", Some(1)),
            ("api.localhost", Some(0)),
            ("v1.docs.localhost", Some(2)),
            ("a.b.localhost", None),
            ("localhost", None),
            (".localhost", None),
            ("other", Some(3)),
            ("xother", None),
            ("notlocalhost", None),
        ];
        for (host, want) in cases {
            assert_eq!(select(rules, host), want, "{host}");
        }
        assert!(matches("*.localhost", "a.localhost"));
        assert!(!matches("*.localhost", "alocalhost"));
    }
}
